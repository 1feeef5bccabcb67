"""`replay dlq list | show | redrive`: what is in the projection's DLQ, what it stands for, and projecting it again."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from replay.dlq_messages import DlqMessage
from replay.dlq_queue import held_messages
from replay.dlq_records import MessageRecords, kinesis_window_hint, records_of
from replay.errors import BadInput
from replay.options import EndpointUrl, Json, Profile, Region, StackName, operator_errors, print_json
from replay.redrive import RedriveResult, redrive
from replay.stack import (
    DEFAULT_STACK_NAME,
    Connection,
    StackResources,
    find_stack_resources,
    kinesis_consumer,
    stream_arn,
    tombstone_ttl_seconds,
)
from services.trip.adapters.search_documents import SearchDocuments

dlq_app = typer.Typer(
    help=(
        "Inspect and redrive the projection's dead-letter queue. Two kinds of message land there: a poison record "
        "(sent whole by a consumer, with the reason) and a batch pointer (sent by the event source mapping when "
        "retries ran out: only the shard and sequence range, the records stay in the stream). Reading the queue "
        "never removes a message: every message read is made visible again."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _connect(
    stack_name: str, endpoint_url: str | None, region: str | None, profile: str | None
) -> tuple[Connection, StackResources]:
    connection = Connection(endpoint_url, region, profile)
    return connection, find_stack_resources(connection, stack_name)


def message_summary(message: DlqMessage, now: datetime) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "kind": message.kind.value,
        "source": message.source,
        "shard_id": message.shard_id,
        "first_sequence": message.first_sequence,
        "last_sequence": message.last_sequence,
        "reason": message.reason,
        "age": message.age(now),
        "sent_at": message.sent_at.isoformat(),
        "redrive_attempts": message.redrive_attempts,
    }


@dlq_app.command("list", help="One line per DLQ message: kind, source, shard and sequence range, reason, age.")
def list_messages(
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        connection, resources = _connect(stack_name, endpoint_url, region, profile)
        with held_messages(connection.client("sqs"), resources.dlq_url, hold_seconds=30) as held:
            messages = list(held.messages)
        now = datetime.now(UTC)
        if json_output:
            print_json([message_summary(m, now) for m in messages])
            return
        table = Table(title=f"{len(messages)} message(s) in {resources.dlq_url}")
        table.add_column("message id", no_wrap=True)  # copied into `dlq show`: never broken across lines
        for column in ("kind", "source", "shard", "sequence range", "reason", "age"):
            table.add_column(column, overflow="fold")
        for m in messages:
            span = m.first_sequence if m.first_sequence == m.last_sequence else f"{m.first_sequence}..{m.last_sequence}"
            table.add_row(m.message_id, m.kind.value, m.source, m.shard_id or "", span or "", m.reason, m.age(now))
        Console().print(table)


@dlq_app.command(
    "show",
    help=(
        "One message and the change records it stands for, decoded (trip, entity, event, version, images). For a "
        "batch pointer the records are read from the stream; if the stream no longer has them (DynamoDB Streams "
        "keeps 24 hours), it says so and prints the `replay run` over the Kinesis window of the same time."
    ),
)
def show(
    message_id: Annotated[str, typer.Argument(help="The id `dlq list` shows.")],
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        connection, resources = _connect(stack_name, endpoint_url, region, profile)
        with held_messages(connection.client("sqs"), resources.dlq_url, hold_seconds=60) as held:
            message = _find(held.messages, [message_id])[0]
            records = records_of(message, connection)
        hint = kinesis_window_hint(message) if records.expired else None
        if json_output:
            print_json(
                {
                    "message": message_summary(message, datetime.now(UTC)),
                    "body": message.body,
                    **_records_document(records),
                    "kinesis_window": hint,
                }
            )
            return
        _print_show(Console(), message, records, hint)


def _records_document(records: MessageRecords) -> dict[str, Any]:
    return {
        "expired": records.expired,
        "incomplete": records.incomplete,
        "records": [
            {
                "sequence_number": r.sequence_number,
                "poison": r.poison,
                "change": None if r.change is None else {
                    "trip_id": r.change.trip_id,
                    "entity": r.change.entity.value,
                    "event": r.change.kind.value,
                    "version": r.change.version,
                    "new_image": r.change.new_image,
                    "old_image": r.change.old_image,
                },
            }
            for r in records.records
        ],
    }  # fmt: skip


def _print_show(console: Console, message: DlqMessage, records: MessageRecords, hint: str | None) -> None:
    console.print(f"[bold]{message.message_id}[/bold]  {message.kind.value} from {message.source}")
    console.print(f"  shard {message.shard_id}  sequence {message.first_sequence}..{message.last_sequence}")
    console.print(f"  reason: {message.reason}")
    console.print(f"  sent {message.sent_at.isoformat()}, received {message.receive_count} time(s)")
    if records.expired:
        console.print(f"[yellow]  records unavailable: {records.expired}[/yellow]")
        if hint:
            console.print(f"  the Kinesis copy covers the same time: {hint}")
        return
    for record in records.records:
        if record.poison is not None:
            console.print(f"  [red]{record.sequence_number}: poison: {record.poison}[/red]")
            console.print(f"    {record.raw!r}", highlight=False)
        elif record.change is None:
            console.print(f"  {record.sequence_number}: not a trip entity (ignored by the projection)")
        else:
            change = record.change
            console.print(
                f"  {record.sequence_number}: trip {change.trip_id} {change.entity} {change.kind} v{change.version}"
            )
            console.print(f"    new: {change.new_image}", highlight=False)
            console.print(f"    old: {change.old_image}", highlight=False)


def _find(messages: list[DlqMessage], message_ids: list[str]) -> list[DlqMessage]:
    by_id = {m.message_id: m for m in messages}
    unknown = [i for i in message_ids if i not in by_id]
    if unknown:
        raise BadInput(f"no message {', '.join(unknown)} in the DLQ (see `replay dlq list`)")
    return [by_id[i] for i in message_ids]


@dlq_app.command(
    "redrive",
    help=(
        "Project the records of the given messages (or --all) again, after a fix was deployed. A message is deleted "
        "only when every one of its records was projected or found stale; one that fails again stays, replaced by "
        "a copy carrying the new reason (`dlq list` shows it). --dry-run says what would happen and changes nothing."
    ),
)
def redrive_messages(
    message_ids: Annotated[list[str] | None, typer.Argument(help="Ids from `dlq list`.")] = None,
    all_messages: Annotated[bool, typer.Option("--all", help="Every message in the DLQ.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide, print, and change nothing.")] = False,
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        if bool(message_ids) == all_messages:
            raise BadInput("name the messages to redrive, or pass --all (not both)")
        connection, resources = _connect(stack_name, endpoint_url, region, profile)
        dynamodb = connection.session.resource("dynamodb", endpoint_url=connection.endpoint_url)
        documents = SearchDocuments(resources.search_table, dynamodb)
        ttl = tombstone_ttl_seconds(kinesis_consumer(connection, stream_arn(connection, resources.change_stream)[0]))
        console = Console()
        results: list[RedriveResult] = []
        with held_messages(connection.client("sqs"), resources.dlq_url) as held:
            chosen = held.messages if all_messages else _find(held.messages, message_ids or [])
            if not json_output:
                verb = "Would redrive" if dry_run else "Redriving"
                console.print(f"{verb} {len(chosen)} message(s) into {resources.search_table}")
            for message in chosen:
                results.append(redrive(held, message, connection, documents, ttl, dry_run))
                if not json_output:
                    _print_redrive(console, results[-1])
        if json_output:
            print_json([{**asdict(r), "tally": asdict(r.tally)} for r in results])
        if any(not r.handled for r in results):
            raise typer.Exit(1)


def _print_redrive(console: Console, result: RedriveResult) -> None:
    t = result.tally
    counts = (
        f"{t.read} record(s): {t.applied} applied, {t.superseded} superseded, {t.stale} stale, {t.irrelevant} ignored"
    )
    if result.handled:
        deleted = "" if result.reason.startswith("would") else "; message deleted"
        console.print(f"[green]{result.message_id}[/green]: {result.reason} ({counts}){deleted}")
    else:
        kept = f"kept as {result.replaced_by}" if result.replaced_by else "kept"
        console.print(f"[red]{result.message_id}[/red]: {kept}: {result.reason}")
