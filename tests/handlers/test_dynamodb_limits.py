"""At DynamoDB's limits nothing is lost: numbers it cannot hold are refused by the saga, numbers it hands back in
plain notation are read on every path, and hotel names whose index key it cannot hold are refused by the saga."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest

from services.trip import config, schema
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.bookings import BookingValidationError, PaymentValidationError
from services.trip.handlers import saga_steps, search_trips
from services.trip.projection import SearchDocument, index_keys
from tests import factories as f
from tests.conftest import create_search_table
from tests.handlers.test_saga_steps import EXECUTION, TRIP_ID, saga_input, step, trip_items
from tests.handlers.test_search_trips import api_event, get_trip, search

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

# DynamoDB keeps 1E+40 (one significant digit) and answers with it in plain notation: 41 digits.
PLAIN_1E40 = "1" + "0" * 40
NOT_A_NUMBER = "is not a number DynamoDB can hold: at most 38 significant digits, magnitude 1E-130 to 9.99...E+125"


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    yield
    config.saga_settings.cache_clear()
    saga_steps.trip_table.cache_clear()
    search_trips.clear_caches()


# --- amounts DynamoDB cannot hold ---


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("26666.666666666666666666666666666666666667", NOT_A_NUMBER),
        ("1E+126", NOT_A_NUMBER),
        ("1E-131", NOT_A_NUMBER),
    ],
)
def test_an_amount_dynamodb_cannot_hold_is_a_payment_validation_error(
    trip_table: Any, amount: str, reason: str
) -> None:
    with pytest.raises(PaymentValidationError) as refused:
        step("process_payment", saga_input(amount=amount))

    assert refused.value.field == "payment_details.amount"
    assert str(refused.value) == f"ProcessPayment: payment_details.amount: {reason}"
    assert trip_items(trip_table) == {}


def test_the_refund_of_an_amount_dynamodb_cannot_hold_records_it_without_the_amount(trip_table: Any) -> None:
    result = step("refund_payment", saga_input(amount="26666.666666666666666666666666666666666667"))

    assert result["outcome"] == "recorded"
    payment = trip_items(trip_table)[f"PAYMENT#payment_for_{TRIP_ID}"]
    assert payment == {
        "PK": f"TRIP#{TRIP_ID}",
        "currency": "JPY",
        "status": "REFUNDED",
        "version": 1,
        "held_by": EXECUTION,
    }


def test_an_amount_of_38_significant_digits_and_trailing_zeros_is_taken(trip_table: Any) -> None:
    result = step("process_payment", saga_input(amount="1E+40"))

    assert (result["status"], result["outcome"]) == ("COMPLETED", "reserved")


# --- numbers DynamoDB hands back in plain notation ---


def put_plain_number_document(search_table: Any) -> None:
    """The document as DynamoDB answers for a stored 1E+40: its 41 plain digits (moto answers what it was given)."""
    boto3.client("dynamodb", region_name=f.REGION).put_item(
        TableName=search_table.name,
        Item={
            "trip_id": {"S": TRIP_ID},
            "flight_number": {"S": "NH001"},
            "departure_time": {"S": "2026-03-15T10:00:00"},
            "flight_status": {"S": "CONFIRMED"},
            "total_amount": {"N": PLAIN_1E40},
            "currency": {"S": "JPY"},
            "revision": {"N": "1"},
            "versions": {"M": {}},
            **{
                name: {"S": value}
                for name, value in index_keys(
                    SearchDocument(TRIP_ID, {"flight_status": "CONFIRMED", "departure_time": "2026-03-15T10:00:00"})
                ).items()
            },
        },
    )


def test_boto3s_own_deserializer_traps_the_plain_notation() -> None:
    """Why every read path needs its own: the failure as boto/boto3#2500 reports it."""
    from boto3.dynamodb.types import TypeDeserializer

    with pytest.raises(ArithmeticError):
        TypeDeserializer().deserialize({"N": PLAIN_1E40})


def test_get_and_search_answer_a_number_dynamodb_normalised(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto projects an INCLUDE index through boto3's deserializer, which raises decimal.Rounded on these digits
    # (DynamoDB does not): this table's indexes project ALL; the reader reads numbers the same way either way.
    search_table = create_search_table(
        boto3.resource("dynamodb", region_name=f.REGION), projection={"ProjectionType": "ALL"}
    )
    monkeypatch.setenv("SEARCH_TABLE_NAME", search_table.name)
    put_plain_number_document(search_table)

    status, trip = get_trip(TRIP_ID)
    assert (status, trip["total_amount"]) == (200, 1e40)
    status, found = search(status="CONFIRMED")
    assert (status, [t["total_amount"] for t in found["trips"]]) == (200, [1e40])


def test_the_consumers_read_of_a_normalised_number_is_exact(search_table: Any) -> None:
    put_plain_number_document(search_table)

    documents = SearchDocuments(search_table.name, boto3.resource("dynamodb", region_name=f.REGION))

    assert documents.load_many([TRIP_ID])[TRIP_ID].fields["total_amount"] == Decimal("1E+40")


def test_the_api_writes_the_normalised_number_as_a_json_number(search_table: Any) -> None:
    put_plain_number_document(search_table)

    response = search_trips.lambda_handler(api_event("/trips/{trip_id}", f"/trips/{TRIP_ID}"), f.LambdaContext())

    assert '"total_amount":1E+40' in response["body"].replace(" ", "")
    assert json.loads(response["body"], parse_float=Decimal)["total_amount"] == Decimal("1E+40")


# --- answers DynamoDB cuts short ---


def test_documents_beyond_one_batch_gets_16_mb_answer_are_read_from_its_unprocessed_keys(search_table: Any) -> None:
    # given 50 documents of 390 KB each: 19.5 MB, over the 16 MB one BatchGetItem answers with (AWS DynamoDB API
    # reference, BatchGetItem: the rest comes back in UnprocessedKeys)
    padding = "x" * 390_000
    trip_ids = [f"trip-{n:03d}" for n in range(50)]
    with search_table.batch_writer() as batch:
        for trip_id in trip_ids:
            batch.put_item(Item={"trip_id": trip_id, "flight_number": "NH001", "revision": 1, "padding": padding})
    first_answer = boto3.client("dynamodb", region_name=f.REGION).batch_get_item(
        RequestItems={search_table.name: {"Keys": [{"trip_id": {"S": trip_id}} for trip_id in trip_ids]}}
    )
    assert len(first_answer["UnprocessedKeys"][search_table.name]["Keys"]) == 7

    # when the consumers' adapter loads them all
    loaded = SearchDocuments(search_table.name, boto3.resource("dynamodb", region_name=f.REGION)).load_many(trip_ids)

    # then every one is there, read whole
    assert sorted(loaded) == trip_ids
    assert {document.fields["flight_number"] for document in loaded.values()} == {"NH001"}


# --- hotel names whose index key DynamoDB cannot hold ---


@pytest.mark.parametrize(
    ("hotel_name", "key_bytes"),
    [
        ("旅" * 351, 1053),  # 351 kanji: 1,053 UTF-8 bytes
        ("\ufdfa" * 32, 1056),  # 96 bytes as typed; NFKC spells each as 18 characters of 33 bytes
    ],
)
def test_a_hotel_name_no_index_can_hold_is_a_validation_error(trip_table: Any, hotel_name: str, key_bytes: int) -> None:
    event = saga_input(hotel_details={**saga_input()["hotel_details"], "hotel_name": hotel_name})

    with pytest.raises(BookingValidationError) as refused:
        step("reserve_hotel", event)

    assert refused.value.field == "hotel_details.hotel_name"
    order_key_bytes = key_bytes + 1 + len(TRIP_ID)  # the folded name, U+0000, the trip id
    assert str(refused.value) == (
        f"ReserveHotel: hotel_details.hotel_name: its search key (the folded name, U+0000 and the trip id) is "
        f'{order_key_bytes} bytes in UTF-8, over the 1024 bytes DynamoDB allows an index sort key (AWS, "Constraints '
        'in Amazon DynamoDB"): shorten the name'
    )
    assert trip_items(trip_table) == {}


def test_a_hotel_name_whose_order_key_is_1024_bytes_is_booked(trip_table: Any) -> None:
    name = "旅" * 330 + "a" * (1024 - 3 * 330 - 1 - len(TRIP_ID))  # name, U+0000 and trip id: 1,024 bytes
    assert schema.key_bytes(schema.order_key(schema.hotel_name_search_key(name), TRIP_ID)) == schema.SORT_KEY_BYTES
    event = saga_input(hotel_details={**saga_input()["hotel_details"], "hotel_name": name})

    assert step("reserve_hotel", event)["outcome"] == "reserved"


@pytest.mark.parametrize("hotel_name", ["\u0301", "\x00", "\u0301\u0302\x00"])
def test_a_hotel_name_that_folds_to_nothing_is_a_validation_error(trip_table: Any, hotel_name: str) -> None:
    event = saga_input(hotel_details={**saga_input()["hotel_details"], "hotel_name": hotel_name})

    with pytest.raises(BookingValidationError) as refused:
        step("reserve_hotel", event)

    assert str(refused.value) == (
        "ReserveHotel: hotel_details.hotel_name: holds nothing a hotel name is searched by (only accents or U+0000): "
        "no search could find it"
    )
    assert trip_items(trip_table) == {}


def test_a_flight_number_over_256_characters_is_a_validation_error(trip_table: Any) -> None:
    event = saga_input(flight_details={**saga_input()["flight_details"], "flight_number": "N" * 257})

    with pytest.raises(BookingValidationError) as refused:
        step("reserve_flight", event)

    assert str(refused.value) == (
        "ReserveFlight: flight_details.flight_number: String should have at most 256 characters"
    )
