"""A batch's round trips overlap: its trips are written at once, each trip's guarantees intact."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest

from services.trip import consumer
from services.trip.adapters.search_documents import CONCURRENT_REQUESTS, SearchDocuments
from services.trip.handlers import kinesis_consumer
from services.trip.projection import SearchDocument
from services.trip.schema import Layout
from tests import factories as f

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

TRIPS = 8
CONTEXT = f.LambdaContext()


@pytest.fixture
def projection(search_table: Any, dlq_url: str) -> Iterator[Any]:
    consumer.clear_caches()
    boto3.setup_default_session()
    yield boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = None
    consumer.clear_caches()


def _trip_id_of(params: dict[str, Any]) -> str:
    trip_id = params["Item"]["trip_id"]
    return str(trip_id["S"] if isinstance(trip_id, dict) else trip_id)


def test_the_trips_of_a_batch_are_written_at_the_same_time(search_table: Any, projection: Any) -> None:
    # given a write that is answered only once every trip's write is in flight (a sequential writer never gets there)
    all_in_flight = threading.Barrier(TRIPS, timeout=10)
    in_flight: list[str] = []

    def hold_until_all_in_flight(params: dict[str, Any], **_: Any) -> None:
        in_flight.append(_trip_id_of(params))
        all_in_flight.wait()

    projection.events.register("before-parameter-build.dynamodb.PutItem", hold_until_all_in_flight)
    changes = [f.insert(f.flight(f"trip-{n:03d}")) for n in range(TRIPS)]

    # when one batch carries a change of each trip
    response = kinesis_consumer.lambda_handler(f.event(*(f.kinesis_record(c) for c in changes)), f.LambdaContext())

    # then all eight writes were in flight together, and each trip's document is there
    assert response == {"batchItemFailures": []}
    assert sorted(in_flight) == [f"trip-{n:03d}" for n in range(TRIPS)]
    assert all_in_flight.broken is False
    assert sorted(item["trip_id"] for item in search_table.scan()["Items"]) == sorted(in_flight)


def test_a_trips_changes_are_written_once_by_one_thread(search_table: Any, projection: Any) -> None:
    puts: list[str] = []
    projection.events.register(
        "before-parameter-build.dynamodb.PutItem", lambda params, **_: puts.append(_trip_id_of(params))
    )
    saga = [f.insert(f.flight("trip-001")), f.insert(f.hotel("trip-001")), f.insert(f.payment("trip-001"))]

    response = kinesis_consumer.lambda_handler(f.event(*(f.kinesis_record(c) for c in saga)), f.LambdaContext())

    assert response == {"batchItemFailures": []}
    assert puts == ["trip-001"]


def test_the_connection_pool_matches_the_concurrency(search_table: Any, projection: Any) -> None:
    projector = consumer._projector(search_table.name, Layout.SHARDED)

    assert projector.documents.concurrent_requests == CONCURRENT_REQUESTS == 50
    assert projector._threads._max_workers == CONCURRENT_REQUESTS


def test_the_consumers_read_the_search_table_eventually_consistent(search_table: Any, projection: Any) -> None:
    consistent: list[bool] = []
    projection.events.register(
        "before-parameter-build.dynamodb.BatchGetItem",
        lambda params, **_: consistent.append(params["RequestItems"][search_table.name]["ConsistentRead"]),
    )

    response = kinesis_consumer.lambda_handler(f.event(f.kinesis_record(f.insert(f.flight("trip-001")))), CONTEXT)

    assert response == {"batchItemFailures": []}
    assert consistent == [False]


def _document(search_table: Any, trip_id: str) -> dict[str, Any]:
    item: dict[str, Any] = search_table.get_item(Key={"trip_id": trip_id}, ConsistentRead=True)["Item"]
    return item


def _stale_once(monkeypatch: pytest.MonkeyPatch, stale: dict[str, SearchDocument]) -> None:
    """The consumer's next read answers `stale`, as an eventually consistent read may just after a write."""
    real_load = SearchDocuments.load_many
    answered: list[bool] = []

    def load_stale_once(self: SearchDocuments, trip_ids: Any) -> dict[str, SearchDocument]:
        if answered:
            return real_load(self, trip_ids)
        answered.append(True)
        return stale

    monkeypatch.setattr(SearchDocuments, "load_many", load_stale_once)


def _count_puts(projection: Any) -> list[str]:
    """The trip of every PutItem the consumers send from now on (register before their client is built)."""
    puts: list[str] = []
    projection.events.register(
        "before-parameter-build.dynamodb.PutItem", lambda params, **_: puts.append(_trip_id_of(params))
    )
    return puts


def test_a_stale_read_that_misses_the_document_is_refused_and_refolded(
    search_table: Any, projection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the flight's document written, and a read that does not see it yet
    puts = _count_puts(projection)
    kinesis_consumer.lambda_handler(f.event(f.kinesis_record(f.insert(f.flight("trip-001")))), CONTEXT)
    _stale_once(monkeypatch, {})
    puts.clear()

    # when the hotel's change is projected on that read
    response = kinesis_consumer.lambda_handler(f.event(f.kinesis_record(f.insert(f.hotel("trip-001")))), CONTEXT)

    # then the write as a new document is refused, and the fold over the stored one lands both changes
    assert response == {"batchItemFailures": []}
    assert puts == ["trip-001", "trip-001"]
    item = _document(search_table, "trip-001")
    assert (item["flight_status"], item["hotel_status"], item["revision"]) == ("CONFIRMED", "CONFIRMED", Decimal(2))


def test_a_stale_read_of_an_older_revision_is_refused_and_refolded(
    search_table: Any, projection: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given revision 1 (the flight) as a stale read still answers it, while the table holds revision 2 (the hotel)
    puts = _count_puts(projection)
    kinesis_consumer.lambda_handler(f.event(f.kinesis_record(f.insert(f.flight("trip-001")))), CONTEXT)
    revision_1 = SearchDocuments(search_table.name, boto3.resource("dynamodb")).load_many(["trip-001"])
    kinesis_consumer.lambda_handler(f.event(f.kinesis_record(f.insert(f.hotel("trip-001")))), CONTEXT)
    _stale_once(monkeypatch, revision_1)
    puts.clear()

    # when the payment's change is projected on the stale read
    response = kinesis_consumer.lambda_handler(f.event(f.kinesis_record(f.insert(f.payment("trip-001")))), CONTEXT)

    # then the write on revision 1 is refused and the refold over revision 2 keeps the hotel
    assert response == {"batchItemFailures": []}
    assert puts == ["trip-001", "trip-001"]
    item = _document(search_table, "trip-001")
    assert (item["flight_status"], item["hotel_status"], item["revision"]) == ("CONFIRMED", "CONFIRMED", Decimal(3))
    assert "payment_status" in item
