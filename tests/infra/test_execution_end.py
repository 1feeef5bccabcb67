"""ExecutionEnded in the template: the rule on TripSaga's status changes, its target's retries and dead-letter
queue, the function's asynchronous retries and on-failure destination, the alarm, and what the function may do."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized
from tests.infra.template_queries import actions_of, function_id, logical_id, referenced_ids, statements_of

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

HANDLER = "services.trip.handlers.execution_ended.lambda_handler"


def ids(synthesized: Synthesized) -> tuple[str, str, str, str]:
    resources = synthesized.resources
    return (
        function_id(resources, HANDLER),
        logical_id(resources, "AWS::SQS::Queue", "UnreleasedExecutions"),
        logical_id(resources, "AWS::StepFunctions::StateMachine", "TripSaga"),
        logical_id(resources, "AWS::Events::Rule", "StatusChangeRule"),
    )


def test_the_rule_sends_this_state_machines_ends_without_catch_to_the_function_with_retries_and_a_dlq(
    synthesized: Synthesized,
) -> None:
    function, dlq, machine, _ = ids(synthesized)
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {"stateMachineArn": [{"Ref": machine}], "status": ["TIMED_OUT", "ABORTED", "FAILED"]},
            },
            "State": "ENABLED",
            "Targets": [
                {
                    "Arn": {"Fn::GetAtt": [function, "Arn"]},
                    "Id": Match.any_value(),
                    "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 21_600},
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}},
                }
            ],
        },
    )


def test_events_may_invoke_the_function_only_from_the_rule(synthesized: Synthesized) -> None:
    function, _, _, rule = ids(synthesized)
    synthesized.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule, "Arn"]},
        },
    )


def test_a_function_error_is_retried_twice_then_sent_to_the_same_dlq(synthesized: Synthesized) -> None:
    function, dlq, _, _ = ids(synthesized)
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function},
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21_600,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq, "Arn"]}}},
        },
    )


def test_the_dlq_is_encrypted_kept_14_days_and_alarmed(synthesized: Synthesized) -> None:
    _, dlq, _, _ = ids(synthesized)
    synthesized.template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 24 * 3600}
    )
    assert synthesized.resources[dlq]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
            "Statistic": "Maximum",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
        },
    )


def test_the_function_is_configured_with_the_trip_table_and_the_state_machine(synthesized: Synthesized) -> None:
    function, _, machine, _ = ids(synthesized)
    variables = synthesized.resources[function]["Properties"]["Environment"]["Variables"]
    trip_table = logical_id(synthesized.resources, "AWS::DynamoDB::Table", "DataTripTable")
    assert variables["TABLE_NAME"] == {"Ref": trip_table}
    assert variables["STATE_MACHINE_ARN"] == {"Ref": machine}


def test_the_function_writes_only_trip_table_describes_only_tripsagas_executions_and_sends_only_to_its_dlq(
    synthesized: Synthesized,
) -> None:
    function, dlq, machine, _ = ids(synthesized)
    statements = statements_of(synthesized.resources, function)
    by_service: dict[str, set[str]] = {}
    for statement in statements:
        for action in actions_of(statement):
            by_service.setdefault(action.split(":")[0], set()).update(referenced_ids(statement["Resource"]))
    trip_table = logical_id(synthesized.resources, "AWS::DynamoDB::Table", "DataTripTable")
    assert by_service["dynamodb"] == {trip_table}
    assert by_service["sqs"] == {dlq}
    assert set(by_service) == {"dynamodb", "sqs", "states", "logs", "xray"}
    [describe] = [s for s in statements if any(a.startswith("states:") for a in actions_of(s))]
    assert actions_of(describe) == ["states:DescribeExecution"]
    assert describe["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":states:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":execution:",
                {"Fn::GetAtt": [machine, "Name"]},
                ":*",
            ],
        ]
    }
