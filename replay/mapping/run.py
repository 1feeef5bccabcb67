"""`replay run --via-mapping`: let AWS do the parallel work of a rebuild.

The plan is made and shown first. Then: create the target table if missing, grant the consumer's role the target,
create a temporary copy of the Kinesis consumer writing the target and an event source mapping starting at
`--from` (AT_TIMESTAMP) on the change stream, watch the mapping's iterator age until it has caught up, and remove
the mapping, the copy and the grant, also when the run fails or is interrupted (Ctrl-C). What the copy could not
project went to a queue of the run: it is read into the summary, then removed (`keep_queue` keeps it). A run that
dies harder leaves them behind: the next run for the same target removes them first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from replay import target_table
from replay.dlq.messages import DlqMessage, Kind
from replay.dlq.queue import held_messages
from replay.errors import BadInput, ReplayError, aws_errors
from replay.mapping.consumer_copy import (
    ConsumerCopy,
    create_copy,
    create_run_queue,
    keep_queue,
    plan_copy,
    remove_copy,
    remove_queues,
)
from replay.mapping.watch import CaughtUpRule, IteratorAgeMetric, MappingReading, window_holds_records
from replay.stack import Connection, StackResources, stream_arn
from replay.verify import scan_views
from services.trip.schema import Layout
from services.trip.search_views import Difference, compare

WATCH_EVERY_S = 2.0
# How long a copy may take to be invoked for the first time (Lambda starts polling a new mapping within seconds to a
# few minutes) before the run gives up rather than report a window it did not read.
FIRST_INVOCATION_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class MappingRequest:
    start: datetime | None  # None: the start of retention
    target_table: str
    verify: bool
    dry_run: bool
    quiet_for_s: float
    keep_queue: bool = False


@dataclass
class MappingPlan:
    live_table: str
    target_table: str
    create_target: bool
    stream: str
    start: datetime | None
    copy: ConsumerCopy
    dry_run: bool
    verify: bool
    quiet_for_s: float
    keep_queue: bool = False
    notes: list[str] = field(default_factory=list)


class MappingObserver(Protocol):
    def planned(self, plan: MappingPlan) -> None: ...
    def watched(self, reading: MappingReading, settled_for_s: float) -> None: ...
    def removed(self, removed: list[str]) -> None: ...


@dataclass
class MappingResult:
    plan: MappingPlan
    mapping_uuid: str | None = None
    invocations: int = 0
    seconds: float = 0.0
    removed: list[str] = field(default_factory=list)
    queue_url: str | None = None  # the run's queue
    queue_kept: bool = False
    dlq_messages: list[DlqMessage] = field(default_factory=list)  # in the run's queue: sent by the copy or its mapping
    trips: int | None = None  # documents search can see in the target, when verified
    differences: list[Difference] | None = None

    @property
    def failed_batches(self) -> list[DlqMessage]:
        """Batches the mapping gave up on: their changes are missing from the target."""
        return [message for message in self.dlq_messages if message.kind is Kind.BATCH_POINTER]


def plan_mapping_run(connection: Connection, resources: StackResources, request: MappingRequest) -> MappingPlan:
    if request.target_table == resources.search_table:
        raise BadInput("--via-mapping rebuilds into a new table: the live consumer already feeds the live one")
    if resources.layout_of(resources.search_table) is not Layout.SHARDED:
        # its copy, named by SEARCH_TABLE_NAME alone, would write this release's keys into a table created like it
        raise BadInput(
            f"--via-mapping needs a live table of this release's layout, and {resources.search_table} is "
            f"{resources.layout_of(resources.search_table)}: move to the sharded indexes first (`trip-replay cutover`)"
        )
    dynamodb = connection.client("dynamodb")
    arn, retention_hours = stream_arn(connection, resources.change_stream)
    notes = []
    start = request.start
    if start is not None and start < datetime.now(UTC) - timedelta(hours=retention_hours):
        notes.append(f"--from is older than the stream's {retention_hours} h retention: reading from its start")
        start = None
    with aws_errors(f"describing table {resources.search_table}"):
        live_arn = str(dynamodb.describe_table(TableName=resources.search_table)["Table"]["TableArn"])
    target_arn = f"{live_arn.rsplit('/', 1)[0]}/{request.target_table}"
    copy = plan_copy(connection, resources, arn, target_arn, start, started_at=datetime.now(UTC))
    if copy.leftovers:
        notes.append(f"left by an interrupted run, removed first: {', '.join(copy.leftovers)}")
    return MappingPlan(
        live_table=resources.search_table,
        target_table=request.target_table,
        create_target=target_table.needs_creation(dynamodb, resources.search_table, request.target_table),
        stream=arn.rsplit("/", 1)[-1],
        start=start,
        copy=copy,
        dry_run=request.dry_run,
        verify=request.verify,
        quiet_for_s=request.quiet_for_s,
        keep_queue=request.keep_queue,
        notes=notes,
    )


def rebuild_via_mapping(
    connection: Connection, resources: StackResources, request: MappingRequest, observer: MappingObserver
) -> MappingResult:
    started = time.monotonic()
    plan = plan_mapping_run(connection, resources, request)
    observer.planned(plan)
    result = MappingResult(plan)
    if plan.dry_run:
        return result
    if plan.copy.leftovers:
        observer.removed(remove_copy(connection, plan.copy) + remove_queues(connection, plan.copy.leftover_queues))
    if plan.create_target:
        target_table.create_like(connection.client("dynamodb"), plan.live_table, plan.target_table)
    result.queue_url = create_run_queue(connection, plan.copy)
    try:
        try:
            enabled_at = datetime.now(UTC)
            result.mapping_uuid = create_copy(connection, plan.copy, result.queue_url)
            result.invocations = _watch_until_caught_up(connection, plan, enabled_at, observer)
        finally:
            result.removed = remove_copy(connection, plan.copy)
            observer.removed(result.removed)
        with held_messages(connection.client("sqs"), result.queue_url, hold_seconds=30) as held:
            result.dlq_messages = list(held.messages)
    finally:
        _keep_or_remove_queue(connection, plan, result, observer)
    if plan.verify:
        dynamodb = connection.resource("dynamodb")
        target = scan_views(dynamodb.Table(plan.target_table), ())
        result.trips = len(target)
        result.differences = compare(scan_views(dynamodb.Table(plan.live_table), ()), target).differences
    result.seconds = time.monotonic() - started
    return result


def _keep_or_remove_queue(
    connection: Connection, plan: MappingPlan, result: MappingResult, observer: MappingObserver
) -> None:
    assert result.queue_url is not None
    if plan.keep_queue:
        keep_queue(connection, result.queue_url)
        result.queue_kept = True
        return
    removed = remove_queues(connection, [result.queue_url])
    result.removed.extend(removed)
    observer.removed(removed)


def _watch_until_caught_up(
    connection: Connection, plan: MappingPlan, enabled_at: datetime, observer: MappingObserver
) -> int:
    metric = IteratorAgeMetric(connection.client("cloudwatch"), plan.copy.function_name, enabled_at)
    awaits = window_holds_records(connection.client("kinesis"), plan.stream, plan.start)
    rule = CaughtUpRule(plan.quiet_for_s, settled_since=time.monotonic(), awaits_invocation=awaits)
    deadline = time.monotonic() + FIRST_INVOCATION_TIMEOUT_S
    while True:
        time.sleep(WATCH_EVERY_S)
        reading = metric.read()
        if awaits and reading.invocations == 0 and time.monotonic() > deadline:
            raise ReplayError(
                f"the mapping has not invoked its copy {plan.copy.function_name} within "
                f"{FIRST_INVOCATION_TIMEOUT_S:.0f} s although the window holds records: its changes are not in "
                f"{plan.target_table}; look at the mapping's state (aws lambda list-event-source-mappings)"
            )
        caught_up = rule.observe(reading, time.monotonic())
        observer.watched(reading, rule.settled_for(time.monotonic()))
        if caught_up:
            return reading.invocations
