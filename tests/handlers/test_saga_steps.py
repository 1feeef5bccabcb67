"""The saga steps on TripTable: the seed's 7.2 and 7.4 flows, idempotent retries, input validation, and the
semantic lock: an execution changes only what it booked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from services.trip import bookings, config
from services.trip.adapters.trip_table import TripTable
from services.trip.bookings import Attempt, BookingValidationError, PaymentValidationError, TripAlreadyBooked
from services.trip.handlers import saga_steps
from tests import factories as f

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

TRIP_ID = "trip-streams-001"
CONTEXT: Any = f.LambdaContext()  # a stand-in: only the attributes Powertools reads
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:TripSaga:first"
SECOND = "arn:aws:states:us-east-1:123456789012:execution:TripSaga:second"
FORWARD = ("reserve_flight", "reserve_hotel", "process_payment")
COMPENSATIONS = ("refund_payment", "cancel_hotel", "cancel_flight")


@pytest.fixture(autouse=True)
def fresh_settings_and_clients() -> Iterator[None]:
    yield
    config.saga_settings.cache_clear()
    saga_steps.trip_table.cache_clear()


def saga_input(
    trip_id: str = TRIP_ID, amount: Any = "80000", execution: str = EXECUTION, **overrides: Any
) -> dict[str, Any]:
    """The seed's Step Functions execution input (7.2) as every step receives it: with the state machine's
    `saga.execution_id`."""
    return {
        "trip_id": trip_id,
        "flight_details": {
            "flight_number": "NH001",
            "departure_time": "2026-03-15T10:00:00",
            "arrival_time": "2026-03-15T14:00:00",
            "price": {"amount": "50000", "currency": "JPY"},
        },
        "hotel_details": {
            "hotel_name": "Grand Hotel Tokyo",
            "check_in_date": "2026-03-15",
            "check_out_date": "2026-03-17",
            "price": {"amount": "30000", "currency": "JPY"},
        },
        "payment_details": {"amount": amount, "currency": "JPY"},
        "saga": {"execution_id": execution},
        **overrides,
    }


def step(name: str, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = getattr(saga_steps, name)(event, CONTEXT)
    return result


def outcome(entity: str, status: str, version: int, what: str) -> dict[str, Any]:
    return {"trip_id": TRIP_ID, "entity": entity, "status": status, "version": version, "outcome": what}


def trip_items(table: Any, trip_id: str = TRIP_ID) -> dict[str, dict[str, Any]]:
    """The trip's items by SK, each checked for UTC created_at/updated_at and returned without them."""
    items = table.query(
        KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": f"TRIP#{trip_id}"}, ConsistentRead=True
    )["Items"]
    items = [item for item in items if not item["SK"].startswith("SAGA#")]  # fences: saga bookkeeping
    for item in items:
        created_at, updated_at = (
            datetime.fromisoformat(item.pop("created_at")),
            datetime.fromisoformat(item.pop("updated_at")),
        )
        assert created_at.utcoffset() == updated_at.utcoffset() == UTC.utcoffset(None)
        assert created_at <= updated_at
    return {item.pop("SK"): item for item in items}


def statuses(table: Any) -> dict[str, tuple[str, int, str | None]]:
    """(status, version, holder) of each of the trip's items, by entity."""
    return {
        sk.split("#")[0]: (item["status"], int(item["version"]), item.get("held_by"))
        for sk, item in trip_items(table).items()
    }


FLIGHT_SK, HOTEL_SK, PAYMENT_SK = (f"{e}#{e.lower()}_for_{TRIP_ID}" for e in ("FLIGHT", "HOTEL", "PAYMENT"))
PK = f"TRIP#{TRIP_ID}"
FLIGHT = {
    "PK": PK,
    "flight_number": "NH001",
    "departure_time": "2026-03-15T10:00:00",
    "arrival_time": "2026-03-15T14:00:00",
}
HOTEL = {"PK": PK, "hotel_name": "Grand Hotel Tokyo", "check_in_date": "2026-03-15", "check_out_date": "2026-03-17"}
BOOKED_BY_FIRST = {
    "FLIGHT": ("CONFIRMED", 1, EXECUTION),
    "HOTEL": ("CONFIRMED", 1, EXECUTION),
    "PAYMENT": ("COMPLETED", 1, EXECUTION),
}
COMPENSATED_BY_FIRST = {
    "FLIGHT": ("CANCELLED", 2, EXECUTION),
    "HOTEL": ("CANCELLED", 2, EXECUTION),
    "PAYMENT": ("REFUNDED", 1, EXECUTION),
}


# Each forward step, its compensation, and the entity and status the compensation leaves.
each_step_and_its_compensation = pytest.mark.parametrize(
    ("forward", "compensation", "entity", "status"),
    [
        ("reserve_flight", "cancel_flight", "FLIGHT", "CANCELLED"),
        ("reserve_hotel", "cancel_hotel", "HOTEL", "CANCELLED"),
        ("process_payment", "refund_payment", "PAYMENT", "REFUNDED"),
    ],
)


def book(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [step(name, event) for name in FORWARD]


def compensate(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [step(name, event) for name in COMPENSATIONS]


def test_happy_path_writes_confirmed_flight_and_hotel_and_completed_payment_held_by_the_execution(
    trip_table: Any,
) -> None:
    results = book(saga_input())

    assert results == [
        outcome("FLIGHT", "CONFIRMED", 1, "reserved"),
        outcome("HOTEL", "CONFIRMED", 1, "reserved"),
        outcome("PAYMENT", "COMPLETED", 1, "reserved"),
    ]
    assert trip_items(trip_table) == {
        FLIGHT_SK: {**FLIGHT, "status": "CONFIRMED", "version": 1, "held_by": EXECUTION},
        HOTEL_SK: {**HOTEL, "status": "CONFIRMED", "version": 1, "held_by": EXECUTION},
        PAYMENT_SK: {
            "PK": PK,
            "amount": 80000,
            "currency": "JPY",
            "status": "COMPLETED",
            "version": 1,
            "held_by": EXECUTION,
        },
    }


def test_payment_amount_is_stored_as_a_number(trip_table: Any) -> None:
    step("process_payment", saga_input(amount="80000"))

    raw = boto3.client("dynamodb").get_item(TableName=trip_table.name, Key={"PK": {"S": PK}, "SK": {"S": PAYMENT_SK}})

    assert raw["Item"]["amount"] == {"N": "80000"}


def test_failed_payment_compensates_to_cancelled_and_refunded(trip_table: Any) -> None:
    event = saga_input(amount="-1")  # the seed's 7.4
    step("reserve_flight", event)
    step("reserve_hotel", event)

    with pytest.raises(PaymentValidationError, match=r"^ProcessPayment: payment_details\.amount: "):
        step("process_payment", event)
    compensations = compensate(event)

    assert compensations == [
        outcome("PAYMENT", "REFUNDED", 1, "recorded"),
        outcome("HOTEL", "CANCELLED", 2, "compensated"),
        outcome("FLIGHT", "CANCELLED", 2, "compensated"),
    ]
    assert trip_items(trip_table) == {
        FLIGHT_SK: {**FLIGHT, "status": "CANCELLED", "version": 2, "held_by": EXECUTION},
        HOTEL_SK: {**HOTEL, "status": "CANCELLED", "version": 2, "held_by": EXECUTION},
        PAYMENT_SK: {
            "PK": PK,
            "amount": -1,
            "currency": "JPY",
            "status": "REFUNDED",
            "version": 1,
            "held_by": EXECUTION,
        },
    }


def test_refund_of_taken_payment_keeps_its_amount(trip_table: Any) -> None:
    step("process_payment", saga_input())

    result = step("refund_payment", saga_input())

    assert result == outcome("PAYMENT", "REFUNDED", 2, "compensated")
    assert trip_items(trip_table)[PAYMENT_SK] == {
        "PK": PK,
        "amount": 80000,
        "currency": "JPY",
        "status": "REFUNDED",
        "version": 2,
        "held_by": EXECUTION,
    }


def test_refund_of_payment_never_taken_records_only_well_formed_details(trip_table: Any) -> None:
    event = saga_input(payment_details={"amount": "eighty"})

    result = step("refund_payment", event)

    assert result == outcome("PAYMENT", "REFUNDED", 1, "recorded")
    assert trip_items(trip_table) == {PAYMENT_SK: {"PK": PK, "status": "REFUNDED", "version": 1, "held_by": EXECUTION}}


@pytest.mark.parametrize(
    ("name", "entity", "status"),
    [
        ("reserve_flight", "FLIGHT", "CONFIRMED"),
        ("reserve_hotel", "HOTEL", "CONFIRMED"),
        ("process_payment", "PAYMENT", "COMPLETED"),
        ("refund_payment", "PAYMENT", "REFUNDED"),
    ],
)
def test_retried_create_does_not_bump_version(trip_table: Any, name: str, entity: str, status: str) -> None:
    first = step(name, saga_input())

    retried = step(name, saga_input())

    assert first["version"] == retried["version"] == 1
    assert retried == outcome(entity, status, 1, "unchanged")
    assert [item["version"] for item in trip_items(trip_table).values()] == [1]


@each_step_and_its_compensation
def test_retried_compensation_does_not_bump_version(
    trip_table: Any, forward: str, compensation: str, entity: str, status: str
) -> None:
    step(forward, saga_input())
    step(compensation, saga_input())

    retried = step(compensation, saga_input())

    assert retried == outcome(entity, status, 2, "unchanged")


@each_step_and_its_compensation
def test_forward_step_retried_after_its_compensation_does_not_undo_it(
    trip_table: Any, forward: str, compensation: str, entity: str, status: str
) -> None:
    step(forward, saga_input())
    step(compensation, saga_input())

    with pytest.raises(bookings.ExecutionCompensated):
        step(forward, saga_input())

    assert [(item["status"], item["version"]) for item in trip_items(trip_table).values()] == [(status, 2)]


def test_payment_arriving_after_refund_of_payment_never_taken_stays_refunded(trip_table: Any) -> None:
    step("refund_payment", saga_input())

    with pytest.raises(bookings.ExecutionCompensated):
        step("process_payment", saga_input())

    assert statuses(trip_table) == {"PAYMENT": ("REFUNDED", 1, EXECUTION)}


@each_step_and_its_compensation
def test_a_compensation_that_finds_nothing_records_it_so_a_late_forward_attempt_cannot_land(
    trip_table: Any, forward: str, compensation: str, entity: str, status: str
) -> None:
    # Step Functions gave up on the forward attempt (a client timeout) while it was still running
    recorded = step(compensation, saga_input())

    with pytest.raises(bookings.ExecutionCompensated):
        step(forward, saga_input())

    assert recorded == outcome(entity, status, 1, "recorded")
    assert statuses(trip_table) == {entity: (status, 1, EXECUTION)}
    # and the trip stays free for the next execution
    assert step(forward, saga_input(execution=SECOND))["outcome"] == "rebooked"


# --- the semantic lock: a second execution for a booked trip ---


@pytest.mark.parametrize(
    ("name", "entity", "status"), [*zip(FORWARD, ("flight", "hotel", "payment"), BOOKED_BY_FIRST.values(), strict=True)]
)
def test_forward_step_refuses_an_entity_booked_by_another_execution(
    trip_table: Any, name: str, entity: str, status: tuple[str, int, str]
) -> None:
    book(saga_input())

    with pytest.raises(TripAlreadyBooked) as refused:
        step(
            name,
            saga_input(execution=SECOND, flight_details={**saga_input()["flight_details"], "flight_number": "JL1"}),
        )

    state_name = "".join(part.title() for part in name.split("_"))
    assert str(refused.value) == (
        f"{state_name}: trip {TRIP_ID}: its {entity} is booked ({status[0]}) by execution {EXECUTION}"
    )
    assert (refused.value.trip_id, refused.value.entity, refused.value.holder) == (TRIP_ID, entity.upper(), EXECUTION)
    assert statuses(trip_table) == BOOKED_BY_FIRST
    assert trip_items(trip_table)[FLIGHT_SK]["flight_number"] == "NH001"


def test_compensations_of_another_execution_leave_the_booking_alone(trip_table: Any) -> None:
    book(saga_input())

    results = compensate(saga_input(amount="-1", execution=SECOND))  # the first scenario

    reason = f"held by {EXECUTION}, not by this execution: left unchanged"
    assert results == [
        {**outcome("PAYMENT", "COMPLETED", 1, "held_by_another"), "reason": reason},
        {**outcome("HOTEL", "CONFIRMED", 1, "held_by_another"), "reason": reason},
        {**outcome("FLIGHT", "CONFIRMED", 1, "held_by_another"), "reason": reason},
    ]
    assert statuses(trip_table) == BOOKED_BY_FIRST


def test_a_trip_whose_saga_was_compensated_can_be_booked_again(trip_table: Any) -> None:
    # given the seed's 7.4: booked, payment refused, all compensated by the first execution
    first = saga_input(amount="-1")
    step("reserve_flight", first)
    step("reserve_hotel", first)
    compensate(first)
    generations = {sk: item["created_at"] for sk, item in _raw_items(trip_table).items()}

    # when a second execution books the trip with other details
    second = saga_input(execution=SECOND, amount="90000")
    second["flight_details"]["flight_number"] = "JL5"
    results = book(second)

    # then it takes each item over: versions continue, the generation stays, nothing of the old booking is left
    assert results == [
        outcome("FLIGHT", "CONFIRMED", 3, "rebooked"),
        outcome("HOTEL", "CONFIRMED", 3, "rebooked"),
        outcome("PAYMENT", "COMPLETED", 2, "rebooked"),
    ]
    assert trip_items(trip_table) == {
        FLIGHT_SK: {**FLIGHT, "flight_number": "JL5", "status": "CONFIRMED", "version": 3, "held_by": SECOND},
        HOTEL_SK: {**HOTEL, "status": "CONFIRMED", "version": 3, "held_by": SECOND},
        PAYMENT_SK: {
            "PK": PK,
            "amount": 90000,
            "currency": "JPY",
            "status": "COMPLETED",
            "version": 2,
            "held_by": SECOND,
        },
    }
    assert {sk: item["created_at"] for sk, item in _raw_items(trip_table).items()} == generations
    # and the first execution's late compensations no longer reach the new booking
    assert [result["outcome"] for result in compensate(first)] == ["held_by_another"] * 3
    assert {entity: state[2] for entity, state in statuses(trip_table).items()} == dict.fromkeys(
        BOOKED_BY_FIRST, SECOND
    )


def test_a_rebooking_that_fails_compensates_only_what_it_took_over(trip_table: Any) -> None:
    first = saga_input(amount="-1")
    step("reserve_flight", first)
    step("reserve_hotel", first)
    compensate(first)

    second = saga_input(execution=SECOND, amount="0")
    step("reserve_flight", second)
    step("reserve_hotel", second)
    with pytest.raises(PaymentValidationError):
        step("process_payment", second)
    results = compensate(second)

    # the first execution's refund is left as it is (not this execution's); the fence stops a late payment
    assert [result["outcome"] for result in results] == ["held_by_another", "compensated", "compensated"]
    assert statuses(trip_table) == {
        "FLIGHT": ("CANCELLED", 4, SECOND),
        "HOTEL": ("CANCELLED", 4, SECOND),
        "PAYMENT": ("REFUNDED", 1, EXECUTION),
    }
    with pytest.raises(bookings.ExecutionCompensated):
        step("process_payment", saga_input(execution=SECOND))
    assert statuses(trip_table)["PAYMENT"] == ("REFUNDED", 1, EXECUTION)


class Racing(TripTable):
    """TripTable whose first take-over lets a rival execution book the trip between the step's read and write."""

    def __init__(self, table: Any, rival: dict[str, Any]) -> None:
        super().__init__(table)
        self._rival: dict[str, Any] | None = rival

    def take_over(
        self, trip_id: str, seen: bookings.EntityState, status: str, attributes: Mapping[str, Any], holder: str
    ) -> Attempt:
        if self._rival is not None:
            rival, self._rival = self._rival, None
            bookings.reserve_flight(rival, TripTable(self._table))
        return super().take_over(trip_id, seen, status, attributes, holder)


def test_two_executions_racing_to_rebook_a_trip_leave_it_to_one_of_them(trip_table: Any) -> None:
    first = saga_input()
    step("reserve_flight", first)
    step("cancel_flight", first)
    third = "arn:aws:states:us-east-1:123456789012:execution:TripSaga:third"

    with pytest.raises(TripAlreadyBooked) as refused:
        bookings.reserve_flight(saga_input(execution=SECOND), Racing(trip_table, saga_input(execution=third)))

    assert refused.value.holder == third
    assert statuses(trip_table) == {"FLIGHT": ("CONFIRMED", 3, third)}


def test_two_executions_creating_the_same_new_trip_leave_it_to_the_first_write(trip_table: Any) -> None:
    # Each create is one conditional request: the second to reach DynamoDB finds the first's item.
    assert step("reserve_flight", saga_input())["outcome"] == "reserved"

    with pytest.raises(TripAlreadyBooked):
        step("reserve_flight", saga_input(execution=SECOND))

    assert statuses(trip_table) == {"FLIGHT": ("CONFIRMED", 1, EXECUTION)}


# --- items written by other writers (no holder recorded) ---


def test_a_standing_item_of_another_writer_blocks_booking_and_is_never_compensated(trip_table: Any) -> None:
    trip_table.put_item(Item=f.written(f.flight(TRIP_ID, version=4, status="CONFIRMED"), f.T0))

    with pytest.raises(TripAlreadyBooked, match=r"by another writer \(no saga execution recorded\)$"):
        step("reserve_flight", saga_input())
    result = step("cancel_flight", saga_input())

    assert result == {
        **outcome("FLIGHT", "CONFIRMED", 4, "held_by_another"),
        "reason": "held by another writer, not by this execution: left unchanged",
    }
    assert statuses(trip_table) == {"FLIGHT": ("CONFIRMED", 4, None)}


def test_a_cancelled_item_of_another_writer_is_taken_over(trip_table: Any) -> None:
    trip_table.put_item(Item=f.written(f.flight(TRIP_ID, version=4, status="CANCELLED"), f.T0))

    result = step("reserve_flight", saga_input())

    assert result == outcome("FLIGHT", "CONFIRMED", 5, "rebooked")
    assert statuses(trip_table) == {"FLIGHT": ("CONFIRMED", 5, EXECUTION)}


@pytest.mark.parametrize(
    "broken",
    [
        {"status": "CONFIRMED"},
        {"status": "CANCELLED"},
        {"version": Decimal(1)},
        {"status": "CANCELLED", "version": "2"},
        {"status": "CANCELLED", "version": Decimal("1.5")},
        {"status": 7, "version": Decimal(1)},
    ],
    ids=["no-version", "cancelled-no-version", "no-status", "string-version", "fractional-version", "number-status"],
)
def test_an_item_that_breaks_the_writer_contract_is_refused_and_never_compensated(
    trip_table: Any, broken: dict[str, Any]
) -> None:
    trip_table.put_item(Item={"PK": PK, "SK": FLIGHT_SK, **broken})

    with pytest.raises(bookings.UnreadableBooking) as refused:
        step("reserve_flight", saga_input())
    result = step("cancel_flight", saga_input())

    assert str(refused.value) == (
        f"ReserveFlight: trip {TRIP_ID}: its flight item breaks the writer contract (version must be a whole "
        "number, status a string): it cannot be booked over"
    )
    assert (result["outcome"], result["reason"]) == (
        "held_by_another",
        "held by another writer, not by this execution: left unchanged",
    )
    assert trip_table.get_item(Key={"PK": PK, "SK": FLIGHT_SK})["Item"] == {"PK": PK, "SK": FLIGHT_SK, **broken}


class Recreating(TripTable):
    """TripTable whose first take-over finds the item deleted, then re-created and cancelled by a third
    execution, between the step's read and its write."""

    def __init__(self, table: Any, third: dict[str, Any]) -> None:
        super().__init__(table)
        self._third: dict[str, Any] | None = third

    def take_over(
        self, trip_id: str, seen: bookings.EntityState, status: str, attributes: Mapping[str, Any], holder: str
    ) -> Attempt:
        if self._third is not None:
            third, self._third = self._third, None
            self._table.delete_item(Key={"PK": PK, "SK": FLIGHT_SK})
            bookings.reserve_flight(third, TripTable(self._table))
            bookings.cancel_flight(third, TripTable(self._table))
        return super().take_over(trip_id, seen, status, attributes, holder)


def test_a_take_over_never_moves_an_item_back_a_generation(trip_table: Any) -> None:
    step("reserve_flight", saga_input())
    step("cancel_flight", saga_input())
    first_generation = _raw_items(trip_table)[FLIGHT_SK]["created_at"]
    third = "arn:aws:states:us-east-1:123456789012:execution:TripSaga:third"

    result = bookings.reserve_flight(saga_input(execution=SECOND), Recreating(trip_table, saga_input(execution=third)))

    # the take-over of the deleted item was refused; the second round took over the third execution's item,
    # whose generation is the later one (the projection would otherwise rank the booking below the third's)
    assert result == outcome("FLIGHT", "CONFIRMED", 3, "rebooked")
    assert statuses(trip_table) == {"FLIGHT": ("CONFIRMED", 3, SECOND)}
    assert _raw_items(trip_table)[FLIGHT_SK]["created_at"] > first_generation


def test_a_trip_id_too_long_for_a_dynamodb_key_is_a_validation_error(trip_table: Any) -> None:
    with pytest.raises(BookingValidationError) as raised:
        step("reserve_flight", saga_input(trip_id="x" * 1100))

    assert raised.value.field == "trip_id"
    assert trip_items(trip_table) == {}


# --- generations and stamps ---


def _raw_items(table: Any) -> dict[str, dict[str, Any]]:
    items = table.query(KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": PK}, ConsistentRead=True)[
        "Items"
    ]
    return {item["SK"]: item for item in items if not item["SK"].startswith("SAGA#")}


def test_created_at_is_set_once(trip_table: Any) -> None:
    step("reserve_flight", saga_input())
    key = {"PK": PK, "SK": FLIGHT_SK}
    created_at = trip_table.get_item(Key=key)["Item"]["created_at"]

    step("reserve_flight", saga_input())
    step("cancel_flight", saga_input())

    item = trip_table.get_item(Key=key)["Item"]
    assert item["created_at"] == created_at
    assert len(created_at) == len("2026-03-01T09:30:00.123456+00:00")
    assert item["updated_at"] > created_at  # the cancel moved it on; the retried reserve did not


def test_a_fresh_item_was_updated_when_it_was_created(trip_table: Any) -> None:
    step("reserve_hotel", saga_input())

    item = trip_table.get_item(Key={"PK": PK, "SK": HOTEL_SK})["Item"]

    assert item["updated_at"] == item["created_at"]


# --- input validation: errors that name the step and the field ---


@pytest.mark.parametrize(
    ("payment_details", "field"),
    [
        ({"amount": "0", "currency": "JPY"}, "payment_details.amount"),
        ({"amount": -1, "currency": "JPY"}, "payment_details.amount"),
        ({"amount": "eighty", "currency": "JPY"}, "payment_details.amount"),
        ({"amount": "NaN", "currency": "JPY"}, "payment_details.amount"),
        ({"amount": True, "currency": "JPY"}, "payment_details.amount"),
        ({"currency": "JPY"}, "payment_details.amount"),
        ({"amount": "80000"}, "payment_details.currency"),
        ({"amount": "80000", "currency": ""}, "payment_details.currency"),
        (None, "payment_details"),
    ],
)
def test_invalid_payment_raises_payment_validation_error_and_writes_nothing(
    trip_table: Any, payment_details: Any, field: str
) -> None:
    with pytest.raises(PaymentValidationError) as raised:
        step("process_payment", saga_input(payment_details=payment_details))

    assert raised.value.field == field
    assert trip_items(trip_table) == {}


@pytest.mark.parametrize(
    ("name", "event", "field"),
    [
        ("reserve_flight", {k: v for k, v in saga_input().items() if k != "trip_id"}, "trip_id"),
        ("reserve_flight", saga_input(trip_id=""), "trip_id"),
        ("reserve_flight", {k: v for k, v in saga_input().items() if k != "saga"}, "saga"),
        ("reserve_flight", saga_input(saga={"execution_id": ""}), "saga.execution_id"),
        ("reserve_flight", saga_input(flight_details={"flight_number": "NH001"}), "flight_details.departure_time"),
        (
            "reserve_flight",
            saga_input(flight_details={**saga_input()["flight_details"], "arrival_time": "2 pm"}),
            "flight_details.arrival_time",
        ),
        ("reserve_hotel", {"trip_id": TRIP_ID, "saga": {"execution_id": EXECUTION}}, "hotel_details"),
        (
            "reserve_hotel",
            saga_input(hotel_details={**saga_input()["hotel_details"], "check_in_date": "15/03/2026"}),
            "hotel_details.check_in_date",
        ),
        ("cancel_flight", {"saga": {"execution_id": EXECUTION}}, "trip_id"),
        ("cancel_hotel", {"trip_id": 42, "saga": {"execution_id": EXECUTION}}, "trip_id"),
        ("cancel_hotel", {"trip_id": TRIP_ID}, "saga"),
        ("refund_payment", saga_input(trip_id=None), "trip_id"),
    ],
)
def test_malformed_input_raises_validation_error_naming_the_step_and_the_field(
    trip_table: Any, name: str, event: dict[str, Any], field: str
) -> None:
    with pytest.raises(BookingValidationError) as raised:
        step(name, event)

    assert raised.value.field == field
    state_name = "".join(part.title() for part in name.split("_"))
    assert str(raised.value).startswith(f"{state_name}: {field}: ")
    assert trip_items(trip_table) == {}


def test_impossible_hotel_date_is_explained_without_pydantic_noise(trip_table: Any) -> None:
    event = saga_input(hotel_details={**saga_input()["hotel_details"], "check_in_date": "2026-02-30"})

    with pytest.raises(BookingValidationError) as raised:
        step("reserve_hotel", event)

    assert str(raised.value) == "ReserveHotel: hotel_details.check_in_date: day is out of range for month"


def test_fractional_amount_is_kept_exactly(trip_table: Any) -> None:
    step("process_payment", saga_input(payment_details={"amount": 123.45, "currency": "USD"}))

    assert trip_items(trip_table)[PAYMENT_SK]["amount"] == Decimal("123.45")


# Trip ids (docs/design.md, "Trip ids"): what round-trips a URL path unambiguously, in any script.
@pytest.mark.parametrize(
    "trip_id", ["trip-001", "trip 002", "trip@001", "trîp-é1", "旅行:2026~1.a_b", "यात्रा-1", "t" * 128]
)
def test_trip_ids_a_url_carries_unambiguously_are_accepted(trip_table: Any, trip_id: str) -> None:
    result = step("reserve_flight", saga_input(trip_id=trip_id))

    assert result == {
        "trip_id": trip_id,
        "entity": "FLIGHT",
        "status": "CONFIRMED",
        "version": 1,
        "outcome": "reserved",
    }
    assert trip_items(trip_table, trip_id)[f"FLIGHT#flight_for_{trip_id}"]["PK"] == f"TRIP#{trip_id}"


@pytest.mark.parametrize(
    ("trip_id", "reason"),
    [
        ("trip%20002", "may hold letters, digits and - _ . ~ @ : and space only, not '%'"),
        ("trip/002", "may hold letters, digits and - _ . ~ @ : and space only, not '/'"),
        ("trip?002", "may hold letters, digits and - _ . ~ @ : and space only, not '?'"),
        ("trip#002", "may hold letters, digits and - _ . ~ @ : and space only, not '#'"),
        ("trip+002", "may hold letters, digits and - _ . ~ @ : and space only, not '+'"),
        ("trip\t002", "may hold letters, digits and - _ . ~ @ : and space only, not '\\t'"),
        ("✈-002", "may hold letters, digits and - _ . ~ @ : and space only, not '✈'"),
        (" trip-002", "must not start or end with a space"),
        ("trip-002 ", "must not start or end with a space"),
        ("..", "must not be made of dots only"),
        ("search", "must not be 'search': GET /trips/search is the search"),
        ("t" * 129, "must be 1 to 128 characters, got 129"),
        ("tri\u0302p", "must be in Unicode NFC ('trîp')"),
    ],
)
@pytest.mark.parametrize("name", ["reserve_flight", "reserve_hotel", "process_payment", "cancel_flight"])
def test_trip_id_a_url_cannot_carry_is_a_validation_error_naming_trip_id(
    trip_table: Any, name: str, trip_id: str, reason: str
) -> None:
    with pytest.raises(BookingValidationError) as raised:
        step(name, saga_input(trip_id=trip_id))

    state_name = "".join(part.title() for part in name.split("_"))
    assert (raised.value.field, str(raised.value)) == ("trip_id", f"{state_name}: trip_id: {reason}")
    assert trip_table.scan()["Items"] == []


# Times (services.trip.times): accepted in any ISO-8601 shape, stored in the one canonical form.
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2026-03-15T10:00", "2026-03-15T10:00:00"),
        ("2026-03-15 10:30:00", "2026-03-15T10:30:00"),
        ("2026-03-15T10:30:00.250", "2026-03-15T10:30:00.250000"),
        ("20260315T103000", "2026-03-15T10:30:00"),
    ],
)
def test_flight_times_are_stored_in_canonical_form(trip_table: Any, given: str, stored: str) -> None:
    details = {**saga_input()["flight_details"], "departure_time": given, "arrival_time": given}

    step("reserve_flight", saga_input(flight_details=details))

    flight = trip_items(trip_table)[FLIGHT_SK]
    assert (flight["departure_time"], flight["arrival_time"]) == (stored, stored)


@pytest.mark.parametrize(("given", "stored"), [("2026-03-15", "2026-03-15"), ("20260315", "2026-03-15")])
def test_hotel_dates_are_stored_in_canonical_form(trip_table: Any, given: str, stored: str) -> None:
    details = {**saga_input()["hotel_details"], "check_in_date": given, "check_out_date": given}

    step("reserve_hotel", saga_input(hotel_details=details))

    hotel = trip_items(trip_table)[HOTEL_SK]
    assert (hotel["check_in_date"], hotel["check_out_date"]) == (stored, stored)


@pytest.mark.parametrize(
    ("name", "details", "field", "reason"),
    [
        (
            "flight_details",
            {"departure_time": "2026-03-15T10:00:00+09:00"},
            "flight_details.departure_time",
            "'2026-03-15T10:00:00+09:00' must be a local time without a UTC offset",
        ),
        (
            "flight_details",
            {"arrival_time": "2026-03-15T01:00:00Z"},
            "flight_details.arrival_time",
            "'2026-03-15T01:00:00Z' must be a local time without a UTC offset",
        ),
        (
            "flight_details",
            {"departure_time": "2026-03-15"},
            "flight_details.departure_time",
            "'2026-03-15' is a date without a time of day",
        ),
        (
            "hotel_details",
            {"check_in_date": "2026-03-15T00:00"},
            "hotel_details.check_in_date",
            "'2026-03-15T00:00' is not an ISO-8601 date",
        ),
        (
            "hotel_details",
            {"check_out_date": "2026-04-31"},
            "hotel_details.check_out_date",
            "day is out of range for month",
        ),
        ("hotel_details", {"check_in_date": "2026-13-01"}, "hotel_details.check_in_date", "month must be in 1..12"),
        (
            "flight_details",
            {"arrival_time": "2026-03-15T24:30"},
            "flight_details.arrival_time",
            "hour must be in 0..23",
        ),
    ],
)
def test_time_of_the_wrong_kind_is_a_validation_error_naming_the_field(
    trip_table: Any, name: str, details: dict[str, str], field: str, reason: str
) -> None:
    command = "reserve_flight" if name == "flight_details" else "reserve_hotel"

    with pytest.raises(BookingValidationError) as raised:
        step(command, saga_input(**{name: {**saga_input()[name], **details}}))

    state_name = "ReserveFlight" if command == "reserve_flight" else "ReserveHotel"
    assert (raised.value.field, str(raised.value)) == (field, f"{state_name}: {field}: {reason}")
    assert trip_items(trip_table) == {}


# --- issue 24 / 18: fences, ownership of compensations, bounded input ---


def test_a_late_attempt_of_a_compensated_execution_never_books_over_another_executions_compensation(
    trip_table: Any,
) -> None:
    step("cancel_flight", saga_input())  # A gave up on its stalled ReserveFlight and compensated
    step("reserve_flight", saga_input(execution=SECOND))  # B books, fails later, compensates
    step("cancel_flight", saga_input(execution=SECOND))

    with pytest.raises(bookings.ExecutionCompensated):
        step("reserve_flight", saga_input())  # A's stalled attempt resumes

    assert statuses(trip_table) == {"FLIGHT": ("CANCELLED", 3, SECOND)}


def test_a_refused_execution_leaves_another_holders_cancelled_booking_alone(trip_table: Any) -> None:
    step("reserve_flight", saga_input())
    step("cancel_flight", saga_input())

    result = step("cancel_flight", saga_input(execution=SECOND))

    assert result == {
        **outcome("FLIGHT", "CANCELLED", 2, "held_by_another"),
        "reason": f"held by {EXECUTION}, not by this execution: left unchanged",
    }
    assert trip_items(trip_table)[FLIGHT_SK] == {**FLIGHT, "status": "CANCELLED", "version": 2, "held_by": EXECUTION}


def test_a_hotel_name_whose_index_key_exceeds_1024_bytes_is_refused(trip_table: Any) -> None:
    with pytest.raises(BookingValidationError) as raised:
        step("reserve_hotel", saga_input(hotel_details={**HOTEL, "hotel_name": "旅" * 351}))

    assert raised.value.field == "hotel_details.hotel_name"
    assert trip_items(trip_table) == {}


@pytest.mark.parametrize("amount", ["26666.666666666666666666666666666666666667", "1E+126", "1E-131"])
def test_an_amount_dynamodb_cannot_hold_is_refused_and_its_refund_records_no_amount(
    trip_table: Any, amount: str
) -> None:
    with pytest.raises(PaymentValidationError) as raised:
        step("process_payment", saga_input(amount=amount))
    refund = step("refund_payment", saga_input(amount=amount))

    assert raised.value.field == "payment_details.amount"
    assert refund == outcome("PAYMENT", "REFUNDED", 1, "recorded")
    assert "amount" not in trip_items(trip_table)[PAYMENT_SK]


def test_an_input_too_large_for_the_saga_state_is_refused_before_writing(trip_table: Any) -> None:
    from services.trip import saga_state

    event = saga_input(extra="")
    event["extra"] = "x" * (saga_state.INPUT_BUDGET - saga_state.input_size(event) + 1)

    with pytest.raises(BookingValidationError) as raised:
        step("reserve_flight", event)

    assert raised.value.field == "event"
    assert trip_items(trip_table) == {}


@each_step_and_its_compensation
def test_an_attempt_that_stalls_between_its_read_and_its_write_lands_nothing_once_its_execution_compensated(
    trip_table: Any, monkeypatch: pytest.MonkeyPatch, forward: str, compensation: str, entity: str, status: str
) -> None:
    # B booked and compensated the entity; A's attempt reads B's compensated item and decides to take it over ...
    step(forward, saga_input(execution=SECOND))
    step(compensation, saga_input(execution=SECOND))
    take_over = TripTable.take_over

    def stalled_take_over(self: TripTable, *args: Any, **kwargs: Any) -> Attempt:
        # ... but stalls before its write: Step Functions gives up on it and A compensates meanwhile
        monkeypatch.setattr(TripTable, "take_over", take_over)
        step(compensation, saga_input())
        return take_over(self, *args, **kwargs)

    monkeypatch.setattr(TripTable, "take_over", stalled_take_over)

    with pytest.raises(bookings.ExecutionCompensated):
        step(forward, saga_input())  # A's attempt resumes and sends its write

    assert statuses(trip_table) == {entity: (status, 2, SECOND)}
