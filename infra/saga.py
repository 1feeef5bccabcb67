"""The booking saga: a Step Functions state machine over the six step functions, which alone write TripTable.

StartSaga records the execution id (`$.saga.execution_id`, from the context object: never the user's) that every
step writes as the holder of what it books. Forward: ReserveFlight -> ReserveHotel -> ProcessPayment. A step that
fails is compensated together with every step before it, in reverse order; the failed step itself too, because
it may have written before failing (a timeout after the write) and a compensation changes only what this
execution holds. Only a ReserveFlight whose input is invalid goes straight to the end: nothing can have been
written for a trip the input does not identify. The execution then fails with the step's own error and message
(`ReserveHotel: hotel_details.check_in_date: day is out of range for month`) when a step refused, or with the
error's name and a fixed cause otherwise: never a stack trace.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.lambda_function import LOG_RETENTION, FunctionFactory
from infra.nag import acknowledge, arn_finding
from services.trip.bookings import (
    BookingContended,
    BookingValidationError,
    ExecutionCompensated,
    PaymentValidationError,
    SagaStepError,
    TripAlreadyBooked,
    UnreadableBooking,
)

HANDLER_MODULE = "services.trip.handlers.saga_steps"
EXECUTION_TIMEOUT = Duration.minutes(5)
# The steps' refusals: Lambda errors whose message is written for the user (bookings.SagaStepError).
REFUSALS: tuple[type[SagaStepError], ...] = (
    BookingValidationError,
    PaymentValidationError,
    TripAlreadyBooked,
    BookingContended,
    UnreadableBooking,
    ExecutionCompensated,
)


class Saga(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: FunctionFactory,
        trip_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self._functions = functions
        self._trip_table = trip_table
        self.step_functions: list[lambda_.Function] = []

        reserve_flight = self._step("ReserveFlight", "reserve_flight", "$.results.flight")
        reserve_hotel = self._step("ReserveHotel", "reserve_hotel", "$.results.hotel")
        process_payment = self._step("ProcessPayment", "process_payment", "$.results.payment")
        cancel_flight = self._compensation("CancelFlight", "cancel_flight", "$.compensations.flight")
        cancel_hotel = self._compensation("CancelHotel", "cancel_hotel", "$.compensations.hotel")
        refund_payment = self._compensation("RefundPayment", "refund_payment", "$.compensations.payment")

        start = sfn.Pass(
            self,
            "StartSaga",
            comment="The execution id every step records as the holder of what it books",
            parameters={"execution_id.$": "$$.Execution.Id"},
            result_path="$.saga",
        )
        end = self._failure()
        # A compensation that still fails after its retries must not abandon the ones after it.
        for compensation, following in ((refund_payment, cancel_hotel), (cancel_hotel, cancel_flight)):
            compensation.next(following)
            compensation.add_catch(following, errors=[sfn.Errors.ALL], result_path="$.compensation_error")
        cancel_flight.next(end)
        cancel_flight.add_catch(end, errors=[sfn.Errors.ALL], result_path="$.compensation_error")
        # The error is kept beside the execution input, which the compensations still need whole.
        reserve_flight.add_catch(end, errors=[BookingValidationError.__name__], result_path="$.error")
        reserve_flight.add_catch(cancel_flight, errors=[sfn.Errors.ALL], result_path="$.error")
        reserve_hotel.add_catch(cancel_hotel, errors=[sfn.Errors.ALL], result_path="$.error")
        process_payment.add_catch(refund_payment, errors=[sfn.Errors.ALL], result_path="$.error")
        booked = sfn.Succeed(self, "Booked")

        self.state_machine = sfn.StateMachine(
            self,
            "TripSaga",
            definition_body=sfn.DefinitionBody.from_chainable(
                start.next(reserve_flight).next(reserve_hotel).next(process_payment).next(booked)
            ),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=EXECUTION_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(
                    self, "TripSagaLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
                ),
                level=sfn.LogLevel.ALL,
                # Booking details stay in the execution history; the logs keep the flow, not the data.
                include_execution_data=False,
            ),
        )

        acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:*LogDelivery, resource policies) and X-Ray accept no "
            "resource-level scope",
        )
        for function in self.step_functions:
            acknowledge(
                self.state_machine.role,
                arn_finding(function, ":*"),
                f"LambdaInvoke grants {function.node.id} and its versions and aliases, nothing else",
            )

    def _failure(self) -> sfn.Choice:
        """The end of a failed execution: its error and cause are the step's, without the stack trace."""
        refused = sfn.Fail(
            self, "BookingRefused", error_path="$.refusal.Error", cause_path="$.refusal.Cause.errorMessage"
        )
        read_refusal = sfn.Pass(
            self,
            "ReadRefusal",
            parameters={"Error.$": "$.error.Error", "Cause.$": "States.StringToJson($.error.Cause)"},
            result_path="$.refusal",
        ).next(refused)
        failed = sfn.Fail(
            self,
            "BookingFailed",
            error_path="$.error.Error",
            cause="A saga step failed unexpectedly; the steps this execution took were compensated in reverse "
            "order. The step's error is in the execution history.",
        )
        compensation_failed = sfn.Fail(
            self,
            "CompensationFailed",
            error="CompensationFailed",
            cause="A compensation still failed after its retries: this execution may still hold items of the "
            "trip. The execution history holds the errors.",
        )
        return (
            sfn.Choice(self, "DescribeFailure")
            .when(sfn.Condition.is_present("$.compensation_error"), compensation_failed)
            .when(
                sfn.Condition.or_(
                    *(sfn.Condition.string_equals("$.error.Error", refusal.__name__) for refusal in REFUSALS)
                ),
                read_refusal,
            )
            .otherwise(failed)
        )

    def _compensation(self, construct_id: str, handler: str, result_path: str) -> tasks.LambdaInvoke:
        """A compensation step: retried on any error, with backoff (a throttled write, a timeout), since it
        changes only this execution's items and is idempotent."""
        step = self._step(construct_id, handler, result_path)
        step.add_retry(errors=[sfn.Errors.ALL], interval=Duration.seconds(1), max_attempts=3, backoff_rate=2)
        return step

    def _step(self, construct_id: str, handler: str, result_path: str) -> tasks.LambdaInvoke:
        function = self._functions.function(
            self,
            construct_id,
            handler=f"{HANDLER_MODULE}.{handler}",
            description=f"Saga step {construct_id}: writes its TripTable item",
            service="trip-saga",
            environment={"TABLE_NAME": self._trip_table.table_name},
        )
        self._trip_table.grant_read_write_data(function)
        self.step_functions.append(function)
        # payload_response_only: the Task's Resource is the function ARN and its payload the state input
        # (the execution input plus earlier results). Retries cover Lambda service errors only
        # (retry_on_service_exceptions); a step's own error, such as PaymentValidationError, is never retried.
        return tasks.LambdaInvoke(
            self,
            f"{construct_id}Task",
            state_name=construct_id,
            lambda_function=function,
            payload_response_only=True,
            result_path=result_path,
        )
