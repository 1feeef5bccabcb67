"""A batch's round trips overlap: its trips are written at once, each trip's guarantees intact."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from services.trip import config, consumer
from services.trip.adapters.search_documents import CONCURRENT_REQUESTS
from services.trip.handlers import kinesis_consumer
from tests import factories as f

TRIPS = 8


@pytest.fixture
def projection(search_table: Any, dlq_url: str) -> Iterator[Any]:
    config.projector_settings.cache_clear()
    consumer._adapters.cache_clear()
    boto3.setup_default_session()
    yield boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = None
    consumer._adapters.cache_clear()
    config.projector_settings.cache_clear()


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


def test_the_connection_pool_matches_the_concurrency(projection: Any) -> None:
    projector, _ = consumer._adapters()

    assert projector.documents.concurrent_requests == CONCURRENT_REQUESTS == 50
    assert projector._threads._max_workers == CONCURRENT_REQUESTS
