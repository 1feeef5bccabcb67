"""A stack deployed before write sharding keeps its table until a cutover moves it: the functions write and read a
table the parameter names `unsharded` with the keys and indexes of those releases (schema.Layout), and a search
walked across the switch goes on in the sharded table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.trip import consumer, schema
from services.trip.handlers import kinesis_consumer, search_trips
from services.trip.projection import SearchDocument, index_keys, unindexed, unsharded_index_keys
from services.trip.schema import Layout
from services.trip.search_tables import SearchTables
from tests import factories as f
from tests.conftest import REGION, create_search_table
from tests.handlers.test_search_pages_exact import _bound, _expected, _fields, _walk, searches, trips
from tests.handlers.test_search_tables_parameter import PARAMETER, get, put
from tests.handlers.test_search_trips import api_event

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

CONTEXT = f.LambdaContext()
STACK_TABLE = "TripSagaStack-TripSearchTable-1X2Y3Z"
NEXT_TABLE = "TripSagaStack-search-next"


@pytest.fixture
def tables(aws: None, dlq_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """The stack's unsharded table live (`searchTableLayout=unsharded`) and a sharded one beside it."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    unsharded = create_search_table(dynamodb, STACK_TABLE, layout=Layout.UNSHARDED)
    sharded = create_search_table(dynamodb, NEXT_TABLE)
    monkeypatch.setenv("SEARCH_TABLES_PARAMETER", PARAMETER)
    yield unsharded, sharded
    for clear in (parameters.clear_caches, consumer.clear_caches, search_trips.clear_caches):
        clear()


def write_as_before_write_sharding(table: Any, names: dict[str, str]) -> None:
    """Documents as those releases keyed them: the fold alone, U+0000 kept, up to 1,024 bytes."""
    for trip_id, name in names.items():
        key = schema.fold_hotel_name(name)
        keys = {"hotel_name_initial": key[:1], "hotel_name_key": key}
        table.put_item(Item={"trip_id": trip_id, "hotel_name": name, **keys})


def test_a_consumer_writes_each_table_with_the_keys_of_its_layout(tables: tuple[Any, Any]) -> None:
    unsharded, sharded = tables
    put(SearchTables(STACK_TABLE, NEXT_TABLE, {STACK_TABLE: Layout.UNSHARDED}))
    changes = [
        f.insert(f.flight("trip-001", departure_time="2026-03-10T09:00:00"), at=f.later(0)),
        f.insert(f.hotel("trip-001", hotel_name="Hôtel Ab"), at=f.later(1)),
    ]

    response = kinesis_consumer.lambda_handler(f.event(*(f.kinesis_record(c) for c in changes)), CONTEXT)

    assert response == {"batchItemFailures": []}
    old, new = get(unsharded, "trip-001"), get(sharded, "trip-001")
    assert (old["hotel_name_initial"], old["hotel_name_key"]) == ("h", "hotel ab")
    assert not {key for index in schema.SEARCH_INDEXES for key in (index.partition, index.sort)} & set(old)
    shard = f"{schema.trip_shard('trip-001'):03d}"
    assert (new["flight_status_shard"], new["hotel_name_shard"]) == (f"CONFIRMED#{shard}", f"h#{shard}")
    assert new["departure_order"] == "2026-03-10T09:00:00\x00trip-001"
    assert new["hotel_name_order"] == "hotel ab\x00trip-001"
    assert not {"hotel_name_initial", "hotel_name_key"} & set(new)


def test_a_hotel_name_no_unsharded_key_can_hold_is_written_unindexed() -> None:
    document = SearchDocument("trip-001", {"hotel_name": "\u0301\u0301"})  # accents only: folds to nothing
    assert unsharded_index_keys(document) == {}
    assert unindexed({"trip_id": "trip-001", "hotel_name": "\u0301\u0301"}, Layout.UNSHARDED) == (
        "hotel_name_prefix-index",
    )
    long_name = SearchDocument("trip-002", {"hotel_name": "h" * (schema.SORT_KEY_BYTES + 1)})
    assert unsharded_index_keys(long_name) == {}


@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(all_trips=trips, search=searches, limit=st.integers(min_value=1, max_value=7))
def test_every_page_of_a_search_of_an_unsharded_table_is_the_brute_force(
    tables: tuple[Any, Any], all_trips: dict[str, dict[str, Any]], search: dict[str, str], limit: int
) -> None:
    """The same trips as the brute force, once each, in its order of values; ties of one value in DynamoDB's order
    (those releases' index sorts by the value alone)."""
    unsharded, _ = tables
    lower, upper = _bound(search.get("from"), end_of_day=False), _bound(search.get("to"), end_of_day=True)
    if lower is not None and upper is not None and lower > upper:
        search = {name: value for name, value in search.items() if name != "to"}
    put(SearchTables(STACK_TABLE, layouts={STACK_TABLE: Layout.UNSHARDED}))
    for item in unsharded.scan(ConsistentRead=True)["Items"]:
        unsharded.delete_item(Key={"trip_id": item["trip_id"]})
    for trip_id, trip in all_trips.items():
        fields = _fields(trip)
        unsharded.put_item(Item={"trip_id": trip_id, **fields, **unsharded_index_keys(SearchDocument(trip_id, fields))})

    pages = _walk(search, limit)

    walked = [trip_id for page in pages for trip_id in page]
    expected = _expected(all_trips, search)
    assert sorted(walked, key=expected.index) == expected  # the same trips, each once
    values = [_value(all_trips[trip_id], search) for trip_id in walked]
    assert values == sorted(values)
    assert all(len(page) == limit for page in pages[:-1])


def _value(trip: dict[str, Any], search: dict[str, str]) -> str:
    return schema.hotel_name_search_key(trip["hotel_name"]) if "hotel_name" in search else trip["flight"][1]


def test_a_search_walked_across_the_switch_goes_on_in_the_sharded_table(tables: tuple[Any, Any]) -> None:
    unsharded, sharded = tables
    put(SearchTables(STACK_TABLE, NEXT_TABLE, {STACK_TABLE: Layout.UNSHARDED}))
    trip_ids = [f"trip-{n:03d}" for n in range(9)]
    for hour, trip_id in enumerate(trip_ids):
        fields = {"flight_status": "CONFIRMED", "departure_time": f"2026-03-10T0{hour}:00:00", "hotel_name": "Inn"}
        document = SearchDocument(trip_id, fields)
        unsharded.put_item(Item={"trip_id": trip_id, **fields, **unsharded_index_keys(document)})
        sharded.put_item(Item={"trip_id": trip_id, **fields, **index_keys(document)})
    query = {"status": "CONFIRMED", "limit": "4"}

    first = _page(query)
    put(SearchTables(NEXT_TABLE, STACK_TABLE, {STACK_TABLE: Layout.UNSHARDED}))  # trip-replay cutover switch
    second = _page({**query, "next_token": first["next_token"]})
    third = _page({**query, "next_token": second["next_token"]})

    assert [[trip["trip_id"] for trip in page["trips"]] for page in (first, second, third)] == [
        trip_ids[:4],
        trip_ids[4:8],
        trip_ids[8:],
    ]
    assert "next_token" not in third


def _page(query: dict[str, str]) -> dict[str, Any]:
    response = search_trips.lambda_handler(api_event("/trips/search", "/trips/search", query), CONTEXT)
    assert response["statusCode"] == 200, response["body"]
    body: dict[str, Any] = json.loads(response["body"])
    return body


def test_a_hotel_name_walk_resumes_exactly_after_a_name_holding_u0000(tables: tuple[Any, Any]) -> None:
    """Those releases keyed the fold with its U+0000 (`Inn\\x00b` sorts before `Inna`); a position leaves it out, and
    the page resumes at the stored key all the same: every trip once, in the old index's order. (This release keys
    such a name without its U+0000, as the sharded table does.)"""
    unsharded, _ = tables
    put(SearchTables(STACK_TABLE, layouts={STACK_TABLE: Layout.UNSHARDED}))
    names = {"trip-a": "Inn\x00b", "trip-b": "Inn\x00c", "trip-c": "Inna", "trip-d": "Inn", "trip-e": "Innb"}
    write_as_before_write_sharding(unsharded, names)

    pages = _walk({"hotel_name": "inn"}, limit=1)

    assert pages == [["trip-d"], ["trip-a"], ["trip-b"], ["trip-c"], ["trip-e"]]
