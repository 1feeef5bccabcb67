"""A page's shard queries, as they run at once and in rounds: each keeps its own key condition, and a trip read in
both rounds is shown once."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from boto3.dynamodb import conditions

from services.trip import schema
from services.trip.handlers import search_trips
from services.trip.search.criteria import flight_status_query
from services.trip.search.reader import SearchTableReader
from tests.handlers.test_search_trips import flight, fresh_settings_and_clients, put_document, search  # noqa: F401  (autouse)

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local


def test_concurrent_shard_queries_keep_their_own_key_condition(
    search_table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 turns `Key(...)` conditions into placeholders with one builder per resource whose counters every
    request resets and bumps without a lock: two shard queries interleaving there would give one the other's
    values (a shard read as empty) or a name twice (a ValidationException, a 500). The reader writes its
    expressions itself; a builder slowed down here (a thread switch in mid-build) must not matter."""
    trip_ids = [f"trip-{n:03d}" for n in range(200)]
    for n, trip_id in enumerate(trip_ids):
        put_document(search_table, flight(trip_id, f"2026-03-{1 + n % 28:02d}T10:00:00"))
    original = conditions.ConditionExpressionBuilder._get_name_placeholder

    def yielding(self: Any) -> str:
        name = original(self)
        time.sleep(0.001)  # a thread switch here; what the placeholder is does not change
        return name

    monkeypatch.setattr(conditions.ConditionExpressionBuilder, "_get_name_placeholder", yielding)
    reader = SearchTableReader(boto3.resource("dynamodb", region_name="us-east-1").Table(search_table.name))
    expected = sorted(f"2026-03-{1 + n % 28:02d}T10:00:00\x00{trip_id}" for n, trip_id in enumerate(trip_ids))[:100]

    page = reader.page(flight_status_query("CONFIRMED", "2026-03-01", "2026-03-28"), 100, None)

    assert [document["departure_order"] for document in page.documents] == expected


def test_a_trip_moved_between_the_two_rounds_of_a_page_is_shown_once_at_its_new_place(
    search_table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "SEARCH_SHARDS", 2)
    ids = [trip_id for trip_id in (f"trip-{n:03d}" for n in range(100)) if schema.trip_shard(trip_id) == 0][:20]
    for n, trip_id in enumerate(ids):
        put_document(search_table, flight(trip_id, f"2026-03-{1 + n:02d}T10:00:00"))
    real_read = search_trips.SearchTableReader._read
    rounds: list[int] = []

    def read_then_rebook(self: Any, needs: Any, query: Any) -> None:
        if rounds:  # between round 1 and round 2: the 3rd trip's flight is rebooked on 9 March, 12:00
            put_document(search_table, flight(ids[2], "2026-03-09T12:00:00"))
        rounds.append(len(needs))
        real_read(self, needs, query)

    monkeypatch.setattr(search_trips.SearchTableReader, "_read", read_then_rebook)

    status, body = search(status="CONFIRMED", limit="10")

    assert (status, len(rounds)) == (200, 2)
    # departures 1 to 10 March, the 3rd trip now after the 9th's: ten trips, each once
    assert [trip["trip_id"] for trip in body["trips"]] == [*ids[:2], *ids[3:9], ids[2], ids[9]]
