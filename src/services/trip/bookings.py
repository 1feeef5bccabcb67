"""The saga's commands on TripTable: reserve flight and hotel, take payment, and their compensations.

Every reservation carries a semantic lock: the Step Functions execution that made it (`EntityState.holder`, the
item's `held_by`). The state machine passes the execution id (`saga.execution_id`, from the context object, never
from user input); the commands use it so that one execution changes only what it booked:

- a forward step creates its item, or finds it already held by this execution (a retry: returned unchanged, never
  a second version bump), or finds another holder's booking: a booking that stands (CONFIRMED / COMPLETED, or any
  status but a compensated one) refuses with `TripAlreadyBooked` before writing; a compensated one (CANCELLED /
  REFUNDED) is taken over: a new booking of the same item, version + 1;
- an execution that has begun compensating is *fenced*: the first thing each compensation does is write the
  execution's fence item, and every forward write is one transaction with the check that the fence is absent, so
  an attempt of a compensated execution (still running when Step Functions gave up on it) never leaves a standing
  booking, whoever holds the item when it lands: it fails `ExecutionCompensated`, writing nothing;
- a compensation moves this execution's item to its compensated status, leaves this execution's compensated item
  as it is (a retry), and records the compensation as this execution's item only where no item exists (the
  hands-on's 7.4: a refund of a payment never taken); any other item (another holder's, compensated or not, or
  unreadable) it leaves alone, writing nothing, and says so in its result (`held_by_another` and a reason).

Items written by other writers carry no holder: they are another holder's (they block while they stand, are taken
over once compensated, and are never compensated by a saga). An item whose `version` is not a whole number or
whose `status` is not a string breaks the writer contract: a forward step refuses it (`UnreadableBooking`), a
compensation leaves it alone.

Every value the saga writes is one DynamoDB and the search index can hold (`The saga's input` in docs/design.md):
bounded strings, a hotel name whose index key fits a GSI key, an amount DynamoDB can store; and ReserveFlight, the
first writer, refuses an input too large to carry the saga to its end within Step Functions' 256 KiB state quota
(`saga_state`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, NamedTuple, NotRequired, Protocol, TypedDict, TypeVar

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError

from services.trip import dynamodb_values, saga_state, schema, times, trip_ids
from services.trip.changes import Entity


class BookingStatus(StrEnum):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"
    REFUNDED = "REFUNDED"


# A booking in one of these statuses was compensated: a later execution may book the item again.
COMPENSATED_STATUSES = frozenset({BookingStatus.CANCELLED, BookingStatus.REFUNDED})


class StepOutcome(StrEnum):
    """What a step did, in its result."""

    RESERVED = "reserved"  # created the item, held by this execution
    REBOOKED = "rebooked"  # took over an item whose earlier booking was compensated
    COMPENSATED = "compensated"  # moved this execution's item to CANCELLED / REFUNDED
    RECORDED = "recorded"  # found nothing of this execution's: recorded the compensation as its item
    UNCHANGED = "unchanged"  # this execution's item was already where the step leaves it (a retry)
    HELD_BY_ANOTHER = "held_by_another"  # a compensation found another holder's standing booking and left it


@dataclass(frozen=True)
class EntityState:
    """A TripTable item as the commands see it."""

    entity: Entity
    status: str  # "" when the item's status is not a string
    version: int | None  # None when the item's version is not a whole number
    holder: str | None  # the execution id holding the item; None: written by another writer
    created_at: str | None  # the item's generation, kept when the item is taken over

    @property
    def readable(self) -> bool:
        """The item keeps the writer contract's `version` and `status`."""
        return self.version is not None and bool(self.status)


class Attempt(NamedTuple):
    """A guarded write's answer: the item as it now stands (None: absent) and whether this write changed it."""

    state: EntityState | None
    wrote: bool


class StepResult(TypedDict):
    trip_id: str
    entity: str
    status: str
    version: int | None  # None: the item's version is unreadable (another writer's)
    outcome: str  # a StepOutcome
    reason: NotRequired[str]  # why a compensation left the item alone


class TripItems(Protocol):
    """The guarded writes the commands need; `adapters.trip_table.TripTable` implements them on DynamoDB, each
    as one conditional request."""

    def fence(self, trip_id: str, holder: str) -> None:
        """Write, idempotently, the fence of `holder`'s execution: no forward write of it lands afterwards."""
        ...

    def create(self, trip_id: str, entity: Entity, status: str, attributes: Mapping[str, Any], holder: str) -> Attempt:
        """Write the item at version 1, held by `holder`, unless it exists; the state is never None. Raises
        `ExecutionCompensated`, writing nothing, when `holder`'s execution is fenced."""
        ...

    def record(self, trip_id: str, entity: Entity, status: str, attributes: Mapping[str, Any], holder: str) -> Attempt:
        """A compensation's `create`: the same write, without the fence check (it runs after the fence)."""
        ...

    def take_over(
        self, trip_id: str, seen: EntityState, status: str, attributes: Mapping[str, Any], holder: str
    ) -> Attempt:
        """Replace the item, if it is still as `seen` (version, status, generation and holder), by a booking held
        by `holder` at `seen.version + 1` with `seen.created_at`; `seen` must be readable. Raises
        `ExecutionCompensated`, writing nothing, when `holder`'s execution is fenced."""
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
        return saga_state.clipped(f"{self.step}: {message}" if self.step else message, saga_state.MESSAGE_LIMIT)


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


class ExecutionCompensated(SagaStepError):
    """A forward attempt of an execution whose compensation has begun (its fence exists): it writes nothing, so
    a late attempt never leaves a standing booking."""

    def __init__(self, trip_id: str, entity: Entity, holder: str) -> None:
        super().__init__(
            f"trip {trip_id}: execution {holder} is being compensated: its late {entity.lower()} attempt wrote nothing"
        )


class BookingContended(SagaStepError):
    """The item kept changing under the step (deleted, re-created, taken over) while it tried to book it."""


class UnreadableBooking(SagaStepError):
    """Another writer's item lacks a whole-number `version` or a string `status`: no saga can tell whether it
    stands. Nothing was written."""

    def __init__(self, trip_id: str, seen: EntityState) -> None:
        super().__init__(
            f"trip {trip_id}: its {seen.entity.lower()} item breaks the writer contract "
            "(version must be a whole number, status a string): it cannot be booked over"
        )


# A booking's short fields: far below DynamoDB's 400 KB item, so that a trip's three items fit one search document.
SHORT_TEXT_LIMIT = 256  # characters: flight_number, currency
EXECUTION_ID_LIMIT = 256  # Step Functions' executionArn is at most 256 characters
FENCE_SORT_KEY_BYTES = schema.SORT_KEY_BYTES  # the fence's SK, SAGA#<execution_id>


def _storable(amount: Decimal) -> Decimal:
    """An amount DynamoDB can hold (`dynamodb_values.number`): boto3 refuses to send any other."""
    try:
        return dynamodb_values.number(str(amount))
    except dynamodb_values.NotADynamoDBNumber:
        raise ValueError(
            "is not a number DynamoDB can hold: at most 38 significant digits, magnitude 1E-130 to 9.99...E+125"
        ) from None


def _fence_keyable(execution_id: str) -> str:
    size = schema.key_bytes(f"SAGA#{execution_id}")
    if size > FENCE_SORT_KEY_BYTES:
        raise ValueError(
            f"its fence key SAGA#<execution_id> is {size:,} bytes in UTF-8, over the {FENCE_SORT_KEY_BYTES:,} bytes "
            "DynamoDB allows a sort key"
        )
    return execution_id


Text = Annotated[str, Field(min_length=1)]
ShortText = Annotated[str, Field(min_length=1, max_length=SHORT_TEXT_LIMIT)]
ExecutionId = Annotated[str, Field(min_length=1, max_length=EXECUTION_ID_LIMIT), AfterValidator(_fence_keyable)]
# Stored in their canonical forms (`times`, `trip_ids`): the index compares the strings, the API finds the ids.
LocalDateTime = Annotated[str, AfterValidator(times.local_date_time)]
CalendarDate = Annotated[str, AfterValidator(times.calendar_date)]
TripId = Annotated[str, AfterValidator(trip_ids.check_trip_id)]
Amount = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(_storable)]
_AMOUNT = TypeAdapter(Amount)


class SagaContext(BaseModel):
    """What the state machine adds to the execution input (`$.saga`), overwriting anything the user sent there."""

    execution_id: ExecutionId  # $$.Execution.Id: the execution's ARN


class TripRequest(BaseModel):
    trip_id: TripId
    saga: SagaContext


class FlightDetails(BaseModel):
    flight_number: ShortText
    departure_time: LocalDateTime
    arrival_time: LocalDateTime


class HotelDetails(BaseModel):
    hotel_name: Text
    check_in_date: CalendarDate
    check_out_date: CalendarDate


class PaymentDetails(BaseModel):
    amount: Annotated[Amount, Field(gt=0)]
    currency: ShortText


class FlightRequest(TripRequest):
    flight_details: FlightDetails


class HotelRequest(TripRequest):
    hotel_details: HotelDetails


class PaymentRequest(TripRequest):
    payment_details: PaymentDetails


def reserve_flight(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(FlightRequest, event, BookingValidationError)
    # The first writer: an input that cannot carry the saga to its end is refused before anything is written.
    size = saga_state.input_size(event)
    if size > saga_state.INPUT_BUDGET:
        raise BookingValidationError(
            "event",
            f"the execution input is {size:,} bytes as JSON; with what the saga adds (at most "
            f"{saga_state.WORST_CASE_ADDITIONS:,} bytes) the state would exceed Step Functions' 256 KiB quota "
            f"(262,144 bytes): at most {saga_state.INPUT_BUDGET:,} bytes",
        )
    return _reserve(items, request, Entity.FLIGHT, BookingStatus.CONFIRMED, request.flight_details)


def reserve_hotel(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(HotelRequest, event, BookingValidationError)
    # Its order key in the hotel-name index (schema.SearchIndex) holds the trip id too: checked with the trip's.
    name_key = schema.hotel_name_search_key(request.hotel_details.hotel_name)
    if not name_key:
        raise BookingValidationError(
            "hotel_details.hotel_name",
            "holds nothing a hotel name is searched by (only accents or U+0000): no search could find it",
        )
    key = schema.order_key(name_key, request.trip_id)
    if (size := schema.key_bytes(key)) > schema.SORT_KEY_BYTES:
        raise BookingValidationError(
            "hotel_details.hotel_name",
            f"its search key (the folded name, U+0000 and the trip id) is {size} bytes in UTF-8, over the "
            f'{schema.SORT_KEY_BYTES} bytes DynamoDB allows an index sort key (AWS, "Constraints in Amazon '
            'DynamoDB"): shorten the name',
        )
    return _reserve(items, request, Entity.HOTEL, BookingStatus.CONFIRMED, request.hotel_details)


def process_payment(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(PaymentRequest, event, PaymentValidationError)
    return _reserve(items, request, Entity.PAYMENT, BookingStatus.COMPLETED, request.payment_details)


def cancel_flight(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(TripRequest, event, BookingValidationError)
    return _compensate(items, request, Entity.FLIGHT, BookingStatus.CONFIRMED, BookingStatus.CANCELLED, {})


def cancel_hotel(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(TripRequest, event, BookingValidationError)
    return _compensate(items, request, Entity.HOTEL, BookingStatus.CONFIRMED, BookingStatus.CANCELLED, {})


def refund_payment(event: Mapping[str, Any], items: TripItems) -> StepResult:
    request = _parse(TripRequest, event, BookingValidationError)
    never_taken = _refund_of_payment_never_taken(event)
    return _compensate(items, request, Entity.PAYMENT, BookingStatus.COMPLETED, BookingStatus.REFUNDED, never_taken)


# The compensations in the state machine's order (RefundPayment -> CancelHotel -> CancelFlight): what releases an
# execution's whole booking when it ended without running them (`ended_executions`).
COMPENSATIONS: tuple[Callable[[Mapping[str, Any], TripItems], StepResult], ...] = (
    refund_payment,
    cancel_hotel,
    cancel_flight,
)

# Each round either decides or finds that another writer changed the item since the round began.
_BOOKING_ROUNDS = 4


def _reserve(items: TripItems, request: TripRequest, entity: Entity, status: str, details: BaseModel) -> StepResult:
    holder, attributes = _holder(request), details.model_dump()
    for _ in range(_BOOKING_ROUNDS):
        found = items.create(request.trip_id, entity, status, attributes, holder)
        state = _stands(found)
        if state.holder == holder:
            return _result(request.trip_id, state, StepOutcome.RESERVED if found.wrote else StepOutcome.UNCHANGED)
        if not state.readable:
            raise UnreadableBooking(request.trip_id, state)
        if state.status not in COMPENSATED_STATUSES:
            raise TripAlreadyBooked(request.trip_id, state)
        taken = items.take_over(request.trip_id, state, status, attributes, holder)
        if taken.wrote:
            return _result(request.trip_id, _stands(taken), StepOutcome.REBOOKED)
    raise BookingContended(f"trip {request.trip_id}: its {entity.lower()} kept changing while it was being booked")


def _compensate(
    items: TripItems,
    request: TripRequest,
    entity: Entity,
    source: str,
    target: str,
    record: Mapping[str, Any],
) -> StepResult:
    """Fence this execution, then compensate its `entity`: `source` -> `target` if it holds it; leave its
    compensated item; `record` the compensation as its item only where no item exists; leave anything else."""
    holder = _holder(request)
    items.fence(request.trip_id, holder)
    for _ in range(_BOOKING_ROUNDS):
        moved = items.transition(request.trip_id, entity, source, target, holder)
        state = moved.state
        if moved.wrote:
            return _result(request.trip_id, _stands(moved), StepOutcome.COMPENSATED)
        if state is None:
            recorded = items.record(request.trip_id, entity, target, record, holder)
            if recorded.wrote:
                return _result(request.trip_id, _stands(recorded), StepOutcome.RECORDED)
            continue  # another writer created it between the two requests: look again
        if state.holder == holder:
            return _result(request.trip_id, state, StepOutcome.UNCHANGED)
        result = _result(request.trip_id, state, StepOutcome.HELD_BY_ANOTHER)
        result["reason"] = saga_state.clipped(
            f"held by {state.holder or 'another writer'}, not by this execution: left unchanged",
            saga_state.REASON_LIMIT,
        )
        return result
    raise BookingContended(f"trip {request.trip_id}: its {entity.lower()} kept changing while it was compensated")


def _holder(request: TripRequest) -> str:
    return request.saga.execution_id


def _stands(attempt: Attempt) -> EntityState:
    assert attempt.state is not None, "a write that reports success, or a refused create, returns the item"
    return attempt.state


def _refund_of_payment_never_taken(event: Mapping[str, Any]) -> dict[str, Any]:
    """What the request said, as far as it is well-formed and DynamoDB can hold it: a compensation must not fail on
    the bad input that made the payment fail (the hands-on's 7.4 sends amount "-1"; an amount of 39 digits is left
    out)."""
    details = event.get("payment_details")
    if not isinstance(details, Mapping):
        return {}
    record: dict[str, Any] = {}
    with suppress(ValidationError):
        record["amount"] = _AMOUNT.validate_python(details.get("amount"))
    currency = details.get("currency")
    if isinstance(currency, str) and 0 < len(currency) <= SHORT_TEXT_LIMIT:
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
        "status": saga_state.clipped(state.status, saga_state.STATUS_LIMIT),  # another writer's may be long
        "version": state.version,
        "outcome": outcome,
    }
