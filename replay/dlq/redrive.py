"""Redrive: project a DLQ message's records again, and delete the message only if every one was handled.

Handled means every record the message stands for was read and projected, found stale (the document already
holds it or newer), or found gone: a write TripTable no longer holds (`current_items`), which a redrive never
applies, so it cannot bring back a deleted trip. Anything else keeps the message, replaced by one that carries the
new reason: a record that still does not decode, records the stream no longer has, a pointer's range that could
not be read to its end, a write that fails, and a change the fold decided by a rule TripTable may disagree with
(`findings`: the same WARNING lines the consumers log). `--dry-run` decides the same way and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from replay.dlq.current_items import GoneChange, gone_changes
from replay.dlq.messages import DlqMessage, Kind, annotated_body
from replay.dlq.queue import HeldMessages, LostHold
from replay.dlq.records import MessageRecords, records_of
from replay.errors import ReplayError
from replay.stack import Connection
from replay.tally import Tally
from replay.writers import LiveWriter
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.findings import FoldReport


@dataclass(frozen=True)
class RedriveResult:
    message_id: str
    handled: bool
    reason: str  # what happened, or why the message stays
    tally: Tally
    replaced_by: str | None = None  # the id of the message that now carries the new reason
    gone: list[str] = field(default_factory=list)  # the writes TripTable no longer holds, not applied
    findings: list[dict[str, Any]] = field(default_factory=list)  # FoldReport.fields() of each, in order

    @property
    def warnings(self) -> list[str]:
        """The WARNING lines of the findings, as a terminal shows them."""
        return [str(finding["line"]) for finding in self.findings]


@dataclass(frozen=True)
class Target:
    """Where a redrive reads TripTable and writes the search documents."""

    documents: SearchDocuments
    trip_table: str
    tombstone_ttl_seconds: int
    shadow: SearchDocuments | None = None  # a cutover's shadow table, written like the live one


def redrive(
    held: HeldMessages, message: DlqMessage, connection: Connection, target: Target, dry_run: bool
) -> RedriveResult:
    if dry_run:
        return _redrive(held, message, connection, target, dry_run)
    try:
        with held.working(message):  # held while its records are read and projected, however long that takes
            return _redrive(held, message, connection, target, dry_run)
    except LostHold as lost:
        return RedriveResult(message.message_id, False, str(lost), Tally())


def _redrive(
    held: HeldMessages, message: DlqMessage, connection: Connection, target: Target, dry_run: bool
) -> RedriveResult:
    records = records_of(message, connection)
    tally = Tally(read=len(records.records), irrelevant=len(records.records) - len(records.changes))
    failure = _unprojectable(records)
    gone: list[GoneChange] = []
    reports: list[FoldReport] = []
    if failure is None:
        try:
            gone = gone_changes(connection.client("dynamodb"), target.trip_table, records.changes)
            writer = LiveWriter(target.documents, target.tombstone_ttl_seconds, dry_run, target.shadow)
            skipped = {id(g.change) for g in gone}
            for outcome in writer.project([c for c in records.changes if id(c) not in skipped]):
                tally.count(outcome)
            reports = writer.findings
            failure = writer.unprojected()
        except ReplayError as error:
            failure = str(error)
    tally.gone = len(gone)
    tally.count_findings(report.finding for report in reports)
    gone_lines = [g.describe() for g in gone]
    findings = [{**report.fields(), "line": report.line()} for report in reports]

    def result(handled: bool, reason: str, replaced_by: str | None = None) -> RedriveResult:
        return RedriveResult(message.message_id, handled, reason, tally, replaced_by, gone_lines, findings)

    if failure is None and reports:
        failure = (
            f"{len(reports)} change(s) decided by a rule TripTable may disagree with, first: "
            f"{reports[0].line().removeprefix('WARNING ')}"
        )
    if failure is None:
        if not dry_run:
            try:
                held.delete(message)
            except LostHold as lost:
                return result(False, f"projected, but not deleted: {lost}")
        done = "would be projected" if dry_run else "projected"
        if gone:
            done += f"; {len(gone)} write(s) TripTable no longer holds not applied, first: {gone_lines[0]}"
        return result(True, done)
    if dry_run or message.kind is Kind.UNREADABLE:
        return result(False, failure)
    try:
        replacement = held.replace(message, annotated_body(message, failure, datetime.now(UTC)))
    except LostHold as lost:
        return result(False, f"{failure}; not replaced: {lost}")
    return result(False, failure, replacement)


def _unprojectable(records: MessageRecords) -> str | None:
    if records.unavailable:
        return records.unavailable
    if records.poison:
        first = records.poison[0]
        return f"{len(records.poison)} record(s) still poison, first at {first.sequence_number}: {first.poison}"
    return None
