"""Every page of any search, merged from the index shards, against a brute force over all trips.

Random trips (ties in departure time and hotel name included, trips without a flight or a hotel) are written as the
projection keys them; a random search is walked page by page through SearchTrips on moto, following each
`next_token`. The trips it returns, in order, must be exactly the brute force's: every trip the search matches,
once, in the documented order (departure time, or folded hotel name; then trip id), every page but the last
holding exactly `limit` trips and the last one no token. Run with the stack's 64 shards (most shards empty, a page
from many) and with 3 shards read without slack (many trips a shard, pages often settled in a second round).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from services.trip import schema, times
from services.trip.handlers import search_trips
from services.trip.projection import SearchDocument, index_keys
from services.trip.search import reader
from tests import factories as f
from tests.conftest import create_search_table
from tests.dynamodb_engines import Engine
from tests.handlers.test_search_trips import api_event

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

CONTEXT: Any = f.LambdaContext(function_name="TripSagaStack-SearchTrips")
DEPARTURES = ["2026-03-01T08:00:00", "2026-03-01T10:00:00", "2026-03-01T10:00:00.500000", "2026-03-02T00:00:00"]
DEPARTURES += ["2026-03-02T23:59:59", "2026-03-03T10:00:00"]
HOTEL_NAMES = ["Hotel A", "H\u00f4tel a", "HOTEL", "Hotel Ab", "Grand", "grand hotel", "\u30db\u30c6\u30eb", "The Inn"]
RANGE_ENDS = [None, "2026-03-01", "2026-03-02", "2026-03-01T10:00", "2026-03-01T10:00:00.5", "2026-03-03"]
PREFIXES = ["h", "HOT", "hotel a", "HÔTEL", "g", "grand h", "\u30db", "t", "x"]


def _skewed_ids() -> list[str]:
    """Trip ids half of which fall in one shard of 3 (`trip_shard` with 3 shards): that shard then holds about half
    of a page, more than the third its first read asks for, so round 2 must find the rest."""
    saved, schema.SEARCH_SHARDS = schema.SEARCH_SHARDS, 3
    try:
        by_shard: dict[int, list[str]] = {0: [], 1: [], 2: []}
        for n in range(200):
            by_shard[schema.trip_shard(f"t-{n}")].append(f"t-{n}")
    finally:
        schema.SEARCH_SHARDS = saved
    return by_shard[0][:30] + by_shard[1][:15] + by_shard[2][:15]


TRIP_IDS = st.sampled_from(_skewed_ids())

trips = st.dictionaries(
    TRIP_IDS,
    st.fixed_dictionaries(
        {},
        optional={
            "flight": st.tuples(st.sampled_from(["CONFIRMED", "CANCELLED"]), st.sampled_from(DEPARTURES)),
            "hotel_name": st.sampled_from(HOTEL_NAMES),
        },
    ),
    min_size=20,
    max_size=60,
)
searches = st.one_of(
    st.fixed_dictionaries(
        {"status": st.sampled_from(["CONFIRMED", "cancelled"])},
        optional={"from": st.sampled_from(RANGE_ENDS[1:]), "to": st.sampled_from(RANGE_ENDS[1:])},
    ),
    st.fixed_dictionaries({"hotel_name": st.sampled_from(PREFIXES)}),
)


@pytest.fixture(params=[(schema.SEARCH_SHARDS, reader._SLACK), (3, 0)], ids=["64-shards", "3-shards-no-slack"])
def shards(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The stack's shards and first reads, or 3 shards each first asked for just its even share: then a shard
    often holds more of the page than its first read, and round 2 must find the rest."""
    count, slack = request.param
    monkeypatch.setattr(schema, "SEARCH_SHARDS", count)
    monkeypatch.setattr(reader, "_SLACK", slack)
    monkeypatch.setenv("SEARCH_TABLE_NAME", "TripSearchTable")
    yield count
    search_trips.clear_caches()


def _fields(trip: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "flight" in trip:
        fields["flight_status"], fields["departure_time"] = trip["flight"]
        fields["flight_number"] = "NH001"
    if "hotel_name" in trip:
        fields["hotel_name"] = trip["hotel_name"]
    return fields


def _expected(all_trips: dict[str, dict[str, Any]], search: dict[str, str]) -> list[str]:
    """The brute force: filter every trip, sort by the documented order."""
    if "hotel_name" in search:
        prefix = schema.hotel_name_search_key(search["hotel_name"])
        named = {
            trip_id: schema.hotel_name_search_key(trip["hotel_name"])
            for trip_id, trip in all_trips.items()
            if "hotel_name" in trip
        }
        return sorted(
            (trip_id for trip_id, key in named.items() if key.startswith(prefix)), key=lambda t: (named[t], t)
        )
    status = search["status"].upper()
    lower, upper = _bound(search.get("from"), end_of_day=False), _bound(search.get("to"), end_of_day=True)
    matched = [
        (departure, trip_id)
        for trip_id, trip in all_trips.items()
        if "flight" in trip
        for flight_status, departure in [trip["flight"]]
        if flight_status == status and (lower is None or lower <= departure) and (upper is None or departure <= upper)
    ]
    return [trip_id for _, trip_id in sorted(matched)]


def _bound(raw: str | None, *, end_of_day: bool) -> str | None:
    """A range end as stored times compare with it: a date covers its whole day."""
    if raw is None:
        return None
    if "T" not in raw:
        return f"{raw}T24:00:00" if end_of_day else raw
    return times.local_date_time(raw)


def _walk(search: dict[str, str], limit: int) -> list[list[str]]:
    pages, token = [], None
    while True:
        query = {**search, "limit": str(limit), **({"next_token": token} if token else {})}
        response = search_trips.lambda_handler(api_event("/trips/search", "/trips/search", query), CONTEXT)
        assert response["statusCode"] == 200, response["body"]
        body = json.loads(response["body"])
        pages.append([trip["trip_id"] for trip in body["trips"]])
        token = body.get("next_token")
        if token is None:
            return pages
        assert len(pages) <= 61, "more pages than trips"


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(all_trips=trips, search=searches, limit=st.integers(min_value=1, max_value=7))
def test_every_page_of_a_search_is_the_brute_force_in_order(
    shards: int,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    all_trips: dict[str, dict[str, Any]],
    search: dict[str, str],
    limit: int,
) -> None:
    lower, upper = _bound(search.get("from"), end_of_day=False), _bound(search.get("to"), end_of_day=True)
    if lower is not None and upper is not None and lower > upper:
        search = {name: value for name, value in search.items() if name != "to"}  # the API refuses to < from
    with mock_aws(), engine.serving(monkeypatch):
        search_trips.clear_caches()
        table = create_search_table(boto3.resource("dynamodb", region_name=f.REGION))
        for trip_id, trip in all_trips.items():
            fields = _fields(trip)
            table.put_item(Item={"trip_id": trip_id, **fields, **index_keys(SearchDocument(trip_id, fields))})

        pages = _walk(search, limit)

    assert [trip_id for page in pages for trip_id in page] == _expected(all_trips, search)
    assert all(len(page) == limit for page in pages[:-1])
    assert len(pages[-1]) <= limit


def test_a_shard_holding_the_whole_page_is_read_on_to_its_end_in_round_two(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "SEARCH_SHARDS", 3)
    monkeypatch.setattr(reader, "_SLACK", 0)
    monkeypatch.setenv("SEARCH_TABLE_NAME", "TripSearchTable")
    by_shard: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for n in range(60):
        by_shard[schema.trip_shard(f"t{n:03d}")].append(f"t{n:03d}")
    early = by_shard[0][:5]  # the page: five trips of one shard, departing first
    later = by_shard[1][:3] + by_shard[2][:3]
    with mock_aws(), engine.serving(monkeypatch):
        search_trips.clear_caches()
        table = create_search_table(boto3.resource("dynamodb", region_name=f.REGION))
        for day, trip_ids in (("01", early), ("02", later)):
            for hour, trip_id in enumerate(trip_ids):
                fields = {"flight_status": "CONFIRMED", "departure_time": f"2026-03-{day}T0{hour}:00:00"}
                table.put_item(Item={"trip_id": trip_id, **fields, **index_keys(SearchDocument(trip_id, fields))})

        pages = _walk({"status": "CONFIRMED"}, limit=5)
        search_trips.clear_caches()

    # round 1 reads 2 of each shard (6 for a page of 5 and one more): shard 0's other 3 come in round 2
    assert pages == [early, later[:5], later[5:]]
