"""The saga's commands on TripTable: reserve flight and hotel, take payment, and their compensations.

Every reservation carries a semantic lock: the Step Functions execution that made it (`EntityState.holder`, the
item's `held_by`). The state machine passes the execution id (`saga.execution_id`, from the context object, never
from user input); the commands use it so that one execution changes only what it booked:

- a forward step creates its item, or finds it already held by this execution (a retry: returned unchanged, never
  a second version bump, never undoing a later compensation), or finds another holder's booking: a booking that
  stands (CONFIRMED / COMPLETED, or any status but a compensated one) refuses with `TripAlreadyBooked` before
  writing; a compensated one (CANCELLED / REFUNDED) is taken over: a new booking of the same item, version + 1;
- a compensation changes the item only if this execution holds it, and otherwise writes nothing and says why.

Items written by other writers carry no holder: they are another holder's (they block while they stand, are taken
over once compensated, and are never compensated by a saga).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, NamedTuple, NotRequired, Protocol, TypedDict, TypeVar

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError

from services.trip.changes import Entity


class BookingStatus(StrEnum):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"
    REFUNDED = "REFUNDED"
    NOT_RESERVED = "NOT_RESERVED"  # reported by a cancel that found nothing to cancel; never stored


# A booking in one of these statuses was compensated: a later execution may book the item again.
COMPENSATED_STATUSES = frozenset({BookingStatus.CANCELLED, BookingStatus.REFUNDED})


class StepOutcome(StrEnum):
    """What a step did, in its result."""

    RESERVED = "reserved"  # created the item, held by this execution
    REBOOKED = "rebooked"  # took over an item whose earlier booking was compensated
    COMPENSATED = "compensated"  # moved this execution's item to CANCELLED / REFUNDED
    UNCHANGED = "unchanged"  # this execution's item was already where the step leaves it (a retry)
    NOT_RESERVED = "not_reserved"  # a compensation found no item
    HELD_BY_ANOTHER = "held_by_another"  # a compensation found another holder's item and left it alone


@dataclass(frozen=True)
class EntityState:
    """A TripTable item as the commands see it."""

    entity: Entity
    status: str
    version: int
    holder: str | None  # the execution id holding the item; None: written by another writer
    created_at: str | None  # the item's generation, kept when the item is taken over


class Attempt(NamedTuple):
    """A guarded write's answer: the item as it now stands (None: absent) and whether this write changed it."""

    state: EntityState | None
    wrote: bool


class StepResult(TypedDict):
    trip_id: str
    entity: str
    status: str
    version: int  # 0: the step found no item and wrote none
    outcome: str  # a StepOutcome
    reason: NotRequired[str]  # why a compensation left the item alone


class TripItems(Protocol):
    """The guarded writes the commands need; `adapters.trip_table.TripTable` implements them on DynamoDB, each
    as one conditional request."""

    def create(self, trip_id: str, entity: Entity, status: str, attributes: Mapping[str, Any], holder: str) -> Attempt:
        """Write the item at version 1, held by `holder`, unless it exists; the state is never None."""
        ...

    def take_over(
        self, trip_id: str, seen: EntityState, status: str, attributes: Mapping[str, Any], holder: str
    ) -> Attempt:
        """Replace the item, if it is still as `seen` (version and status), by a booking held by `holder` at
        `seen.version + 1` with `seen.created_at`."""
        ...

    def transition(self, trip_id: str, entity: Entity, source: str, target: str, holder: str) -> Attempt:
        """Move the item from `source` to `target` (version + 1) if `holder` holds it."""
        ...


class SagaStepError(Exception):
    """A step's refusal; its class name is the Lambda errorType the state machine reports as the execution's
    error, and its message (prefixed with the state's name once `step` is set) as the cause."""

    step: str | None = None

    def __str__(self) -> str:
        message = super().__str__()
        return f"{self.step}: {message}" if self.step else message


class BookingValidationError(SagaStepError, ValueError):
    """The step's input cannot be booked; `field` names the offending input field (dotted path). Nothing was
    written."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class PaymentValidationError(BookingValidationError):
    """The payment cannot be taken; the state machine refunds (records the refund of a payment never taken)."""


class TripAlreadyBooked(SagaStepError):
    """The entity is held by another execution (or writer) whose booking stands. Nothing was written."""

    def __init__(self, trip_id: str, seen: EntityState) -> None:
        holder = f"execution {seen.holder}" if seen.holder else "another writer (no saga execution recorded)"
        super().__init__(f"trip {trip_id}: its {seen.entity.lower()} is booked ({seen.status}) by {holder}")
        self.trip_id, self.entity, self.holder = trip_id, seen.entity, seen.holder


class BookingContended(SagaStepError):
    """The item kept changing under the step (deleted, re-created, taken over) while it tried to book it."""


def _iso_datetime(value: str) -> str:
    datetime.fromisoformat(value)  # departure/arrival times are searched as ISO-8601 strings
    return value


def _iso_date(value: str) -> str:
    date.fromisoformat(value)
    return value


Text = Annotated[str, Field(min_length=1)]
Amount = Annotated[Decimal, Field(allow_inf_nan=False)]
_AMOUNT = TypeAdapter(Amount)


class SagaContext(BaseModel):
    """What the state machine adds to the execution input (`$.saga`), overwriting anything the user sent there."""

    execution_id: Text  # $$.Execution.Id: the execution's ARN


class TripRequest(BaseModel):
    trip_id: Text
    saga: SagaContext


class FlightDetails(BaseModel):
    flight_number: Text
    departure_time: Annotated[Text, AfterValidator(_iso_datetime)]
    arrival_time: Annotated[Text, AfterValidator(_iso_datetime)]


class HotelDetails(BaseModel):
    hotel_name: Text
    check_in_date: Annotated[Text, AfterValidator(_iso_date)]
    check_out_date: Annotated[Text, AfterValidator(_iso_date)]


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
    return _reserve(items, request, Entity.FLIGHT, BookingStatus.CONFIRMED, request.flight_details)


def reserve_hotel(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(HotelRequest, event, BookingValidationError)
    return _reserve(items, request, Entity.HOTEL, BookingStatus.CONFIRMED, request.hotel_details)


def process_payment(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(PaymentRequest, event, PaymentValidationError)
    return _reserve(items, request, Entity.PAYMENT, BookingStatus.COMPLETED, request.payment_details)


def cancel_flight(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(TripRequest, event, BookingValidationError)
    return _compensate(items, request, Entity.FLIGHT, BookingStatus.CONFIRMED, BookingStatus.CANCELLED)


def cancel_hotel(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(TripRequest, event, BookingValidationError)
    return _compensate(items, request, Entity.HOTEL, BookingStatus.CONFIRMED, BookingStatus.CANCELLED)


def refund_payment(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(TripRequest, event, BookingValidationError)
    # Recording the refund first, then refunding a taken payment, leaves no gap in which a late payment of this
    # execution could land unrefunded: once the item exists, the late payment finds it and leaves it alone.
    never_taken = _refund_of_payment_never_taken(event)
    recorded = items.create(request.trip_id, Entity.PAYMENT, BookingStatus.REFUNDED, never_taken, _holder(request))
    if recorded.wrote:
        return _result(request.trip_id, _stands(recorded), StepOutcome.COMPENSATED)
    return _compensate(items, request, Entity.PAYMENT, BookingStatus.COMPLETED, BookingStatus.REFUNDED)


# Each round either decides or finds that another writer changed the item since the round began.
_BOOKING_ROUNDS = 4


def _reserve(items: TripItems, request: TripRequest, entity: Entity, status: str, details: BaseModel) -> StepResult:
    holder, attributes = _holder(request), details.model_dump()
    for _ in range(_BOOKING_ROUNDS):
        found = items.create(request.trip_id, entity, status, attributes, holder)
        state = _stands(found)
        if state.holder == holder:
            return _result(request.trip_id, state, StepOutcome.RESERVED if found.wrote else StepOutcome.UNCHANGED)
        if state.status not in COMPENSATED_STATUSES:
            raise TripAlreadyBooked(request.trip_id, state)
        taken = items.take_over(request.trip_id, state, status, attributes, holder)
        if taken.wrote:
            return _result(request.trip_id, _stands(taken), StepOutcome.REBOOKED)
    raise BookingContended(f"trip {request.trip_id}: its {entity.lower()} kept changing while it was being booked")


def _compensate(items: TripItems, request: TripRequest, entity: Entity, source: str, target: str) -> StepResult:
    holder = _holder(request)
    attempt = items.transition(request.trip_id, entity, source, target, holder)
    state = attempt.state
    if state is None:
        return {
            "trip_id": request.trip_id,
            "entity": entity,
            "status": BookingStatus.NOT_RESERVED,
            "version": 0,
            "outcome": StepOutcome.NOT_RESERVED,
        }
    if attempt.wrote:
        return _result(request.trip_id, state, StepOutcome.COMPENSATED)
    if state.holder != holder:
        result = _result(request.trip_id, state, StepOutcome.HELD_BY_ANOTHER)
        result["reason"] = f"held by {state.holder or 'another writer'}, not by this execution: left unchanged"
        return result
    return _result(request.trip_id, state, StepOutcome.UNCHANGED)


def _holder(request: TripRequest) -> str:
    return request.saga.execution_id


def _stands(attempt: Attempt) -> EntityState:
    assert attempt.state is not None, "a write that reports success, or a refused create, returns the item"
    return attempt.state


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


RequestT = TypeVar("RequestT", bound=BaseModel)


def _parse(model: type[RequestT], event: object, error: type[BookingValidationError]) -> RequestT:
    try:
        return model.model_validate(event)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "event"
        # A validator's own ValueError reads better without pydantic's "Value error, " in front of it.
        cause = first.get("ctx", {}).get("error")
        raise error(field, str(cause) if isinstance(cause, ValueError) else first["msg"]) from None


def _result(trip_id: str, state: EntityState, outcome: StepOutcome) -> StepResult:
    return {
        "trip_id": trip_id,
        "entity": state.entity,
        "status": state.status,
        "version": state.version,
        "outcome": outcome,
    }
