"""Rebuild vs per-record replay: wall time and write requests of `replay run --target-table` against one
conditional UpdateItem per change, on the same saga workload, with every DynamoDB call taking `latency_s`.

The rebuild is replay's own path into a new table: pages of records as GetRecords returns them (up to 10,000),
decoded by the consumers' decoder, folded per trip by `RebuildWriter`, whose flush writes the whole documents with
BatchWriteItem (as a run does when it checkpoints; here once, at the end). The per-record replay is
`bench.saga.per_record_baseline`. DynamoDB is answered by `AnsweredDynamoDB` (no network, no moto), so the
figures are each side's own CPU and how it spends its round trips.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from bench.batch_latency import AnsweredDynamoDB, answered_dynamodb
from bench.saga import per_record_baseline, saga_workload
from replay.writers import REBUILD_WRITE_CONFIG, RebuildWriter
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.changes import TripChange, decode_stream_record
from services.trip.config import DEFAULT_TOMBSTONE_TTL_SECONDS
from tests import factories as f

TARGET_TABLE = "TripSearchRebuild"
PAGE_RECORDS = 10_000  # GetRecords returns at most 10,000 records (Kinesis API reference)
CHANGES_PER_TRIP = 5.2  # a little less than saga_workload's 5.3: enough sagas for the changes asked


@dataclass(frozen=True)
class Side:
    seconds: float  # median wall time of the rounds
    requests: int  # DynamoDB requests of one round


@dataclass(frozen=True)
class RebuildFigure:
    changes: int
    trips: int
    latency_s: float
    per_record: Side
    rebuild: Side

    @property
    def speedup(self) -> float:
        return self.per_record.seconds / self.rebuild.seconds

    @property
    def fewer_requests(self) -> float:
        return self.per_record.requests / self.rebuild.requests


def workload(changes: int) -> list[dict[str, Any]]:
    """The first `changes` DynamoDB Streams records of concurrent sagas, in the order they were written."""
    timeline = saga_workload(int(changes / CHANGES_PER_TRIP) + 10)
    assert len(timeline) >= changes, (len(timeline), changes)
    return [f.stream_record(change) for change in timeline[:changes]]


def rebuild(records: list[dict[str, Any]], dynamodb: Any, writes: Any) -> int:
    """Rebuild the records' documents into a new table; returns the documents written. `dynamodb` (a resource),
    `writes` (a client): as `replay run` makes them, with botocore's default pool of 10 connections."""
    writer = RebuildWriter(
        SearchDocuments(TARGET_TABLE, dynamodb),
        writes,
        DEFAULT_TOMBSTONE_TTL_SECONDS,
        target_may_hold_documents=False,
        dry_run=False,
    )
    for start in range(0, len(records), PAGE_RECORDS):
        changes: list[TripChange] = []
        for record in records[start : start + PAGE_RECORDS]:
            change = decode_stream_record(record)
            assert change is not None
            changes.append(change)
        writer.project(changes)
    writer.flush()
    return writer.documents_written


def _timed(run: Callable[[], object], answered: AnsweredDynamoDB, latency_s: float) -> tuple[float, int]:
    answered.latency_s, answered.calls = latency_s, 0
    started = time.perf_counter()
    run()
    return time.perf_counter() - started, answered.calls


def measure(
    changes: int = 20_000, latency_s: float = 0.0, rounds: int = 3, per_record_rounds: int = 3
) -> RebuildFigure:
    """Both sides on the same `changes`, rounds taken in turn; the per-record side's rounds may be fewer (at 5 ms
    a call, one round of 20,000 changes sleeps 100 s, and its spread is small beside that)."""
    records = workload(changes)
    trips = len({record["dynamodb"]["Keys"]["PK"]["S"] for record in records})
    with answered_dynamodb() as answered:
        dynamodb, writes = boto3.resource("dynamodb"), boto3.client("dynamodb", config=REBUILD_WRITE_CONFIG)
        search_table = dynamodb.Table(TARGET_TABLE)
        per_record_s, rebuild_s = [], []
        for round_ in range(rounds):
            if round_ < per_record_rounds:
                seconds, per_record_requests = _timed(
                    lambda: per_record_baseline(records, search_table), answered, latency_s
                )
                per_record_s.append(seconds)
            seconds, rebuild_requests = _timed(lambda: rebuild(records, dynamodb, writes), answered, latency_s)
            rebuild_s.append(seconds)
    return RebuildFigure(
        len(records),
        trips,
        latency_s,
        Side(statistics.median(per_record_s), per_record_requests),
        Side(statistics.median(rebuild_s), rebuild_requests),
    )
