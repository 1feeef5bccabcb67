"""`replay run`: plan a run, tell the operator, then read, project, checkpoint, and optionally verify.

The plan is made (and shown) before anything is written; the run itself is a loop over read batches (read by
several shards' or segments' threads at once) that hands each to a writer (live or rebuild) and advances the
checkpoint after the writer has flushed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from botocore.config import Config

from replay import target_table
from replay.errors import BadInput, ReplayError
from replay.stack import Connection, StackResources, kinesis_consumer, stream_arn, tombstone_ttl_seconds
from replay.tally import RunSummary, Tally
from replay.verify import scan_views
from replay.window.checkpoint import Checkpoint, CheckpointFile
from replay.window.reader import READER_CLIENT_CONFIG, Pacing, Window, WindowReader
from replay.window.shards import lineage_order, list_shards
from replay.window.sources import ReadBatch, read_window, scan_table
from replay.writers import REBUILD_WRITE_CONFIG, LiveWriter, RebuildWriter
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.search_views import Difference, Verification, compare

CHECKPOINT_EVERY_SECONDS = 10.0
# Shards read at once: each takes at most its share of a shard's limits (reader.Pacing) however many are read, so
# the bound is this machine's, not Kinesis': 8 shards read about 5,800 changes/s on 2 cores, below the ~20,000 a
# second the rebuild writes (docs/benchmarks.md), with 8 threads, not one per shard of a large stream. The threads
# share one Kinesis client, whose connection pool is sized to match.
DEFAULT_SHARD_CONCURRENCY = 8


@dataclass(frozen=True)
class RunRequest:
    source: str  # "kinesis" or "table"
    start: datetime | None  # Kinesis only; None: the start of retention
    end: datetime | None  # Kinesis only; None: now
    trip_ids: frozenset[str]
    target_table: str | None
    verify: bool
    dry_run: bool
    restart: bool
    checkpoint_dir: Path
    segments: int = 4
    shard_concurrency: int = DEFAULT_SHARD_CONCURRENCY
    pacing: Pacing = field(default_factory=Pacing)


@dataclass
class RunPlan:
    """What the run will do, shown before it starts."""

    source: str
    live_table: str
    target_table: str
    rebuild: bool
    create_target: bool
    dry_run: bool
    verify: bool
    trip_ids: frozenset[str]
    window: Window | None = None
    stream: str | None = None
    shards: list[str] = field(default_factory=list)  # in reading order
    resumed_shards: dict[str, str] = field(default_factory=dict)
    finished_shards: list[str] = field(default_factory=list)
    segments: int = 0
    shard_concurrency: int = 0
    pacing: Pacing = field(default_factory=Pacing)
    notes: list[str] = field(default_factory=list)


class RunObserver(Protocol):
    def planned(self, plan: RunPlan) -> None: ...
    def progressed(self, batch: ReadBatch, tally: Tally) -> None: ...


@dataclass
class RunResult:
    plan: RunPlan
    summary: RunSummary
    verification: Verification | None  # None: not verified

    @property
    def differences(self) -> list[Difference] | None:
        return None if self.verification is None else self.verification.differences


class RequestCounter:
    """Counts the AWS requests a client sends (the figures of a rebuild are requests, not guesses)."""

    def __init__(self, *clients: Any) -> None:
        self.count = 0
        self._lock = threading.Lock()  # several shards' or segments' threads call at once
        for client in clients:
            client.meta.events.register("before-call", self._count)

    def _count(self, **_: Any) -> None:
        with self._lock:
            self.count += 1


def replay_run(
    connection: Connection, resources: StackResources, request: RunRequest, observer: RunObserver
) -> RunResult:
    started = time.monotonic()
    dynamodb = connection.resource("dynamodb")
    kinesis = connection.client("kinesis")
    shard_reads = connection.client(  # the reader's: its threads share it, and it retries nothing itself
        "kinesis", READER_CLIENT_CONFIG.merge(Config(max_pool_connections=max(10, request.shard_concurrency)))
    )
    scanner = connection.client(
        "dynamodb"
    )  # the resource's client turns items into Python values: the decoders want AWS's
    rebuild_writes = connection.client("dynamodb", REBUILD_WRITE_CONFIG)
    dynamodb_requests = RequestCounter(dynamodb.meta.client, scanner, rebuild_writes)
    kinesis_requests = RequestCounter(kinesis, shard_reads)

    plan = _plan_target(dynamodb.meta.client, resources, request)
    arn, retention_hours = stream_arn(connection, resources.change_stream)
    consumer = kinesis_consumer(connection, arn)
    checkpoints = CheckpointFile(request.checkpoint_dir, resources.stack_name, plan.target_table)
    if request.source == "kinesis" and not request.dry_run:
        checkpoints.ensure_writable()
    if request.source == "kinesis":
        batches = _plan_window(plan, (kinesis, shard_reads), arn, retention_hours, request, checkpoints)
    else:
        plan.segments = request.segments
        batches = scan_table(scanner, resources.trip_table, request.segments)
    observer.planned(plan)

    if plan.create_target and not plan.dry_run:
        target_table.create_like(dynamodb.meta.client, plan.live_table, plan.target_table)
    # A table of the run's own has its indexes' layout; one the run creates, the live table's (create_like)
    layout = (
        target_table.layout_of(dynamodb.meta.client, plan.live_table if plan.create_target else plan.target_table)
        if plan.rebuild
        else resources.layout_of(plan.target_table)
    )
    documents = SearchDocuments(plan.target_table, dynamodb, layout=layout)
    # Into the live table, the changes go into its shadow too, as the consumers' do
    shadow = resources.shadow_table if plan.target_table == resources.search_table else None
    ttl = tombstone_ttl_seconds(consumer)
    writer: LiveWriter | RebuildWriter = (
        RebuildWriter(
            documents,
            rebuild_writes,
            ttl,
            target_may_hold_documents=not plan.create_target or bool(plan.resumed_shards),
            dry_run=plan.dry_run,
        )
        if plan.rebuild
        else LiveWriter(
            documents,
            ttl,
            plan.dry_run,
            resources.documents_of(shadow, dynamodb) if shadow else None,
        )
    )
    summary = RunSummary(request.source, plan.target_table, plan.dry_run)
    # shards and segments are read at once and finish in any order: list them in the plan's
    if request.source == "table":
        summary.per_part = {f"segment-{segment}": Tally() for segment in range(plan.segments)}
    else:
        summary.per_part = {shard: Tally() for shard in plan.shards if shard not in plan.finished_shards}
    checkpoint = _checkpoint_of(plan, resources) if request.source == "kinesis" and not plan.dry_run else None
    trips = _project(batches, writer, plan, summary, observer, checkpoint, checkpoints)
    if checkpoint is not None:
        checkpoints.remove()

    summary.trips = len(trips)
    summary.documents_written = writer.documents_written
    summary.refused = list(writer.refused.items())
    summary.throttled = request.pacing.throttled
    verification = None
    if plan.verify and not plan.dry_run:
        verification = compare(
            scan_views(dynamodb.Table(plan.live_table), plan.trip_ids),
            scan_views(dynamodb.Table(plan.target_table), plan.trip_ids),
            removals_rebuilt=request.source == "kinesis",  # TripTable's current items hold no removal
        )
    summary.dynamodb_requests, summary.kinesis_requests = dynamodb_requests.count, kinesis_requests.count
    summary.seconds = time.monotonic() - started
    return RunResult(plan, summary, verification)


def _plan_target(dynamodb: Any, resources: StackResources, request: RunRequest) -> RunPlan:
    target = request.target_table or resources.search_table
    # A table the consumers write (the live one, or a cutover's shadow) is written through their projector,
    # change by change and version-gated; only a table of the run's own is rebuilt with whole-document batch writes.
    rebuild = target not in resources.written_tables
    if request.verify and target == resources.search_table:
        raise BadInput("--verify compares a rebuilt table with the live one: it needs --target-table")
    create = rebuild and target_table.needs_creation(dynamodb, resources.search_table, target)
    return RunPlan(
        request.source,
        resources.search_table,
        target,
        rebuild,
        create,
        request.dry_run,
        request.verify,
        request.trip_ids,
    )


def _plan_window(
    plan: RunPlan,
    kinesis: tuple[Any, Any],
    arn: str,
    retention_hours: int,
    request: RunRequest,
    checkpoints: CheckpointFile,
) -> Iterator[ReadBatch]:
    """`kinesis`: the client that lists the shards, and the one that reads them."""
    now = datetime.now(UTC)
    saved = None if request.restart else checkpoints.load()
    if saved is not None:
        start = datetime.fromisoformat(saved.window_start) if saved.window_start else None
        window = Window.of_changes(start, datetime.fromisoformat(saved.window_end), now)
        plan.trip_ids = frozenset(saved.trip_ids)
        plan.resumed_shards, plan.finished_shards = dict(saved.after_sequence), list(saved.finished_shards)
        plan.notes.append(f"resuming the unfinished run from checkpoint {checkpoints.path} (--restart ignores it)")
    else:
        start = request.start
        if start is not None and start < now - timedelta(hours=retention_hours):
            plan.notes.append(
                f"--from is older than the stream's {retention_hours} h retention: reading from its start"
            )
            start = None
        window = Window.of_changes(start, request.end or now, now)
    if window.start is not None and window.start > window.end:
        raise BadInput(f"--from {window.start.isoformat()} is after --to {window.end.isoformat()}")
    plan.window, plan.stream = window, arn.rsplit("/", 1)[-1]
    listing, shard_reads = kinesis
    shards = lineage_order(list_shards(listing, plan.stream))
    plan.shards = [shard.shard_id for shard in shards]
    plan.shard_concurrency, plan.pacing = request.shard_concurrency, request.pacing
    reader = WindowReader(shard_reads, plan.stream, window, request.pacing)
    return read_window(reader, arn, shards, plan.resumed_shards, set(plan.finished_shards), request.shard_concurrency)


def _checkpoint_of(plan: RunPlan, resources: StackResources) -> Checkpoint:
    assert plan.window is not None
    return Checkpoint(
        stack_name=resources.stack_name,
        target_table=plan.target_table,
        window_start=plan.window.start.isoformat() if plan.window.start else None,
        window_end=plan.window.end.isoformat(),
        trip_ids=sorted(plan.trip_ids),
        after_sequence=dict(plan.resumed_shards),
        finished_shards=list(plan.finished_shards),
    )


def _project(
    batches: Iterator[ReadBatch],
    writer: LiveWriter | RebuildWriter,
    plan: RunPlan,
    summary: RunSummary,
    observer: RunObserver,
    checkpoint: Checkpoint | None,
    checkpoints: CheckpointFile,
) -> set[str]:
    trips: set[str] = set()
    read_since_flush: list[ReadBatch] = []
    last_flush = time.monotonic()
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except ReplayError:  # a shard's read failed: keep what was read before it, so a rerun reads it no more
            _flush(writer, read_since_flush, checkpoint, checkpoints)
            raise
        tally = summary.per_part.setdefault(batch.part, Tally())
        tally.read += batch.records
        tally.irrelevant += batch.irrelevant
        tally.poison += len(batch.poison)
        tally.after_window += batch.after_window
        summary.poison.extend(batch.poison)
        changes = [c for c in batch.changes if not plan.trip_ids or c.trip_id in plan.trip_ids]
        tally.irrelevant += len(batch.changes) - len(changes)
        for outcome in writer.project(changes):
            tally.count(outcome)
        found = writer.findings[len(summary.findings) :]
        tally.count_findings(report.finding for report in found)
        summary.findings.extend(found)
        trips.update(change.trip_id for change in changes)
        read_since_flush.append(batch)
        if batch.last or time.monotonic() - last_flush > CHECKPOINT_EVERY_SECONDS:
            _flush(writer, read_since_flush, checkpoint, checkpoints)
            read_since_flush, last_flush = [], time.monotonic()
        observer.progressed(batch, tally)
    writer.flush()
    return trips


def _flush(
    writer: LiveWriter | RebuildWriter,
    batches: list[ReadBatch],
    checkpoint: Checkpoint | None,
    checkpoints: CheckpointFile,
) -> None:
    writer.flush()  # the checkpoint may only move past what is written
    if checkpoint is not None:
        _advance(checkpoint, batches)
        checkpoints.save(checkpoint)


def _advance(checkpoint: Checkpoint, batches: list[ReadBatch]) -> None:
    for batch in batches:
        if batch.last_sequence_number is not None:
            checkpoint.after_sequence[batch.part] = batch.last_sequence_number
        if batch.last:
            checkpoint.finished_shards.append(batch.part)
