"""Batch duration under AWS-like latency: a consumer's wall time for one batch when every AWS call takes
`latency_s`, against its floor: two round trips (read the batch's documents, write them) plus the batch's own
CPU, measured as the same batch with every call answered at once.

DynamoDB is answered by a stand-in at botocore's `before-send` event (no network, no moto): the batch's trips
have no document yet (BatchGetItem finds none) and every conditional PutItem succeeds. So every round does the
same work, and the figures are the consumer's own: its CPU, and how it spends its round trips.
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import boto3
from botocore.awsrequest import AWSResponse

from services.trip import consumer
from services.trip.handlers import kinesis_consumer, stream_consumer
from tests import factories as f

SEARCH_TABLE = "TripSearchTable"
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Workload:
    name: str
    handler: Handler
    records: list[dict[str, Any]]
    trips: int


@dataclass(frozen=True)
class BatchFigure:
    workload: str
    records: int
    trips: int
    floor_s: float  # two round trips + the batch's CPU
    duration_s: float  # median wall time with `latency_s` per call
    requests: int  # AWS calls made by one round

    @property
    def ratio(self) -> float:
        return self.duration_s / self.floor_s


def _trip_changes(trip_id: str, at: Any) -> list[f.Change]:
    """Four changes of one trip: flight, hotel and payment booked, then the flight changed."""
    flight = f.flight(trip_id)
    return [
        f.insert(flight, at),
        f.insert(f.hotel(trip_id), at + timedelta(seconds=1)),
        f.insert(f.payment(trip_id), at + timedelta(seconds=2)),
        f.modify(flight, {**flight, "version": 2, "flight_number": "NH005"}, at + timedelta(seconds=3)),
    ]


def streams_batch(records: int) -> Workload:
    """A DynamoDB Streams batch in order: four changes per trip (100 records: 25 trips)."""
    changes = [c for n in range(records // 4) for c in _trip_changes(f"trip-{n:05d}", f.T0 + timedelta(minutes=n))]
    stream_records = [f.stream_record(c) for c in changes]
    return Workload(f"DynamoDB Streams, {records}", stream_consumer.lambda_handler, stream_records, records // 4)


def kinesis_batch(records: int, seed: int = 7) -> Workload:
    """A Kinesis batch drawn from many trips' changes, shuffled (100 records: about 90 trips)."""
    rng = random.Random(seed)
    trips = records * 5
    changes = [c for n in range(trips) for c in _trip_changes(f"trip-{n:05d}", f.T0 + timedelta(minutes=n))]
    chosen = rng.sample(changes, records)
    kinesis_records = [f.kinesis_record(c) for c in chosen]
    trip_ids = {c.keys["PK"] for c in chosen}
    return Workload(f"Kinesis, {records}", kinesis_consumer.lambda_handler, kinesis_records, len(trip_ids))


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


class AnsweredDynamoDB:
    """DynamoDB as the default session sees it: each call waits `latency_s`, is counted, and is answered at once
    as an empty search table answers (no documents found; every conditional write accepted)."""

    ANSWERS: dict[str, dict[str, Any]] = {
        "BatchGetItem": {"Responses": {SEARCH_TABLE: []}, "UnprocessedKeys": {}},
        "PutItem": {},
        "UpdateItem": {},
        "BatchWriteItem": {"UnprocessedItems": {}},
    }

    def __init__(self) -> None:
        self.latency_s = 0.0
        self.calls = 0
        self._lock = threading.Lock()
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-send.dynamodb", self._answer)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        operation = request.headers["X-Amz-Target"].decode().rpartition(".")[2]
        with self._lock:
            self.calls += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        body = json.dumps(self.ANSWERS[operation]).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Body(body))


@contextmanager
def answered_dynamodb() -> Iterator[AnsweredDynamoDB]:
    """The consumers configured for the search table, their DynamoDB calls answered by `AnsweredDynamoDB`."""
    boto3.setup_default_session(region_name=f.REGION, aws_access_key_id="bench", aws_secret_access_key="bench")
    environment = {"SEARCH_TABLE_NAME": SEARCH_TABLE, "DLQ_URL": "https://sqs.us-east-1.amazonaws.com/1/dlq"}
    consumer.clear_caches()
    try:
        with patch.dict(os.environ, environment):
            yield AnsweredDynamoDB()
    finally:
        consumer.clear_caches()
        boto3.DEFAULT_SESSION = None


def _one_round(workload: Workload, dynamodb: AnsweredDynamoDB, latency_s: float) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) of one batch."""
    dynamodb.latency_s, dynamodb.calls = latency_s, 0
    wall, cpu = time.perf_counter(), time.process_time()
    # Powertools prints a metric's EMF document every 100 values, whatever POWERTOOLS_METRICS_DISABLED says
    with redirect_stdout(io.StringIO()):
        response = workload.handler(f.event(*workload.records), f.LambdaContext())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert response == {"batchItemFailures": []}, response
    return wall, cpu


def measure(workload: Workload, latency_s: float = 0.005, rounds: int = 5) -> BatchFigure:
    """The batch's floor (its CPU with calls answered at once, plus two round trips) and its duration with
    `latency_s` per call, each the median of `rounds`, the two kinds of rounds taken in turn."""
    with answered_dynamodb() as dynamodb:
        workload.handler(f.event(*workload.records[:1]), f.LambdaContext())  # cold start outside the figures
        cpu_s, durations = [], []
        for _ in range(rounds):
            cpu_s.append(_one_round(workload, dynamodb, 0.0)[1])
            requests = dynamodb.calls
            durations.append(_one_round(workload, dynamodb, latency_s)[0])
    floor_s = statistics.median(cpu_s) + 2 * latency_s
    return BatchFigure(
        workload.name, len(workload.records), workload.trips, floor_s, statistics.median(durations), requests
    )
