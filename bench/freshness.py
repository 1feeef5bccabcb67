"""Freshness on the local runtime: how long after a write to TripTable its trip is searchable, per pipeline.

The runtime runs as `make up` runs it (AWS's poll intervals, the stack's batching window) with one pipeline's event
source mapping enabled at a time. New trips are written to TripTable one by one, at random gaps, as the writer
contract says (version, created_at, updated_at); a watcher reads their search documents every 20 ms. A trip's
freshness is the time from its PutItem's answer to the first read that finds its document. The baseline is the
mapping's floor: its MaximumBatchingWindowInSeconds, which an event source mapping waits out before it invokes the
function unless the batch fills first (AWS Lambda developer guide, "Batching behavior"); on the Kinesis pipeline
the table's copy into Kinesis adds its own step.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from replay.stack import DEFAULT_STACK_NAME
from services.trip.schema import SEARCH_KEY
from tests import factories as f
from tests.local_runtime_session import RunningRuntime, eventually, running_runtime

PIPELINES = {"dynamodb": "DynamoDB Streams", "kinesis": "Kinesis"}
WATCH_INTERVAL_S = 0.02
# Not in March: the seed's searches on a shared runtime must not find these trips.
FLIGHT_TIMES: dict[str, Any] = {"departure_time": "2027-01-10T10:00:00", "arrival_time": "2027-01-10T14:00:00"}


@dataclass(frozen=True)
class FreshnessFigure:
    pipeline: str
    changes: int
    p50_s: float
    p99_s: float
    floor_s: float  # the mapping's batching window

    @property
    def p50_ratio(self) -> float:
        return self.p50_s / self.floor_s

    @property
    def p99_ratio(self) -> float:
        return self.p99_s / self.floor_s


def measure(changes: int = 40, gap_s: float = 0.15) -> list[FreshnessFigure]:
    """Start the local runtime as `make up` does and measure both pipelines on it (`measure_on`)."""
    with tempfile.TemporaryDirectory() as state_dir, running_runtime(Path(state_dir), poll_interval=None) as runtime:
        return measure_on(runtime, changes, gap_s)


def measure_on(runtime: RunningRuntime, changes: int, gap_s: float) -> list[FreshnessFigure]:
    """One figure per pipeline: `changes` new trips, written `gap_s` apart on average, with only that pipeline's
    mapping enabled; both are enabled again afterwards."""
    mappings = projection_mappings(runtime)
    run = uuid.uuid4().hex[:8]
    figures = []
    for service, mapping in sorted(mappings.items()):
        with _only_enabled(runtime, mapping["UUID"], [m["UUID"] for m in mappings.values()]):
            latencies = _write_and_watch(runtime, f"fresh-{run}-{service}", changes, gap_s)
        figures.append(
            FreshnessFigure(
                PIPELINES[service],
                changes,
                statistics.median(latencies),
                statistics.quantiles(latencies, n=100, method="inclusive")[98],
                float(mapping["MaximumBatchingWindowInSeconds"]),
            )
        )
    return figures


def projection_mappings(runtime: RunningRuntime) -> dict[str, dict[str, Any]]:
    """The stack's two event source mappings (the projection's), by the service of their source ("dynamodb",
    "kinesis"). Other mappings on the runtime (a test's, a rebuild's) are not the stack's resources."""
    cloudformation, aws_lambda = runtime.client("cloudformation"), runtime.client("lambda")
    resources = cloudformation.list_stack_resources(StackName=DEFAULT_STACK_NAME)["StackResourceSummaries"]
    mappings = [
        aws_lambda.get_event_source_mapping(UUID=resource["PhysicalResourceId"])
        for resource in resources
        if resource["ResourceType"] == "AWS::Lambda::EventSourceMapping"
    ]
    return {m["EventSourceArn"].split(":")[2]: m for m in mappings if m["EventSourceArn"].split(":")[2] in PIPELINES}


@contextmanager
def _only_enabled(runtime: RunningRuntime, uuid: str, uuids: list[str]) -> Iterator[None]:
    """Only this mapping polls its stream, until the block ends (the runtime follows UpdateEventSourceMapping)."""
    lam = runtime.client("lambda")
    for other in uuids:
        lam.update_event_source_mapping(UUID=other, Enabled=other == uuid)

    def polled() -> list[str]:
        return [m["UUID"] for m in runtime.status()["eventSourceMappings"] if m["UUID"] in uuids]

    eventually(lambda: polled() == [uuid], timeout=180)  # the runtime follows the Enabled switch
    try:
        yield
    finally:
        for other in uuids:
            lam.update_event_source_mapping(UUID=other, Enabled=True)
        eventually(lambda: sorted(polled()) == sorted(uuids), timeout=180)  # every mapping polled again


def _write_and_watch(runtime: RunningRuntime, prefix: str, changes: int, gap_s: float) -> list[float]:
    table, search = runtime.outputs["TripTableName"], runtime.outputs["SearchTableName"]
    dynamodb, serializer = runtime.client("dynamodb"), TypeSerializer()
    written: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        watcher = runtime.client("dynamodb")
        while not done.is_set():
            pending = [trip_id for trip_id in list(written) if trip_id not in seen]
            for start in range(0, len(pending), 100):
                keys = [{SEARCH_KEY: {"S": trip_id}} for trip_id in pending[start : start + 100]]
                found = watcher.batch_get_item(RequestItems={search: {"Keys": keys}})["Responses"][search]
                now = time.monotonic()
                for document in found:
                    seen.setdefault(document[SEARCH_KEY]["S"], now)
            time.sleep(WATCH_INTERVAL_S)

    watcher = threading.Thread(target=watch, name="freshness-watcher", daemon=True)
    watcher.start()
    randomness = random.Random(13)
    try:
        for number in range(changes):
            trip_id = f"{prefix}-{number:03d}"
            now = datetime.now(UTC)
            item = {**f.flight(trip_id, created_at=now, **FLIGHT_TIMES), "updated_at": now.isoformat()}
            dynamodb.put_item(TableName=table, Item={k: serializer.serialize(v) for k, v in item.items()})
            written[trip_id] = time.monotonic()
            time.sleep(randomness.uniform(0, 2 * gap_s))
        eventually(lambda: len(seen) == changes, timeout=180)  # every trip searchable
    finally:
        done.set()
        watcher.join()
    return [seen[trip_id] - written[trip_id] for trip_id in written]
