"""The saga's Lambda tasks: each takes the whole execution input and returns {trip_id, entity, status, version}.

Handler names (CONTRACT.md): reserve_flight, reserve_hotel, process_payment, cancel_flight, cancel_hotel,
refund_payment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.trip import bookings
from services.trip.adapters.trip_table import TripTable
from services.trip.config import saga_settings

logger = Logger()

Command = Callable[[Mapping[str, Any], bookings.TripItems], bookings.StepResult]
Handler = Callable[[dict[str, Any], LambdaContext], bookings.StepResult]


@cache
def _trip_table() -> TripTable:
    return TripTable(boto3.resource("dynamodb").Table(saga_settings().table_name))


def _saga_step(command: Command) -> Handler:
    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: LambdaContext) -> bookings.StepResult:
        result = command(event, _trip_table())
        logger.info(f"{command.__name__} done", extra=dict(result))
        return result

    return handler


reserve_flight = _saga_step(bookings.reserve_flight)
reserve_hotel = _saga_step(bookings.reserve_hotel)
process_payment = _saga_step(bookings.process_payment)
cancel_flight = _saga_step(bookings.cancel_flight)
cancel_hotel = _saga_step(bookings.cancel_hotel)
refund_payment = _saga_step(bookings.refund_payment)
