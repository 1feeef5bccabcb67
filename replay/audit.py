"""`trip-replay audit`: the drift audit on demand, for trips, a segment, or the whole live search table
(the same check as the scheduled DriftAudit function: services.trip.auditor; docs/drift-audit.md).

Report only unless `--repair`. Exit 0: no drift; 1: drift found (repaired or not); 2: a mistake in the command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from replay import stack
from replay.errors import BadInput, ReplayError
from replay.options import (
    EndpointUrl,
    Json,
    Profile,
    Region,
    StackName,
    operator_errors,
    print_json,
    seconds_value,
    trip_ids_value,
)
from replay.stack import DEFAULT_STACK_NAME, Connection, StackResources, find_stack_resources
from replay.terminal import counted, output_console
from services.trip.adapters.search_documents import PermanentStoreError, TransientStoreError
from services.trip.adapters.trip_items import TripItems
from services.trip.audit import Verdict
from services.trip.auditor import AuditReport, Cursor, DriftAuditor, TripFinding
from services.trip.config import DEFAULT_AUDIT_SETTLE_SECONDS

MAX_SEGMENTS = 1_000_000  # DynamoDB's parallel scan (API reference, Scan: TotalSegments)
UNLIMITED = float("inf")

TripIds = Annotated[
    list[str] | None,
    typer.Option(
        "--trip-id",
        metavar="ID",
        callback=trip_ids_value,
        help="Audit this trip (repeatable); without it, a segment (--segment/--segments) or every trip.",
    ),
]
Segment = Annotated[
    int | None,
    typer.Option("--segment", metavar="N", min=0, help="Audit parallel-scan segment N (0-based) of --segments."),
]
Segments = Annotated[
    int | None,
    typer.Option("--segments", metavar="M", min=1, max=MAX_SEGMENTS, help="How many segments the tables are cut in."),
]
Repair = Annotated[
    bool,
    typer.Option(
        "--repair/--no-repair",
        help="Repair what drifted through the version gate (default: report only).",
    ),
]
SettleSeconds = Annotated[
    float,
    typer.Option(
        "--settle-seconds",
        metavar="SECONDS",
        min=0,
        callback=seconds_value,
        help="How long to wait before reading a differing trip again, to tell a change in flight from drift "
        f"(default {DEFAULT_AUDIT_SETTLE_SECONDS}, the function's).",
    ),
]


def audit(
    trip_ids: TripIds = None,
    segment: Segment = None,
    segments: Segments = None,
    repair: Repair = False,
    settle_seconds: SettleSeconds = DEFAULT_AUDIT_SETTLE_SECONDS,
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    """Compare the live search table with TripTable, trip by trip, as the scheduled DriftAudit does: a trip that
    differs is read again after --settle-seconds, and is drift only if it still differs and neither side moved (else
    a change was in flight). Report only unless --repair: then each drifted trip is re-projected from TripTable and
    written on condition that its document is still the one read (a newer change is never overwritten). Exit 1 if
    any trip drifted, repaired or not."""
    with operator_errors():
        cursor = _scope(trip_ids, segment, segments)
        connection = Connection(endpoint_url, region, profile)
        resources = find_stack_resources(connection, stack_name)
        console = output_console()
        with _progress(console, quiet=json_output) as progress:
            auditor = drift_auditor(
                connection, resources, resources.search_table, settle_seconds, repair=repair, progress=progress
            )
            try:
                report = _run(auditor, trip_ids, cursor)
            except (TransientStoreError, PermanentStoreError) as error:
                raise ReplayError(
                    f"auditing {resources.search_table} against {resources.trip_table}: {error}"
                ) from None
        scope = _scope_text(trip_ids, cursor)
        if json_output:
            print_json(_document(report, resources.search_table, scope, repair))
        else:
            _print(console, report, resources.search_table, scope, repair)
        if report.drifted:
            raise typer.Exit(1)


def drift_auditor(
    connection: Connection,
    resources: StackResources,
    table: str,
    settle_seconds: float,
    *,
    repair: bool,
    progress: Callable[[int], None] | None = None,
) -> DriftAuditor:
    """The drift audit of `table` (one the search-tables parameter names, read with its layout) against the stack's
    TripTable, tombstones expiring when the consumers' do: `trip-replay audit`'s, and `cutover verify`'s."""
    arn, _ = stack.stream_arn(connection, resources.change_stream)
    ttl = stack.tombstone_ttl_seconds(stack.kinesis_consumer(connection, arn))
    return DriftAuditor(
        TripItems(resources.trip_table, connection.client("dynamodb")),
        resources.documents_of(table, connection.resource("dynamodb")),
        settle_seconds=settle_seconds,
        repair=repair,
        tombstone_ttl_seconds=ttl,
        progress=progress,
    )


def _scope(trip_ids: list[str] | None, segment: int | None, segments: int | None) -> Cursor | None:
    """The segment to audit (all of it: one segment of one), or None for --trip-id; BadInput for a mixed scope."""
    if trip_ids and (segment is not None or segments is not None):
        raise BadInput("--trip-id audits those trips: leave out --segment and --segments")
    if (segment is None) != (segments is None):
        raise BadInput("--segment N and --segments M go together: segment N of M")
    if trip_ids:
        return None
    if segment is None or segments is None:
        return Cursor(1)
    if segment >= segments:
        raise BadInput(f"--segment {segment} is not one of --segments {segments} (0 to {segments - 1})")
    return Cursor(segments, segment)


def _run(auditor: DriftAuditor, trip_ids: list[str] | None, cursor: Cursor | None) -> AuditReport:
    if cursor is None:
        return auditor.audit_trips(list(dict.fromkeys(trip_ids or ())))
    return auditor.audit_segment(cursor, read_budget=UNLIMITED)


@contextmanager
def _progress(console: Console, *, quiet: bool) -> Iterator[Any]:
    """A callback showing how many trips were assessed, live on a terminal; nothing when piped or --json."""
    if quiet or not console.is_terminal:
        yield lambda _: None
        return
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
    ) as progress:
        task = progress.add_task("auditing: 0 trips", total=None)
        yield lambda trips: progress.update(task, description=f"auditing: {counted(trips, 'trip')}")


def _scope_text(trip_ids: list[str] | None, cursor: Cursor | None) -> str:
    if cursor is None:
        return counted(len(set(trip_ids or ())), "trip") + " named"
    if cursor.segments == 1:
        return "every trip"
    return f"segment {cursor.segment} of {cursor.segments}"


def _finding(finding: TripFinding) -> dict[str, Any]:
    return {
        "trip_id": finding.trip_id,
        "verdict": finding.verdict.value,
        "kind": finding.kind.value if finding.kind else None,
        "repaired": finding.repaired,
        "reason": finding.reason,
        "differences": [{"field": d.field, "search": d.live, "trip_table": d.target} for d in finding.differences],
    }


def _document(report: AuditReport, table: str, scope: str, repair: bool) -> dict[str, Any]:
    return {
        "table": table,
        "scope": scope,
        "repair": repair,
        **report.counts(),
        "findings": [_finding(finding) for finding in report.findings if finding.verdict is not Verdict.IN_SYNC],
    }


def _print(console: Console, report: AuditReport, table: str, scope: str, repair: bool) -> None:
    """Each drifted trip with what differs, one field a line; then unreadable and in-flight trips; then a summary."""
    for finding in report.drifted:
        state = "repaired" if finding.repaired else "not repaired"
        kind = finding.kind.value if finding.kind else "?"
        console.print(f"[red]drifted[/red] {escape(finding.trip_id)}: {kind}, {state}")
        for difference in finding.differences:
            console.print(
                f"  {difference.field}: search {difference.live!r}, TripTable {difference.target!r}",
                overflow="fold",
                markup=False,  # the values are the data's: a hotel name may hold `[/]`
            )
    for finding in report.of(Verdict.UNREADABLE):
        console.print(f"[yellow]unreadable[/yellow] {escape(f'{finding.trip_id}: {finding.reason}')}", overflow="fold")
    for finding in report.of(Verdict.IN_FLIGHT):
        why = f": {finding.reason}" if finding.reason else ""
        console.print(f"in flight {finding.trip_id}{why} (audit it again later)", markup=False)
    console.print(f"audit of {escape(table)}: {escape(scope)}")
    console.print(
        f"{counted(report.trips, 'trip')} read: {len(report.drifted)} drifted, {len(report.repaired)} repaired, "
        f"{len(report.of(Verdict.IN_FLIGHT))} in flight ({report.read_units:,.1f} read units)"
    )
    if report.drifted and not repair:
        console.print("report only: run again with --repair to re-project the drifted trips from TripTable")
