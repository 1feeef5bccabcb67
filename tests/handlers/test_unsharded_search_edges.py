"""Searches of a table of `Layout.UNSHARDED` answer as the sharded table does, and their tokens go on, for the hotel
names the saga books (U+0000 inside, long names) and for the documents and tokens of the releases before write
sharding."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from services.trip import schema
from services.trip.handlers import search_trips
from services.trip.projection import SearchDocument, index_keys, unsharded_index_keys
from services.trip.schema import Layout
from services.trip.search_tables import SearchTables
from tests import factories as f
from tests.handlers import test_unsharded_tables
from tests.handlers.test_search_tables_parameter import put
from tests.handlers.test_search_trips import api_event
from tests.handlers.test_unsharded_tables import NEXT_TABLE, STACK_TABLE, write_as_before_write_sharding

tables = test_unsharded_tables.tables  # the fixture: the stack's unsharded table live, a sharded one beside it
CONTEXT = f.LambdaContext()
UNSHARDED = {STACK_TABLE: Layout.UNSHARDED}
# Names the saga books (it refuses only a name that folds to nothing, or whose sharded order key is over 1,024 bytes)
NAMES = {"trip-a": "Inn\x00b", "trip-c": "Inna", "trip-d": "Inn", "trip-e": "Innb"}


def _write(table: Any, layout: Layout, names: dict[str, str]) -> None:
    for trip_id, name in names.items():
        fields = {"hotel_name": name}
        document = SearchDocument(trip_id, fields)
        keys = unsharded_index_keys(document) if layout is Layout.UNSHARDED else index_keys(document)
        table.put_item(Item={"trip_id": trip_id, **fields, **keys})


def _search(query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = search_trips.lambda_handler(api_event("/trips/search", "/trips/search", query), CONTEXT)
    return response["statusCode"], json.loads(response["body"])


def _trips(body: dict[str, Any]) -> list[str]:
    return [trip["trip_id"] for trip in body["trips"]]


def test_a_hotel_name_holding_u0000_is_found_by_the_same_prefixes_in_either_layout(tables: tuple[Any, Any]) -> None:
    """Search compares a hotel name without its U+0000 (`schema.hotel_name_search_key`): `innb` finds `Inn\x00b`
    and `grand` finds `\x00Grand` in either layout (`projection.unsharded_index_keys` keys the search key)."""
    unsharded, sharded = tables
    names = {**NAMES, "trip-g": "\x00Grand"}
    _write(unsharded, Layout.UNSHARDED, names)
    _write(sharded, Layout.SHARDED, names)

    answers = {}
    for live, layouts in ((NEXT_TABLE, UNSHARDED), (STACK_TABLE, UNSHARDED)):
        put(SearchTables(live, layouts=layouts))
        answers[live] = [_trips(_search({"hotel_name": prefix})[1]) for prefix in ("innb", "grand")]

    assert answers[NEXT_TABLE] == [["trip-a", "trip-e"], ["trip-g"]]
    assert answers[STACK_TABLE] == answers[NEXT_TABLE]


def test_a_hotel_name_walk_crossing_the_switch_shows_every_trip_once(tables: tuple[Any, Any]) -> None:
    """Both layouts order a name holding U+0000 as its search key: a walk begun on the unsharded table and carried
    across `trip-replay cutover switch` shows every trip once."""
    unsharded, sharded = tables
    _write(unsharded, Layout.UNSHARDED, NAMES)
    _write(sharded, Layout.SHARDED, NAMES)
    put(SearchTables(STACK_TABLE, NEXT_TABLE, UNSHARDED))
    query = {"hotel_name": "inn", "limit": "2"}

    status, first = _search(query)
    put(SearchTables(NEXT_TABLE, STACK_TABLE, UNSHARDED))  # trip-replay cutover switch
    walked = _trips(first)
    token = first.get("next_token")
    while token is not None:
        status, page = _search({**query, "next_token": token})
        assert status == 200, page
        walked += _trips(page)
        token = page.get("next_token")

    assert sorted(walked) == sorted(NAMES)


def test_a_token_carried_across_a_rollback_resumes_inside_the_querys_key_condition(tables: tuple[Any, Any]) -> None:
    """A sharded table's token carried back by a rollback resumes the unsharded table inside the query's key
    condition (DynamoDB refuses an ExclusiveStartKey outside it: "The provided starting key is outside query
    boundaries based on provided condition"; moto does not check, so the test reads the Query the reader sends),
    here for a document the releases before write sharding keyed with its U+0000 (`inn\x00b`)."""
    unsharded, sharded = tables
    write_as_before_write_sharding(unsharded, NAMES)
    _write(sharded, Layout.SHARDED, NAMES)
    put(SearchTables(NEXT_TABLE, STACK_TABLE, UNSHARDED))  # after the switch
    query = {"hotel_name": "innb", "limit": "1"}
    status, first = _search(query)
    assert (status, _trips(first)) == (200, ["trip-a"])

    put(SearchTables(STACK_TABLE, NEXT_TABLE, UNSHARDED))  # switch again: the rollback
    sent: list[dict[str, Any]] = []
    client = search_trips._dynamodb().meta.client
    client.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **_: sent.append(params))
    status, _ = _search({**query, "next_token": first["next_token"]})

    assert status == 200
    (request,) = sent
    assert (request["ExpressionAttributeValues"][":prefix"], request["ExclusiveStartKey"]["hotel_name_key"]) == (
        "innb",
        "innb",  # not trip-a's stored `inn\x00b`, outside begins_with
    )


def test_a_token_of_a_long_hotel_name_written_before_write_sharding_goes_on(tables: tuple[Any, Any]) -> None:
    """The releases before write sharding keyed a hotel name by its fold alone, up to 1,024 bytes: a position cannot
    carry such a key whole (`schema.bounded_order_key` cuts it), and the next page resumes at the trip's stored key."""
    unsharded, _ = tables
    names = {"trip-1": "a" * 1020, "trip-2": "a" * 1000 + "z"}
    write_as_before_write_sharding(unsharded, names)
    assert all(schema.key_bytes(item["hotel_name_key"]) <= 1024 for item in unsharded.scan()["Items"])
    put(SearchTables(STACK_TABLE, layouts=UNSHARDED))

    status, first = _search({"hotel_name": "a", "limit": "1"})
    assert (status, _trips(first)) == (200, ["trip-1"])
    status, second = _search({"hotel_name": "a", "limit": "1", "next_token": first["next_token"]})

    assert (status, second.get("trips")) == (200, [{"trip_id": "trip-2", "hotel_name": "a" * 1000 + "z"}])


def _pre_sharding_token(position: dict[str, str]) -> str:
    """A `next_token` exactly as the releases before write sharding encoded it (448dc78, search/page_token.py, with
    criteria.SearchQuery's fingerprint) for `status=CONFIRMED`."""
    query = {
        "index_name": "flight_status-departure_time-index",
        "partition_attribute": "flight_status",
        "partition_value": "CONFIRMED",
        "sort_attribute": "departure_time",
        "lower": None,
        "upper": None,
        "prefix": None,
    }
    fingerprint = json.dumps(query, sort_keys=True, separators=(",", ":"))
    material = json.dumps([fingerprint, position], sort_keys=True, separators=(",", ":"))
    check = hashlib.sha256(material.encode()).hexdigest()[:32]
    raw = json.dumps({"after": position, "check": check}, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_walk_begun_on_the_release_before_write_sharding_goes_on_after_the_deploy(tables: tuple[Any, Any]) -> None:
    """Step 1 of the move (deploy with `searchTableLayout=unsharded`) keeps searches answered throughout: the new
    SearchTrips takes the old release's `next_token` (its position the index key as a map) and goes on."""
    unsharded, _ = tables
    put(SearchTables(STACK_TABLE, layouts=UNSHARDED))
    for hour in range(4):
        fields = {"flight_status": "CONFIRMED", "departure_time": f"2026-03-10T0{hour}:00:00"}
        unsharded.put_item(Item={"trip_id": f"trip-{hour}", **fields})
    # the old release's first page of `status=CONFIRMED&limit=2` ended at trip-1
    token = _pre_sharding_token(
        {"trip_id": "trip-1", "flight_status": "CONFIRMED", "departure_time": "2026-03-10T01:00:00"}
    )

    status, page = _search({"status": "CONFIRMED", "limit": "2", "next_token": token})

    assert (status, _trips(page) if status == 200 else page) == (200, ["trip-2", "trip-3"])
