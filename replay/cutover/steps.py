"""A blue-green cutover of the search table: build the next version beside the live one, switch, roll back, retire.

Why no change is lost (docs/design.md, "Cutover"): the functions read the search-tables parameter at the start of
every invocation, from a cache at most `max_age` seconds old (services.trip.search_tables).

1. `start` creates the next table with this release's schema and names it the shadow at T0. From T0 + max_age
   every consumer invocation projects every change into both tables, through the version gate of each.
2. Once that is so, TripTable is scanned and each item projected into the shadow through the same gate: a change
   committed before the scan read its item is in what the scan read; one committed after it reaches the shadow
   through the consumers (its invocation starts after the scan did, so after T0 + max_age).
3. Belt and braces, the change stream is replayed into the shadow from T0 - `CATCH_UP_MARGIN` to the end of the scan:
   every change made since the parameter changed, whatever a consumer had cached. The gate makes every copy that
   arrives twice a no-op, in any order.
4. The shadow is compared with TripTable, trip by trip, as the drift audit compares the live table
   (services.trip.auditor, without repairs): each document against the fold of its trip's items by this release's
   projection; a trip that differs is read again after `VERIFY_SETTLE_SECONDS` and counts only if it still differs
   and neither side moved (a change in flight). Not with the live table: a cutover exists to change what the
   documents hold (a new field, a fixed projection), so the live table differs from the next version by design.
   Zero differences, or the cutover does not switch.
5. `switch` swaps live and shadow: the search API reads the new table within max_age; the old one stays the shadow,
   still written, so `switch --no-verify` rolls back with nothing to catch up (the old version's documents are not
   what this release's projection writes: they would not verify). `retire` stops writing it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from replay.audit import drift_auditor
from replay.errors import BadInput, ReplayError, aws_errors, error_code
from replay.stack import Connection, StackResources, find_stack_resources
from replay.tally import RunSummary
from replay.window.run import RunObserver, RunRequest, replay_run
from services.trip.adapters.search_documents import PermanentStoreError, TransientStoreError
from services.trip.audit import Verdict
from services.trip.auditor import Cursor
from services.trip.projection import PROJECTION_VERSION
from services.trip.schema import SEARCH_KEY, TTL_ATTRIBUTE
from services.trip.search_tables import DEFAULT_MAX_AGE_SECONDS, SearchTables, table_definition
from services.trip.search_views import Difference, Undecided, Verification, compare, search_view

# The Kinesis catch-up starts this long before the parameter changed: the stream's ApproximateCreationDateTime and
# this machine's clock need not agree to the second.
CATCH_UP_MARGIN = timedelta(seconds=60)
# Beyond the functions' cache: an invocation that read the parameter just before it changed, and is still starting.
SETTLE_MARGIN_SECONDS = 5.0
# How long a trip that differed waits for its second look: longer than a change takes to reach the consumers (their
# 1 s batching window and their polls) on a busy machine.
VERIFY_SETTLE_SECONDS = 10.0
VERIFY_IN_FLIGHT_ROUNDS = 3  # further looks at a trip that changed between two (each after VERIFY_SETTLE_SECONDS)


def cutover_prefix(stack_name: str) -> str:
    """The names a cutover's tables must take: the stack grants its functions these (infra/search_tables.py)."""
    return f"{stack_name}-search-"


@dataclass
class StepLog:
    """What a command did, step by step, for the operator and for --json."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    say: Callable[[str], None] = print

    def step(self, what: str, **figures: Any) -> None:
        seconds = round(time.monotonic() - self.started, 1)
        self.steps.append({"step": what, "seconds": seconds, **figures})
        details = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in figures.items())
        self.say(f"[{seconds:7.1f} s] {what}" + (f": {details}" if details else ""))


@dataclass(frozen=True)
class Cutover:
    """Where a cutover works: the operator's connection, the stack, and how long its functions cache the parameter."""

    connection: Connection
    stack_name: str
    settle_seconds: float

    def resources(self) -> StackResources:
        return find_stack_resources(self.connection, self.stack_name)

    def put(self, resources: StackResources, tables: SearchTables) -> None:
        with aws_errors(f"writing parameter {resources.search_tables_parameter}"):
            self.connection.client("ssm").put_parameter(
                Name=resources.search_tables_parameter, Value=tables.to_json(), Type="String", Overwrite=True
            )

    def settle(self, log: StepLog, why: str) -> None:
        """Wait until every function has read the parameter again."""
        time.sleep(self.settle_seconds)
        log.step(f"waited {self.settle_seconds:.0f} s: {why}")


def settle_seconds(connection: Connection, resources: StackResources) -> float:
    """How long to wait for every function to read the parameter again: the longest cache
    (SEARCH_TABLES_MAX_AGE_SECONDS) of the functions that read this parameter (both consumers and the search API,
    whichever are deployed), plus a margin."""
    ages = [DEFAULT_MAX_AGE_SECONDS]
    with aws_errors("listing the functions that read the search-tables parameter"):
        for page in connection.client("lambda").get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                variables = function.get("Environment", {}).get("Variables", {})
                if variables.get("SEARCH_TABLES_PARAMETER") == resources.search_tables_parameter:
                    ages.append(int(variables.get("SEARCH_TABLES_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS)))
    return float(max(ages[1:] or ages)) + SETTLE_MARGIN_SECONDS


def start(
    cutover: Cutover,
    table: str | None,
    segments: int,
    checkpoint_dir: Path,
    observer: RunObserver,
    log: StepLog,
) -> Verification:
    """Build the next version of the search table beside the live one and verify it (steps 1 to 4 above)."""
    resources = cutover.resources()
    if resources.shadow_table is not None:
        raise BadInput(
            f"a cutover is under way: {resources.shadow_table} is the shadow of {resources.search_table}; "
            "finish it with `cutover switch` or end it with `cutover retire` first"
        )
    prefix = cutover_prefix(resources.stack_name)
    name = table or f"{prefix}{datetime.now(UTC):%Y%m%d-%H%M%S}"
    if not name.startswith(prefix):
        raise BadInput(f"--table {name}: the stack's functions may use only tables named {prefix}*")
    dynamodb = cutover.connection.client("dynamodb")
    _create(dynamodb, name)
    log.step(f"created {name} (projection version {PROJECTION_VERSION})")

    began = datetime.now(UTC)
    cutover.put(resources, SearchTables(resources.search_table, name, resources.layouts))
    log.step(f"{name} is the shadow of {resources.search_table}: the consumers write both")
    cutover.settle(log, "every consumer invocation now writes the shadow")

    resources = cutover.resources()
    scan = replay_run(cutover.connection, resources, _request("table", name, checkpoint_dir, segments), observer)
    _log_run(log, f"projected TripTable's items into {name}", scan.summary)
    catch_up = _request("kinesis", name, checkpoint_dir, segments, began - CATCH_UP_MARGIN)
    caught_up = replay_run(cutover.connection, resources, catch_up, observer)
    _log_run(log, f"replayed the change stream since {catch_up.start:%H:%M:%S}Z into {name}", caught_up.summary)
    return verify(cutover, resources, log)


def verify(cutover: Cutover, resources: StackResources, log: StepLog) -> Verification:
    """The shadow compared with TripTable (step 4 above). Each difference's `live` is what TripTable says (what the
    live pipelines project, by this release), its `target` the shadow's. A trip TripTable's items cannot be projected
    for (a poison item) is compared with the live table instead; one still changing after VERIFY_IN_FLIGHT_ROUNDS more
    looks is undecided (the consumers write its changes to both tables). BadInput when no cutover is under way."""
    if resources.shadow_table is None:
        raise BadInput(f"no cutover under way: {resources.search_table} has no shadow (start one: `cutover start`)")
    auditor = drift_auditor(cutover.connection, resources, resources.shadow_table, VERIFY_SETTLE_SECONDS, repair=False)
    try:
        report = auditor.audit_segment(Cursor(1), read_budget=float("inf"))
        findings = [*report.drifted, *report.of(Verdict.UNREADABLE)]
        moving = [finding.trip_id for finding in report.of(Verdict.IN_FLIGHT)]
        for _ in range(VERIFY_IN_FLIGHT_ROUNDS):  # a trip that changed between the looks: look at it again
            if not moving:
                break
            again = auditor.audit_trips(moving)
            findings += [*again.drifted, *again.of(Verdict.UNREADABLE)]
            moving = [finding.trip_id for finding in again.of(Verdict.IN_FLIGHT)]
    except (TransientStoreError, PermanentStoreError) as error:
        raise ReplayError(f"comparing {resources.shadow_table} with {resources.trip_table}: {error}") from None
    differences = [
        Difference(difference.trip_id, difference.field, live=difference.target, target=difference.live)
        for finding in findings
        if finding.verdict is Verdict.DRIFTED
        for difference in finding.differences
    ]
    # TripTable's items of these trips cannot be projected (a poison item): no fold says what their document is, so
    # the shadow's must be the live table's, as the consumers left both
    unreadable = [finding.trip_id for finding in findings if finding.verdict is Verdict.UNREADABLE]
    dynamodb = cutover.connection.resource("dynamodb")
    live = _views(dynamodb.Table(resources.search_table), unreadable)
    differences += compare(live, _views(dynamodb.Table(resources.shadow_table), unreadable)).differences
    undecided = [
        Undecided(trip_id, "document", None, None, "changed at every look: its changes reach both tables")
        for trip_id in moving
    ]
    log.step(
        f"compared {resources.shadow_table} with {resources.trip_table}",
        trips=report.trips,
        differences=len(differences),
        unprojectable=len(unreadable),
        undecided=len(undecided),
    )
    return Verification(differences, undecided)


def _views(table: Any, trip_ids: list[str]) -> dict[str, Any]:
    """The visible documents of these trips, read strongly consistent."""
    views = {}
    with aws_errors(f"reading {table.name}"):
        for trip_id in trip_ids:
            item = table.get_item(Key={SEARCH_KEY: trip_id}, ConsistentRead=True).get("Item")
            view = search_view(item) if item else None
            if view is not None:
                views[trip_id] = view
    return views


def switch(cutover: Cutover, log: StepLog, *, verified: bool = True) -> tuple[StackResources, list[Difference]]:
    """Swap the live table and its shadow, once the shadow verifies (unless not `verified`: a roll back to the
    previous version): the search API reads the shadow, the old live table stays written as the new shadow."""
    resources = cutover.resources()
    if resources.shadow_table is None:
        raise BadInput(f"no cutover under way: {resources.search_table} has no shadow (start one: `cutover start`)")
    if verified:
        differences = verify(cutover, resources, log).differences
        if differences:
            return resources, differences
    else:  # the operator's word that the shadow is the version that was live: its documents would not verify
        log.step(f"not verified: {resources.shadow_table} switched to as the previous version (--no-verify)")
    assert resources.shadow_table is not None
    cutover.put(resources, SearchTables(resources.shadow_table, resources.search_table, resources.layouts))
    log.step(f"{resources.shadow_table} is live, {resources.search_table} its shadow")
    cutover.settle(log, f"the search API reads {resources.shadow_table}")
    return cutover.resources(), []


def retire(cutover: Cutover, delete_table: bool, log: StepLog) -> StackResources:
    """Stop writing the shadow, and delete it if asked (never the stack's own table: the stack owns it)."""
    resources = cutover.resources()
    shadow = resources.shadow_table
    if shadow is None:
        raise BadInput(f"no cutover under way: {resources.search_table} has no shadow to retire")
    if delete_table and shadow == resources.stack_search_table:
        raise BadInput(
            f"{shadow} is the stack's own table: CloudFormation deletes it with the stack. Retire it without "
            "--delete-table (it is then no longer written)"
        )
    cutover.put(resources, SearchTables(resources.search_table, layouts=resources.layouts))
    log.step(f"{shadow} is no longer the shadow of {resources.search_table}")
    cutover.settle(log, f"no function writes {shadow} any more")
    if delete_table:
        with aws_errors(f"deleting table {shadow}"):
            cutover.connection.client("dynamodb").delete_table(TableName=shadow)
        log.step(f"deleted {shadow}")
    return cutover.resources()


def _create(dynamodb: Any, name: str) -> None:
    """The table with this release's keys and indexes (not the live table's: that is what a cutover changes),
    encrypted, recoverable and expiring tombstones as the stack's own is (infra/data.py)."""
    with aws_errors(f"creating table {name}"):
        try:
            dynamodb.create_table(**table_definition(name), SSESpecification={"Enabled": True, "SSEType": "KMS"})
        except ClientError as error:
            if error_code(error) == "ResourceInUseException":
                raise BadInput(f"table {name} exists already: choose another --table") from None
            raise
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 2})
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def _request(source: str, table: str, checkpoint_dir: Path, segments: int, start: datetime | None = None) -> RunRequest:
    return RunRequest(
        source=source,
        start=start,
        end=None,
        trip_ids=frozenset(),
        target_table=table,
        verify=False,
        dry_run=False,
        restart=True,
        checkpoint_dir=checkpoint_dir,
        segments=segments,
    )


def _log_run(log: StepLog, what: str, summary: RunSummary) -> None:
    total = summary.total
    log.step(what, read=total.read, applied=total.applied, stale=total.stale, trips=summary.trips)
    if summary.refused:
        raise ReplayError(f"{len(summary.refused)} document(s) refused, first: {summary.refused[0]}")
