"""Redrive: project a DLQ message's records again, and delete the message only if every one was handled.

Handled means every record the message stands for was read and projected or found stale (the document already
holds it or newer). Anything else (a record that still does not decode, records the stream no longer has, a
pointer's range that could not be read to its end, a write that fails) keeps the message, replaced by one that
carries the new reason; `--dry-run` decides the same way and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from replay.dlq.messages import DlqMessage, Kind, annotated_body
from replay.dlq.queue import HeldMessages, LostHold
from replay.dlq.records import MessageRecords, records_of
from replay.errors import ReplayError
from replay.stack import Connection
from replay.tally import Tally
from replay.writers import LiveWriter
from services.trip.adapters.search_documents import SearchDocuments


@dataclass(frozen=True)
class RedriveResult:
    message_id: str
    handled: bool
    reason: str  # what happened, or why the message stays
    tally: Tally
    replaced_by: str | None = None  # the id of the message that now carries the new reason


def redrive(
    held: HeldMessages, message: DlqMessage, connection: Connection, documents: SearchDocuments, ttl: int, dry_run: bool
) -> RedriveResult:
    if not dry_run:
        try:
            held.hold(message)  # renewed before the slow read of a pointer's range
        except LostHold as lost:
            return RedriveResult(message.message_id, False, str(lost), Tally())
    records = records_of(message, connection)
    tally = Tally(read=len(records.records), irrelevant=len(records.records) - len(records.changes))
    failure = _unprojectable(records)
    if failure is None:
        writer = LiveWriter(documents, ttl, dry_run)
        try:
            for outcome in writer.project(records.changes):
                tally.count(outcome)
            failure = writer.unprojected()
        except ReplayError as error:
            failure = str(error)
    if failure is None:
        if not dry_run:
            try:
                held.delete(message)
            except LostHold as lost:
                return RedriveResult(message.message_id, False, f"projected, but not deleted: {lost}", tally)
        return RedriveResult(message.message_id, True, "would be projected" if dry_run else "projected", tally)
    if dry_run or message.kind is Kind.UNREADABLE:
        return RedriveResult(message.message_id, False, failure, tally)
    try:
        replacement = held.replace(message, annotated_body(message, failure, datetime.now(UTC)))
    except LostHold as lost:
        return RedriveResult(message.message_id, False, f"{failure}; not replaced: {lost}", tally)
    return RedriveResult(message.message_id, False, failure, tally, replaced_by=replacement)


def _unprojectable(records: MessageRecords) -> str | None:
    if records.unavailable:
        return records.unavailable
    if records.poison:
        first = records.poison[0]
        return f"{len(records.poison)} record(s) still poison, first at {first.sequence_number}: {first.poison}"
    return None
