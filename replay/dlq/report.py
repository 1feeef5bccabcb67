"""How `dlq list | show | redrive | delete` read as text (`--json` documents are built in `cli.py`).

`list` on a terminal prints a block per message (id, kind, source and age; shard and sequence range; reason) that
reads at 80 columns; piped, one aligned line per message with a header, the same whatever the width.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape

from replay.dlq.messages import DlqMessage
from replay.dlq.records import MessageRecords
from replay.dlq.redrive import RedriveResult
from replay.terminal import print_table, text_table
from replay.window.reader import KINESIS_LAG_ALLOWANCE
from services.trip import exact_json

LAG_NOTE = (
    f"--from and --to are the changes' own times; the run reads copies that reached Kinesis up to "
    f"{int(KINESIS_LAG_ALLOWANCE.total_seconds()) // 60} minutes after --to (the destination's lag, CloudWatch "
    "AgeOfOldestUnreplicatedRecord): if that metric was higher then, widen --to by as much"
)

NONE = "-"  # a field the message does not carry


def sequence_range(message: DlqMessage) -> str:
    first, last = message.first_sequence, message.last_sequence
    if first is None and last is None:
        return NONE
    return str(first) if first == last else f"{first or '?'}..{last or '?'}"


def print_list(console: Console, messages: list[DlqMessage], queue_url: str, now: datetime) -> None:
    if not messages:
        console.print(f"0 messages in {queue_url.rsplit('/', 1)[-1]}")
        return
    if console.is_terminal:
        console.print(f"{len(messages)} message(s) in {queue_url.rsplit('/', 1)[-1]}")
        for m in messages:
            console.print()
            console.print(f"[bold]{m.message_id}[/bold]  {m.kind.value}  {m.source}  {m.age(now)}")
            console.print(f"  shard {m.shard_id or NONE}")
            console.print(f"  sequence {sequence_range(m)}", overflow="fold")  # 56-digit Kinesis numbers
            console.print(f"  {escape(m.reason)}", style="yellow")
        return
    table = text_table(console, "message id", "kind", "source", "shard", "sequence", "age", "reason")
    for m in messages:
        table.add_row(
            m.message_id, m.kind.value, m.source, m.shard_id or NONE, sequence_range(m), m.age(now), escape(m.reason)
        )
    print_table(console, table)


def print_show(console: Console, message: DlqMessage, records: MessageRecords, hint: str | None) -> None:
    console.print(f"[bold]{message.message_id}[/bold]  {message.kind.value} from {message.source}")
    console.print(f"  shard {message.shard_id or NONE}")
    console.print(f"  sequence {sequence_range(message)}", overflow="fold")
    console.print(f"  reason: {escape(message.reason)}")
    console.print(f"  sent {message.sent_at.isoformat()}, received {message.receive_count} time(s)")
    if records.expired:
        console.print(f"  records unavailable: {escape(records.expired)}", style="yellow")
        if hint:
            console.print(f"  the Kinesis copy covers the same time: {hint}")
            console.print(f"  ({LAG_NOTE})")
        return
    for record in records.records:
        if record.poison is not None:
            console.print(f"  {record.sequence_number}: poison: {escape(record.poison)}", style="red")
            console.print(f"    {escape(_json(record.raw))}", overflow="fold")
        elif record.change is None:
            console.print(f"  {record.sequence_number}: not a trip entity (ignored by the projection)")
        else:
            change = record.change
            console.print(
                f"  {record.sequence_number}: trip {change.trip_id} {change.entity} {change.kind} v{change.version}"
            )
            console.print(f"    new: {escape(_json(change.new_image))}", overflow="fold")
            console.print(f"    old: {escape(_json(change.old_image))}", overflow="fold")
    if records.incomplete:
        console.print(f"  range incomplete: {escape(records.incomplete)}", style="yellow")


def _json(value: Any) -> str:
    """One line of JSON a user can paste into `jq`: numbers with all their digits, bytes and times as text."""
    return exact_json.dumps(value, ensure_ascii=False, default=_text)


def _text(value: Any) -> str:
    return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)


def print_redrive(console: Console, result: RedriveResult) -> None:
    t = result.tally
    counts = (
        f"{t.read} record(s): {t.applied} applied, {t.superseded} superseded, {t.stale} stale, {t.irrelevant} ignored"
        + (f", {t.gone} gone from TripTable" if t.gone else "")
    )
    if result.handled:
        deleted = "" if result.reason.startswith("would") else "; message deleted"
        console.print(f"[green]{result.message_id}[/green]: {result.reason} ({counts}){deleted}")
    else:
        kept = f"kept as {result.replaced_by}" if result.replaced_by else "kept"
        console.print(f"[red]{result.message_id}[/red]: {kept}: {escape(result.reason)}")


def print_deleted(console: Console, message: DlqMessage) -> None:
    console.print(
        f"deleted {message.message_id}  {message.kind.value} from {message.source}, shard {message.shard_id or NONE}, "
        f"sequence {sequence_range(message)}: {escape(message.reason)}"
    )
