"""The functions follow the search-tables parameter: the consumers write the live table and its shadow, the search
API reads the live one, and a switch needs no redeploy (services.trip.search_tables)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from services.trip import consumer, search_tables
from services.trip.config import ConfigurationError
from services.trip.handlers import kinesis_consumer, search_trips
from services.trip.projection import content
from services.trip.schema import Layout
from services.trip.search_tables import SearchTables, SearchTablesError, parse
from tests import factories as f
from tests.conftest import REGION, create_search_table

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

CONTEXT = f.LambdaContext()
PARAMETER = "/TripSagaStack/search-tables"
SAGA = [
    f.insert(f.flight("trip-001"), at=f.later(0)),
    f.insert(f.hotel("trip-001"), at=f.later(1)),
    f.insert(f.payment("trip-001"), at=f.later(2)),
]


@pytest.fixture
def tables(search_table: Any, dlq_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """TripSearchTable live, a next version beside it, and the parameter naming them (the stack's environment)."""
    shadow = create_search_table(boto3.resource("dynamodb", region_name=REGION), "TripSagaStack-search-next")
    monkeypatch.delenv("SEARCH_TABLE_NAME")
    monkeypatch.setenv("SEARCH_TABLES_PARAMETER", PARAMETER)
    put(SearchTables(search_table.name, shadow.name))
    yield search_table, shadow
    for clear in (parameters.clear_caches, consumer.clear_caches, search_trips.clear_caches):
        clear()


def put(tables: SearchTables) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETER, Value=tables.to_json(), Type="String", Overwrite=True
    )
    parameters.clear_caches()  # as if the functions' cache (SEARCH_TABLES_MAX_AGE_SECONDS) had run out


def get(table: Any, trip_id: str) -> dict[str, Any]:
    return table.get_item(Key={"trip_id": trip_id}, ConsistentRead=True).get("Item", {})


def api_get(trip_id: str) -> dict[str, Any]:
    event = {"httpMethod": "GET", "path": f"/trips/{trip_id}", "resource": "/trips/{trip_id}"}
    response = search_trips.lambda_handler({**event, "pathParameters": {"trip_id": trip_id}}, CONTEXT)
    return {"status": response["statusCode"], **json.loads(response["body"])}


def test_the_consumers_project_every_change_into_the_live_table_and_its_shadow(tables: Any) -> None:
    live, shadow = tables

    response = kinesis_consumer.lambda_handler(f.event(*(f.kinesis_record(c) for c in SAGA)), CONTEXT)

    assert response == {"batchItemFailures": []}
    assert get(live, "trip-001")["payment_status"] == "COMPLETED"
    assert content(get(shadow, "trip-001")) == content(get(live, "trip-001"))


def test_a_change_the_shadow_cannot_take_is_retried_though_the_live_table_took_it(tables: Any) -> None:
    live, shadow = tables
    shadow.delete()  # e.g. deleted before its retirement reached every function

    response = kinesis_consumer.lambda_handler(f.event(f.kinesis_record(SAGA[0], sequence_number="7")), CONTEXT)

    assert response == {"batchItemFailures": [{"itemIdentifier": "7"}]}
    assert get(live, "trip-001")["flight_status"] == "CONFIRMED"
    put(SearchTables(live.name))  # retired: the retry lands, a no-op where it had landed
    again = kinesis_consumer.lambda_handler(f.event(f.kinesis_record(SAGA[0], sequence_number="7")), CONTEXT)
    assert again == {"batchItemFailures": []}


def test_the_search_api_reads_the_live_table_and_follows_a_switch_without_a_redeploy(tables: Any) -> None:
    live, shadow = tables
    live.put_item(Item={"trip_id": "trip-001", "flight_status": "CONFIRMED"})
    shadow.put_item(Item={"trip_id": "trip-001", "flight_status": "CANCELLED"})
    assert api_get("trip-001")["flight_status"] == "CONFIRMED"

    put(SearchTables(shadow.name, live.name))

    assert api_get("trip-001")["flight_status"] == "CANCELLED"


def test_without_the_parameter_search_table_name_is_the_live_table(search_table: Any) -> None:
    assert search_tables.current() == SearchTables(search_table.name)


def test_a_parameter_that_says_nothing_usable_fails_the_invocation_naming_it(
    tables: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=PARAMETER, Value='{"live": ""}', Type="String", Overwrite=True
    )
    parameters.clear_caches()

    with pytest.raises(ConfigurationError, match=f"SSM parameter {PARAMETER}: \"live\" must name a table, got ''"):
        search_tables.current()


@pytest.mark.parametrize(
    "value, error",
    [
        ("nope", "not JSON: 'nope'"),
        ("[]", 'expected {"live": NAME, "shadow": NAME or null, "layouts": {NAME: LAYOUT}}, got \'[]\''),
        ('{"live": "a", "next": "b"}', 'expected {"live": NAME, "shadow": NAME or null, "layouts": {NAME: LAYOUT}}'),
        ('{"live": "a", "layouts": ["a"]}', '"layouts" must map table names to a layout (sharded, unsharded), got'),
        (
            '{"live": "a", "layouts": {"a": "v1"}}',
            "\"layouts\": table 'a' has layout 'v1', not one of sharded, unsharded",
        ),
        ('{"live": "a", "shadow": 3}', '"shadow" must name a table or be null, got 3'),
        ('{"live": "a", "shadow": "a"}', "table a cannot be both the live table and its shadow"),
    ],
)
def test_the_parameters_value_is_checked(value: str, error: str) -> None:
    with pytest.raises(SearchTablesError) as raised:
        parse(value)
    assert str(raised.value).startswith(error)


def test_the_parameters_value_reads_back_as_written() -> None:
    tables = SearchTables("TripSearchTable", "TripSagaStack-search-next")
    assert tables.to_json() == '{"live": "TripSearchTable", "shadow": "TripSagaStack-search-next"}'
    assert parse(tables.to_json()) == tables
    assert tables.written == ("TripSearchTable", "TripSagaStack-search-next")


def test_the_tables_of_the_releases_before_write_sharding_are_named_with_their_layout() -> None:
    tables = SearchTables("TripSearchTable", "TripSagaStack-search-next", {"TripSearchTable": Layout.UNSHARDED})
    assert tables.to_json() == (
        '{"live": "TripSearchTable", "shadow": "TripSagaStack-search-next", '
        '"layouts": {"TripSearchTable": "unsharded"}}'
    )
    assert parse(tables.to_json()) == tables
    assert (tables.layout_of("TripSearchTable"), tables.layout_of("TripSagaStack-search-next")) == (
        Layout.UNSHARDED,
        Layout.SHARDED,
    )
