"""The saga's commands on TripTable: reserve flight and hotel, take payment, and their compensations.

Step Functions retries a task, so each command is a guarded step, not a blind write: create the item if it is
absent, or move it from one status to the next. A retried or late command finds the item already past that
point and returns it unchanged: never a second version bump, never undoing a later step.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Protocol, TypedDict, TypeVar

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError

from services.trip import times, trip_ids
from services.trip.changes import Entity


class BookingStatus(StrEnum):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"
    REFUNDED = "REFUNDED"
    NOT_RESERVED = "NOT_RESERVED"  # reported by a cancel that found nothing to cancel; never stored


@dataclass(frozen=True)
class EntityState:
    entity: Entity
    status: str
    version: int


class StepResult(TypedDict):
    trip_id: str
    entity: str
    status: str
    version: int  # 0: the step found no item and wrote none


class TripItems(Protocol):
    """The guarded writes the commands need; `adapters.trip_table.TripTable` implements them on DynamoDB."""

    def create(self, trip_id: str, entity: Entity, status: str, attributes: Mapping[str, Any]) -> EntityState:
        """Write the item at version 1 unless it exists; return the item as it now stands."""
        ...

    def transition(self, trip_id: str, entity: Entity, source: str, target: str) -> EntityState | None:
        """Move the item from `source` to `target` (version + 1); else return it unchanged, None if absent."""
        ...


class BookingValidationError(ValueError):
    """The step's input cannot be booked; `field` names the offending input field (dotted path)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class PaymentValidationError(BookingValidationError):
    """Its class name is the Lambda errorType the state machine catches to compensate."""


Text = Annotated[str, Field(min_length=1)]
# Stored in their canonical forms (`times`, `trip_ids`): the index compares the strings, the API finds the ids.
LocalDateTime = Annotated[str, AfterValidator(times.local_date_time)]
CalendarDate = Annotated[str, AfterValidator(times.calendar_date)]
TripId = Annotated[str, AfterValidator(trip_ids.check_trip_id)]
Amount = Annotated[Decimal, Field(allow_inf_nan=False)]
_AMOUNT = TypeAdapter(Amount)


class TripRequest(BaseModel):
    trip_id: TripId


class FlightDetails(BaseModel):
    flight_number: Text
    departure_time: LocalDateTime
    arrival_time: LocalDateTime


class HotelDetails(BaseModel):
    hotel_name: Text
    check_in_date: CalendarDate
    check_out_date: CalendarDate


class PaymentDetails(BaseModel):
    amount: Annotated[Amount, Field(gt=0)]
    currency: Text


class FlightRequest(TripRequest):
    flight_details: FlightDetails


class HotelRequest(TripRequest):
    hotel_details: HotelDetails


class PaymentRequest(TripRequest):
    payment_details: PaymentDetails


def reserve_flight(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(FlightRequest, event, BookingValidationError)
    return _create(items, request.trip_id, Entity.FLIGHT, BookingStatus.CONFIRMED, request.flight_details)


def reserve_hotel(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(HotelRequest, event, BookingValidationError)
    return _create(items, request.trip_id, Entity.HOTEL, BookingStatus.CONFIRMED, request.hotel_details)


def process_payment(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(PaymentRequest, event, PaymentValidationError)
    return _create(items, request.trip_id, Entity.PAYMENT, BookingStatus.COMPLETED, request.payment_details)


def cancel_flight(event: Mapping[str, Any], items: TripItems) -> StepResult:
    return _compensate(items, _trip_id(event), Entity.FLIGHT, BookingStatus.CONFIRMED, BookingStatus.CANCELLED)


def cancel_hotel(event: Mapping[str, Any], items: TripItems) -> StepResult:
    return _compensate(items, _trip_id(event), Entity.HOTEL, BookingStatus.CONFIRMED, BookingStatus.CANCELLED)


def refund_payment(event: Mapping[str, Any], items: TripItems) -> StepResult:
    trip_id = _trip_id(event)
    # Recording the refund first, then refunding a taken payment, leaves no gap in which a late payment could
    # land unrefunded: once the item exists only `transition` changes it.
    state = items.create(trip_id, Entity.PAYMENT, BookingStatus.REFUNDED, _refund_of_payment_never_taken(event))
    if state.status == BookingStatus.COMPLETED:
        return _compensate(items, trip_id, Entity.PAYMENT, BookingStatus.COMPLETED, BookingStatus.REFUNDED)
    return _result(trip_id, state)


def _create(items: TripItems, trip_id: str, entity: Entity, status: str, details: BaseModel) -> StepResult:
    return _result(trip_id, items.create(trip_id, entity, status, details.model_dump()))


def _compensate(items: TripItems, trip_id: str, entity: Entity, source: str, target: str) -> StepResult:
    state = items.transition(trip_id, entity, source, target)
    if state is None:
        return {"trip_id": trip_id, "entity": entity, "status": BookingStatus.NOT_RESERVED, "version": 0}
    return _result(trip_id, state)


def _refund_of_payment_never_taken(event: Mapping[str, Any]) -> dict[str, Any]:
    """What the request said, as far as it is well-formed: a compensation must not fail on the bad input
    that made the payment fail (the seed's 7.4 sends amount "-1")."""
    details = event.get("payment_details")
    if not isinstance(details, Mapping):
        return {}
    record: dict[str, Any] = {}
    with suppress(ValidationError):
        record["amount"] = _AMOUNT.validate_python(details.get("amount"))
    currency = details.get("currency")
    if isinstance(currency, str) and currency:
        record["currency"] = currency
    return record


def _trip_id(event: Mapping[str, Any]) -> str:
    return _parse(TripRequest, event, BookingValidationError).trip_id


RequestT = TypeVar("RequestT", bound=BaseModel)


def _parse(model: type[RequestT], event: object, error: type[BookingValidationError]) -> RequestT:
    try:
        return model.model_validate(event)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        raise error(".".join(str(part) for part in first["loc"]) or "event", first["msg"]) from None


def _result(trip_id: str, state: EntityState) -> StepResult:
    return {"trip_id": trip_id, "entity": state.entity, "status": state.status, "version": state.version}
