"""Replay's read rate: changes/s of `replay run`'s Kinesis reader with its shards read at once, against today's
reader (one shard after another, at the same pacing: `--shard-concurrency 1`), on the same records; and the table
scan's with its segments in parallel against one segment.

Kinesis is answered by `AnsweredKinesis`, a stand-in at botocore's `before-send` event (no network, no moto) that
charges every call a round trip and holds each shard to AWS's read limits less the live consumer's share: at most
4 GetRecords in any second (AWS: 5; the live consumer polls once a second) and 1 MiB/s on average (AWS: 2 MB/s; the
live consumer reads up to the 1 MB/s a shard takes in); a call beyond either is answered
`ProvisionedThroughputExceededException`, as Kinesis answers it. So the figure respects the limits by construction,
and the throttled count says whether the reader kept within them. DynamoDB's Scan is answered the same way.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from bench.saga import saga_workload
from replay.window.reader import READER_CLIENT_CONFIG, Pacing, Window, WindowReader
from replay.window.run import DEFAULT_SHARD_CONCURRENCY
from replay.window.shards import Shard
from replay.window.sources import ReadBatch, read_window, scan_table
from tests import factories as f

STREAM = "TripChangeStream"
STREAM_ARN = f"arn:aws:kinesis:{f.REGION}:123456789012:stream/{STREAM}"
LIVE_CALLS_PER_SECOND = 1  # the live consumer's poll of each shard (AWS Lambda developer guide)
SHARD_CALLS_PER_SECOND = 5  # AWS: GetRecords per shard (Kinesis Data Streams quotas)
REPLAY_BYTES_PER_SECOND = 1 << 20  # AWS's 2 MB/s a shard, less the live consumer's 1 MB/s at most
SCAN_PAGE_ITEMS = 1_000  # a Scan page holds up to 1 MB: about 1,000 of these ~1 KB items


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def _answer(request: Any, status: int, document: dict[str, Any]) -> AWSResponse:
    body = _Body(json.dumps(document).encode())
    return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, body)


@dataclass
class _ShardLimits:
    calls: deque[float]  # when the shard's calls of the last second arrived
    debt_bytes: float = 0.0  # read and not yet paid back at REPLAY_BYTES_PER_SECOND
    paid_at: float = 0.0


class AnsweredKinesis:
    """A stream of `shards`, each holding its records, answering GetShardIterator and GetRecords after
    `latency_s`; a shard's call beyond its limits (above) is throttled, and counted."""

    def __init__(self, client: Any, shards: dict[str, list[bytes]], latency_s: float) -> None:
        self.shards, self.latency_s = shards, latency_s
        self.throttled = 0
        self.most_calls_in_a_second = 0
        self._limits: dict[str, _ShardLimits] = defaultdict(lambda: _ShardLimits(deque()))
        self._lock = threading.Lock()
        client.meta.events.register("before-send.kinesis", self._answer)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        operation = request.headers["X-Amz-Target"].decode().rpartition(".")[2]
        params = json.loads(request.body)
        time.sleep(self.latency_s)
        if operation == "GetShardIterator":
            after = params.get("StartingSequenceNumber")
            return _answer(request, 200, {"ShardIterator": f"{params['ShardId']}:{int(after) + 1 if after else 0}"})
        shard, _, position = params["ShardIterator"].rpartition(":")
        if not self._admit(shard):
            error = {"__type": "ProvisionedThroughputExceededException", "message": f"Rate exceeded for {shard}"}
            return _answer(request, 400, error)
        start = int(position)
        data = self.shards[shard][start : start + int(params["Limit"])]
        end = start + len(data)
        records = [
            {
                "SequenceNumber": str(start + n),
                "ApproximateArrivalTimestamp": f.T0.timestamp(),
                "Data": base64.b64encode(record).decode(),
                "PartitionKey": "k",
            }
            for n, record in enumerate(data)
        ]
        with self._lock:
            self._limits[shard].debt_bytes += sum(len(record) + 1 for record in data)
        behind = 0 if end == len(self.shards[shard]) else 1_000
        return _answer(
            request, 200, {"Records": records, "NextShardIterator": f"{shard}:{end}", "MillisBehindLatest": behind}
        )

    def _admit(self, shard: str) -> bool:
        now = time.monotonic()
        with self._lock:
            limits = self._limits[shard]
            limits.debt_bytes = max(0.0, limits.debt_bytes - (now - limits.paid_at) * REPLAY_BYTES_PER_SECOND)
            limits.paid_at = now
            while limits.calls and limits.calls[0] <= now - 1.0:
                limits.calls.popleft()
            if len(limits.calls) >= SHARD_CALLS_PER_SECOND - LIVE_CALLS_PER_SECOND or (
                limits.debt_bytes > REPLAY_BYTES_PER_SECOND
            ):
                self.throttled += 1
                return False
            limits.calls.append(now)
            self.most_calls_in_a_second = max(self.most_calls_in_a_second, len(limits.calls))
            return True


@dataclass(frozen=True)
class ReadRate:
    parts: int  # shards, or scan segments
    at_once: int
    changes: int
    seconds: float
    throttled: int = 0
    most_calls_in_a_second: int = 0  # of one shard

    @property
    def changes_per_second(self) -> float:
        return self.changes / self.seconds


@dataclass(frozen=True)
class ReadFigure:
    today: ReadRate
    now: ReadRate

    @property
    def ratio(self) -> float:
        return self.now.changes_per_second / self.today.changes_per_second


def _records(changes: int) -> list[bytes]:
    timeline = saga_workload(int(changes / 5.2) + 10)[:changes]
    return [json.dumps(f.kinesis_payload(change)).encode() for change in timeline]


def _changes(batches: Iterator[ReadBatch]) -> int:
    return sum(len(batch.changes) for batch in batches)


def _read_shards(shards: dict[str, list[bytes]], at_once: int, latency_s: float) -> ReadRate:
    config = READER_CLIENT_CONFIG.merge(Config(max_pool_connections=max(10, at_once)))
    kinesis = boto3.client("kinesis", region_name=f.REGION, config=config)
    answered = AnsweredKinesis(kinesis, shards, latency_s)
    reader = WindowReader(kinesis, STREAM, Window(None, f.T0 + timedelta(days=1)), Pacing())
    listing = [Shard(shard_id, (), None) for shard_id in shards]
    started = time.perf_counter()
    changes = _changes(read_window(reader, STREAM_ARN, listing, {}, set(), at_once))
    seconds = time.perf_counter() - started
    return ReadRate(len(shards), at_once, changes, seconds, answered.throttled, answered.most_calls_in_a_second)


def measure_shards(
    shards: int = DEFAULT_SHARD_CONCURRENCY, records_per_shard: int = 1_500, latency_s: float = 0.020
) -> ReadFigure:
    """`shards` shards of `records_per_shard` saga changes each, read one after another, then all at once."""
    records = _records(shards * records_per_shard)
    stream = {f"shardId-{n:012d}": records[n::shards] for n in range(shards)}
    with _bench_credentials():
        return ReadFigure(_read_shards(stream, 1, latency_s), _read_shards(stream, shards, latency_s))


class AnsweredScan:
    """TripTable as a Scan sees it: its items split over the segments asked, in pages, each after `latency_s`."""

    def __init__(self, client: Any, items: list[dict[str, Any]], latency_s: float) -> None:
        self.items, self.latency_s = items, latency_s
        client.meta.events.register("before-send.dynamodb.Scan", self._answer)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        params = json.loads(request.body)
        time.sleep(self.latency_s)
        segment = self.items[params["Segment"] :: params["TotalSegments"]]
        start = int(params.get("ExclusiveStartKey", {}).get("n", {"N": "0"})["N"])
        page: dict[str, Any] = {"Items": segment[start : start + SCAN_PAGE_ITEMS]}
        if start + SCAN_PAGE_ITEMS < len(segment):
            page["LastEvaluatedKey"] = {"n": {"N": str(start + SCAN_PAGE_ITEMS)}}
        return _answer(request, 200, page)


def _scan(items: list[dict[str, Any]], segments: int, latency_s: float) -> ReadRate:
    dynamodb = boto3.client("dynamodb", region_name=f.REGION)
    AnsweredScan(dynamodb, items, latency_s)
    started = time.perf_counter()
    changes = _changes(scan_table(dynamodb, "TripTable", segments))
    return ReadRate(segments, segments, changes, time.perf_counter() - started)


def measure_scan(items: int = 12_000, segments: int = 4, latency_s: float = 0.020) -> ReadFigure:
    """A scan of `items` current TripTable items in one segment, then in `segments` parallel ones."""
    current: dict[tuple[str, str], dict[str, Any]] = {}
    for change in saga_workload(items):  # every trip's three current items
        if change.new is not None:
            current[change.keys["PK"], change.keys["SK"]] = f.to_attribute_values(change.new)
    table = list(current.values())[:items]
    with _bench_credentials():
        return ReadFigure(_scan(table, 1, latency_s), _scan(table, segments, latency_s))


@contextmanager
def _bench_credentials() -> Iterator[None]:
    """Clients that sign with throwaway credentials: nothing leaves the process."""
    boto3.setup_default_session(region_name=f.REGION, aws_access_key_id="bench", aws_secret_access_key="bench")
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = None
