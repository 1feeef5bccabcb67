"""The booking saga: a Step Functions state machine over the six step functions, which alone write TripTable.

Forward: ReserveFlight -> ReserveHotel -> ProcessPayment. A step that fails is compensated together with every
step before it, in reverse order; the failed step itself too, because it may have written before failing (a
timeout after the write) and compensations are safe when nothing was written.
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

HANDLER_MODULE = "services.trip.handlers.saga_steps"
EXECUTION_TIMEOUT = Duration.minutes(5)


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
        cancel_flight = self._step("CancelFlight", "cancel_flight", "$.compensations.flight")
        cancel_hotel = self._step("CancelHotel", "cancel_hotel", "$.compensations.hotel")
        refund_payment = self._step("RefundPayment", "refund_payment", "$.compensations.payment")

        failed = sfn.Fail(
            self,
            "BookingFailed",
            error="TripBookingFailed",
            cause="A saga step failed; the steps taken were compensated in reverse order",
        )
        cancel_flight.next(failed)
        cancel_hotel.next(cancel_flight)
        refund_payment.next(cancel_hotel)
        # The error is kept beside the execution input, which the compensations still need whole.
        reserve_flight.add_catch(cancel_flight, errors=[sfn.Errors.ALL], result_path="$.error")
        reserve_hotel.add_catch(cancel_hotel, errors=[sfn.Errors.ALL], result_path="$.error")
        process_payment.add_catch(refund_payment, errors=[sfn.Errors.ALL], result_path="$.error")
        booked = sfn.Succeed(self, "Booked")

        self.state_machine = sfn.StateMachine(
            self,
            "TripSaga",
            definition_body=sfn.DefinitionBody.from_chainable(
                reserve_flight.next(reserve_hotel).next(process_payment).next(booked)
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
