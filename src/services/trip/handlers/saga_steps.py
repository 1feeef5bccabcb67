"""The saga's Lambda tasks: each takes the whole execution input (with the state machine's `saga.execution_id`)
and returns {trip_id, entity, status, version, outcome[, reason]}.

Handler names (CONTRACT.md): reserve_flight, reserve_hotel, process_payment, cancel_flight, cancel_hotel,
refund_payment; each is the task of the state of the same name in CamelCase (infra/saga.py). A refusal
(`bookings.SagaStepError`) is raised with that state's name in its message, which the state machine makes the
execution's cause: `ReserveHotel: hotel_details.check_in_date: day is out of range for month`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.trip import bookings
from services.trip.adapters.trip_table import TripTable
from services.trip.config import saga_settings
from services.trip.dynamodb_values import dynamodb_resource

logger = Logger()

Command = Callable[[Mapping[str, Any], bookings.TripItems], bookings.StepResult]
Handler = Callable[[dict[str, Any], LambdaContext], bookings.StepResult]


@cache
def trip_table() -> TripTable:
    """TripTable (`TABLE_NAME`), as every function that writes it sees it: the steps and ExecutionEnded."""
    return TripTable(dynamodb_resource().Table(saga_settings().table_name))


def _saga_step(state_name: str, command: Command) -> Handler:
    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: LambdaContext) -> bookings.StepResult:
        try:
            result = command(event, trip_table())
        except bookings.SagaStepError as refused:
            refused.step = state_name
            logger.info(f"{state_name} refused", extra={"error": type(refused).__name__, "cause": str(refused)})
            raise
        logger.info(f"{state_name} done", extra=dict(result))
        return result

    return handler


reserve_flight = _saga_step("ReserveFlight", bookings.reserve_flight)
reserve_hotel = _saga_step("ReserveHotel", bookings.reserve_hotel)
process_payment = _saga_step("ProcessPayment", bookings.process_payment)
cancel_flight = _saga_step("CancelFlight", bookings.cancel_flight)
cancel_hotel = _saga_step("CancelHotel", bookings.cancel_hotel)
refund_payment = _saga_step("RefundPayment", bookings.refund_payment)
