"""ExecutionEnded: what releases a TripSaga execution that ended without running its compensations (TIMED_OUT,
ABORTED, or FAILED with an error no Catch handles; `services.trip.ended_executions`).

An EventBridge rule on the default bus matches this state machine's "Step Functions Execution Status Change" events
with those statuses and invokes the function. Nothing is lost on the way, and each loss has one queue:

- EventBridge retries a delivery that fails (the function unavailable, throttled at the API) for up to
  `DELIVERY_RETRIES` attempts within `MAX_EVENT_AGE`, then sends the event to the target's dead-letter queue
  ("How EventBridge retries delivering events", Amazon EventBridge User Guide); that queue's policy lets the
  rule's ARN send, which CDK writes.
- EventBridge invokes a Lambda target asynchronously, so a function *error* is Lambda's to retry: up to
  `FUNCTION_RETRIES` more attempts (Lambda's own maximum, 2) within `MAX_EVENT_AGE`, then the function's
  on-failure destination, the same queue ("How Lambda handles errors and retries with asynchronous invocation",
  AWS Lambda Developer Guide). Its message wraps the event (`requestPayload`) with the error (`responsePayload`);
  an EventBridge dead letter is the event itself, with `ERROR_CODE` / `ERROR_MESSAGE` message attributes.

Any message in the queue is an execution that may still hold its bookings: `ExecutionEndDlqDepthAlarm`
(infra/monitoring.py). The function may write TripTable (as the saga's compensations do) and describe this state
machine's executions, nothing else.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.dead_letters import dead_letter_queue
from infra.lambda_function import FunctionFactory
from infra.nag import acknowledge, logical_id
from services.trip.ended_executions import DETAIL_TYPE, EVENT_SOURCE, RULE_STATUSES

HANDLER = "services.trip.handlers.execution_ended.lambda_handler"
DELIVERY_RETRIES = 10
FUNCTION_RETRIES = 2
# Well inside the 14 days a TripSaga execution can still be redriven, and long enough to ride out an outage.
MAX_EVENT_AGE = Duration.hours(6)


class ExecutionEnd(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        trip_table: dynamodb.ITable,
        state_machine: sfn.StateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dlq = dead_letter_queue(
            self,
            "UnreleasedExecutions",
            receives="the status changes its rule could not deliver and the invocations that failed every retry",
        )
        self.function = functions.function(
            self,
            "ExecutionEnded",
            handler=HANDLER,
            description="Fences a TripSaga execution that ended without its compensations and compensates it",
            service="trip-saga",
            environment={"TABLE_NAME": trip_table.table_name, "STATE_MACHINE_ARN": state_machine.state_machine_arn},
        )
        trip_table.grant_read_write_data(self.function)
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])
        )
        acknowledge(
            self.function.role or self.function,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"<{logical_id(state_machine)}.Name>:*]",
            "DescribeExecution of TripSaga's executions (any execution name), nothing else",
        )
        self.function.configure_async_invoke(
            retry_attempts=FUNCTION_RETRIES,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dlq),
        )
        self.rule = events.Rule(
            self,
            "StatusChangeRule",
            description="TripSaga executions that ended without running their compensations",
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE],
                detail_type=[DETAIL_TYPE],
                detail={"stateMachineArn": [state_machine.state_machine_arn], "status": list(RULE_STATUSES)},
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dlq,
                    retry_attempts=DELIVERY_RETRIES,
                    max_event_age=MAX_EVENT_AGE,
                )
            ],
        )
