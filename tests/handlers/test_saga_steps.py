"""The saga steps on TripTable: the seed's 7.2 and 7.4 flows, idempotent retries, input validation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from services.trip import config
from services.trip.bookings import BookingValidationError, PaymentValidationError
from services.trip.handlers import saga_steps
from tests import factories as f

TRIP_ID = "trip-streams-001"
CONTEXT: Any = f.LambdaContext()  # a stand-in: only the attributes Powertools reads


@pytest.fixture(autouse=True)
def fresh_settings_and_clients() -> Iterator[None]:
    yield
    config.saga_settings.cache_clear()
    saga_steps._trip_table.cache_clear()


def saga_input(trip_id: str = TRIP_ID, amount: Any = "80000", **overrides: Any) -> dict[str, Any]:
    """The seed's Step Functions execution input (7.2); every step receives all of it."""
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
        **overrides,
    }


def step(name: str, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = getattr(saga_steps, name)(event, CONTEXT)
    return result


def trip_items(table: Any, trip_id: str = TRIP_ID) -> dict[str, dict[str, Any]]:
    """The trip's items by SK, each checked for UTC created_at/updated_at and returned without them."""
    items = table.query(
        KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": f"TRIP#{trip_id}"}, ConsistentRead=True
    )["Items"]
    for item in items:
        created_at, updated_at = (
            datetime.fromisoformat(item.pop("created_at")),
            datetime.fromisoformat(item.pop("updated_at")),
        )
        assert created_at.utcoffset() == updated_at.utcoffset() == UTC.utcoffset(None)
        assert created_at <= updated_at
    return {item.pop("SK"): item for item in items}


FLIGHT_SK, HOTEL_SK, PAYMENT_SK = (f"{e}#{e.lower()}_for_{TRIP_ID}" for e in ("FLIGHT", "HOTEL", "PAYMENT"))
PK = f"TRIP#{TRIP_ID}"
FLIGHT = {
    "PK": PK,
    "flight_number": "NH001",
    "departure_time": "2026-03-15T10:00:00",
    "arrival_time": "2026-03-15T14:00:00",
}
HOTEL = {"PK": PK, "hotel_name": "Grand Hotel Tokyo", "check_in_date": "2026-03-15", "check_out_date": "2026-03-17"}


def test_happy_path_writes_confirmed_flight_and_hotel_and_completed_payment(trip_table: Any) -> None:
    event = saga_input()

    results = [step(name, event) for name in ("reserve_flight", "reserve_hotel", "process_payment")]

    assert results == [
        {"trip_id": TRIP_ID, "entity": "FLIGHT", "status": "CONFIRMED", "version": 1},
        {"trip_id": TRIP_ID, "entity": "HOTEL", "status": "CONFIRMED", "version": 1},
        {"trip_id": TRIP_ID, "entity": "PAYMENT", "status": "COMPLETED", "version": 1},
    ]
    assert trip_items(trip_table) == {
        FLIGHT_SK: {**FLIGHT, "status": "CONFIRMED", "version": 1},
        HOTEL_SK: {**HOTEL, "status": "CONFIRMED", "version": 1},
        PAYMENT_SK: {"PK": PK, "amount": 80000, "currency": "JPY", "status": "COMPLETED", "version": 1},
    }


def test_payment_amount_is_stored_as_a_number(trip_table: Any) -> None:
    step("process_payment", saga_input(amount="80000"))

    raw = boto3.client("dynamodb").get_item(TableName=trip_table.name, Key={"PK": {"S": PK}, "SK": {"S": PAYMENT_SK}})

    assert raw["Item"]["amount"] == {"N": "80000"}


def test_failed_payment_compensates_to_cancelled_and_refunded(trip_table: Any) -> None:
    event = saga_input(amount="-1")  # the seed's 7.4
    step("reserve_flight", event)
    step("reserve_hotel", event)

    with pytest.raises(PaymentValidationError, match=r"^payment_details\.amount: "):
        step("process_payment", event)
    compensations = [step(name, event) for name in ("refund_payment", "cancel_hotel", "cancel_flight")]

    assert compensations == [
        {"trip_id": TRIP_ID, "entity": "PAYMENT", "status": "REFUNDED", "version": 1},
        {"trip_id": TRIP_ID, "entity": "HOTEL", "status": "CANCELLED", "version": 2},
        {"trip_id": TRIP_ID, "entity": "FLIGHT", "status": "CANCELLED", "version": 2},
    ]
    assert trip_items(trip_table) == {
        FLIGHT_SK: {**FLIGHT, "status": "CANCELLED", "version": 2},
        HOTEL_SK: {**HOTEL, "status": "CANCELLED", "version": 2},
        PAYMENT_SK: {"PK": PK, "amount": -1, "currency": "JPY", "status": "REFUNDED", "version": 1},
    }


def test_refund_of_taken_payment_keeps_its_amount(trip_table: Any) -> None:
    step("process_payment", saga_input())

    result = step("refund_payment", saga_input())

    assert result == {"trip_id": TRIP_ID, "entity": "PAYMENT", "status": "REFUNDED", "version": 2}
    assert trip_items(trip_table)[PAYMENT_SK] == {
        "PK": PK,
        "amount": 80000,
        "currency": "JPY",
        "status": "REFUNDED",
        "version": 2,
    }


def test_refund_of_payment_never_taken_records_only_well_formed_details(trip_table: Any) -> None:
    event = saga_input(payment_details={"amount": "eighty"})

    result = step("refund_payment", event)

    assert result == {"trip_id": TRIP_ID, "entity": "PAYMENT", "status": "REFUNDED", "version": 1}
    assert trip_items(trip_table) == {PAYMENT_SK: {"PK": PK, "status": "REFUNDED", "version": 1}}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("reserve_flight", {"entity": "FLIGHT", "status": "CONFIRMED", "version": 1}),
        ("reserve_hotel", {"entity": "HOTEL", "status": "CONFIRMED", "version": 1}),
        ("process_payment", {"entity": "PAYMENT", "status": "COMPLETED", "version": 1}),
        ("refund_payment", {"entity": "PAYMENT", "status": "REFUNDED", "version": 1}),
    ],
)
def test_retried_create_does_not_bump_version(trip_table: Any, name: str, expected: dict[str, Any]) -> None:
    first = step(name, saga_input())

    retried = step(name, saga_input())

    assert first == retried == {"trip_id": TRIP_ID, **expected}
    assert [item["version"] for item in trip_items(trip_table).values()] == [1]


@pytest.mark.parametrize(
    ("forward", "compensation", "entity", "status"),
    [
        ("reserve_flight", "cancel_flight", "FLIGHT", "CANCELLED"),
        ("reserve_hotel", "cancel_hotel", "HOTEL", "CANCELLED"),
        ("process_payment", "refund_payment", "PAYMENT", "REFUNDED"),
    ],
)
def test_retried_compensation_does_not_bump_version(
    trip_table: Any, forward: str, compensation: str, entity: str, status: str
) -> None:
    step(forward, saga_input())
    step(compensation, saga_input())

    retried = step(compensation, saga_input())

    assert retried == {"trip_id": TRIP_ID, "entity": entity, "status": status, "version": 2}


@pytest.mark.parametrize(
    ("forward", "compensation", "entity", "status"),
    [
        ("reserve_flight", "cancel_flight", "FLIGHT", "CANCELLED"),
        ("reserve_hotel", "cancel_hotel", "HOTEL", "CANCELLED"),
        ("process_payment", "refund_payment", "PAYMENT", "REFUNDED"),
    ],
)
def test_forward_step_retried_after_its_compensation_does_not_undo_it(
    trip_table: Any, forward: str, compensation: str, entity: str, status: str
) -> None:
    step(forward, saga_input())
    step(compensation, saga_input())

    late = step(forward, saga_input())

    assert late == {"trip_id": TRIP_ID, "entity": entity, "status": status, "version": 2}
    assert [(item["status"], item["version"]) for item in trip_items(trip_table).values()] == [(status, 2)]


def test_payment_arriving_after_refund_of_payment_never_taken_stays_refunded(trip_table: Any) -> None:
    step("refund_payment", saga_input())

    late = step("process_payment", saga_input())

    assert late == {"trip_id": TRIP_ID, "entity": "PAYMENT", "status": "REFUNDED", "version": 1}


@pytest.mark.parametrize(("name", "entity"), [("cancel_flight", "FLIGHT"), ("cancel_hotel", "HOTEL")])
def test_cancel_of_something_never_reserved_writes_nothing(trip_table: Any, name: str, entity: str) -> None:
    result = step(name, {"trip_id": TRIP_ID})

    assert result == {"trip_id": TRIP_ID, "entity": entity, "status": "NOT_RESERVED", "version": 0}
    assert trip_items(trip_table) == {}


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
        ("reserve_flight", saga_input(flight_details={"flight_number": "NH001"}), "flight_details.departure_time"),
        (
            "reserve_flight",
            saga_input(flight_details={**saga_input()["flight_details"], "arrival_time": "2 pm"}),
            "flight_details.arrival_time",
        ),
        ("reserve_hotel", {"trip_id": TRIP_ID}, "hotel_details"),
        (
            "reserve_hotel",
            saga_input(hotel_details={**saga_input()["hotel_details"], "check_in_date": "15/03/2026"}),
            "hotel_details.check_in_date",
        ),
        ("cancel_flight", {}, "trip_id"),
        ("cancel_hotel", {"trip_id": 42}, "trip_id"),
        ("refund_payment", {"payment_details": {"amount": "1", "currency": "JPY"}}, "trip_id"),
    ],
)
def test_malformed_input_raises_validation_error_naming_the_field(
    trip_table: Any, name: str, event: dict[str, Any], field: str
) -> None:
    with pytest.raises(BookingValidationError) as raised:
        step(name, event)

    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert trip_items(trip_table) == {}


def test_fractional_amount_is_kept_exactly(trip_table: Any) -> None:
    step("process_payment", saga_input(payment_details={"amount": 123.45, "currency": "USD"}))

    assert trip_items(trip_table)[PAYMENT_SK]["amount"] == Decimal("123.45")


# Trip ids (README: trip ids): what round-trips a URL path unambiguously, in any script.
@pytest.mark.parametrize(
    "trip_id", ["trip-001", "trip 002", "trip@001", "trîp-é1", "旅行:2026~1.a_b", "यात्रा-1", "t" * 128]
)
def test_trip_ids_a_url_carries_unambiguously_are_accepted(trip_table: Any, trip_id: str) -> None:
    result = step("reserve_flight", saga_input(trip_id=trip_id))

    assert result == {"trip_id": trip_id, "entity": "FLIGHT", "status": "CONFIRMED", "version": 1}
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

    assert (raised.value.field, str(raised.value)) == ("trip_id", f"trip_id: Value error, {reason}")
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
    ],
)
def test_time_of_the_wrong_kind_is_a_validation_error_naming_the_field(
    trip_table: Any, name: str, details: dict[str, str], field: str, reason: str
) -> None:
    command = "reserve_flight" if name == "flight_details" else "reserve_hotel"

    with pytest.raises(BookingValidationError) as raised:
        step(command, saga_input(**{name: {**saga_input()[name], **details}}))

    assert (raised.value.field, str(raised.value)) == (field, f"{field}: Value error, {reason}")
    assert trip_items(trip_table) == {}
