"""`python -m replay dlq list | show | redrive | delete`: what is in the projection's DLQ, what it stands for,
projecting it again, and dismissing what no fix will make projectable."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from operator_cli.usage import help_without_command
from replay.dlq.messages import DlqMessage
from replay.dlq.queue import held_messages
from replay.dlq.records import MessageRecords, kinesis_window_hint, records_of
from replay.dlq.redrive import RedriveResult, Target, redrive
from replay.dlq.report import print_deleted, print_list, print_redrive, print_show
from replay.errors import BadInput
from replay.options import (
    EndpointUrl,
    Json,
    Profile,
    Region,
    StackName,
    name_value,
    names_value,
    operator_errors,
    print_json,
)
from replay.stack import (
    DEFAULT_STACK_NAME,
    Connection,
    StackResources,
    find_stack_resources,
    kinesis_consumer,
    stream_arn,
    tombstone_ttl_seconds,
)
from replay.terminal import output_console, warn
from replay.window.reader import KINESIS_LAG_ALLOWANCE

dlq_app = typer.Typer(
    help=(
        "Inspect and redrive the projection's dead-letter queue. Two kinds of message land there: a poison record "
        "(sent whole by a consumer, with the reason) and a batch pointer (sent by the event source mapping when "
        "retries ran out: only the shard and sequence range, the records stay in the stream). Reading the queue "
        "never removes a message: every message read is made visible again."
    ),
    rich_markup_mode=None,
    invoke_without_command=True,
    callback=help_without_command,
)


MessageIds = Annotated[
    list[str] | None, typer.Argument(metavar="MESSAGE_ID", callback=names_value, help="Ids from `dlq list`.")
]


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


@dlq_app.command(
    "list",
    help=(
        "Every DLQ message: id, kind, source, age, shard, sequence range, reason. On a terminal a block per "
        "message; piped, one plain line per message under a header."
    ),
)
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
        print_list(output_console(), messages, resources.dlq_url, now)


@dlq_app.command(
    "show",
    help=(
        "One message and the change records it stands for, decoded (trip, entity, event, version, images). For a "
        "batch pointer the records are read from the stream, through empty pages, up to the range's end; a range "
        "that cannot be read to its end is shown as incomplete. If the stream no longer has them (DynamoDB Streams "
        "keeps 24 hours), it says so and prints the `python -m replay run` over the Kinesis window of the same time."
    ),
)
def show(
    message_id: Annotated[
        str, typer.Argument(metavar="MESSAGE_ID", callback=name_value, help="The id `dlq list` shows.")
    ],
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
                    "kinesis_lag_allowance_s": int(KINESIS_LAG_ALLOWANCE.total_seconds()) if hint else None,
                }
            )
            return
        print_show(output_console(), message, records, hint)


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


def _find(messages: list[DlqMessage], message_ids: list[str]) -> list[DlqMessage]:
    by_id = {m.message_id: m for m in messages}
    unknown = [i for i in message_ids if i not in by_id]
    if unknown:
        raise BadInput(f"no message {', '.join(unknown)} in the DLQ (see `python -m replay dlq list`)")
    return [by_id[i] for i in message_ids]


@dlq_app.command(
    "redrive",
    help=(
        "Project the records of the given messages (or --all) again, after a fix was deployed. A message is deleted "
        "only when every record it stands for was read (a pointer: its whole range) and projected or found stale; "
        "one that fails again stays, replaced by a copy carrying the new reason (`dlq list` shows it). --dry-run "
        "says what would happen and changes nothing."
    ),
)
def redrive_messages(
    message_ids: MessageIds = None,
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
        ttl = tombstone_ttl_seconds(kinesis_consumer(connection, stream_arn(connection, resources.change_stream)[0]))
        dynamodb = connection.resource("dynamodb")
        documents = resources.documents_of(resources.search_table, dynamodb)
        shadow = resources.documents_of(resources.shadow_table, dynamodb) if resources.shadow_table else None
        target = Target(documents, resources.trip_table, ttl, shadow)
        console = output_console()
        results: list[RedriveResult] = []
        with held_messages(connection.client("sqs"), resources.dlq_url) as held:
            chosen = held.messages if all_messages else _find(held.messages, message_ids or [])
            if not json_output:
                verb = "Would redrive" if dry_run else "Redriving"
                console.print(f"{verb} {len(chosen)} message(s) into {' and '.join(resources.written_tables)}")
            for message in chosen:
                results.append(redrive(held, message, connection, target, dry_run))
                warn(results[-1].warnings)
                if not json_output:
                    print_redrive(console, results[-1])
        if json_output:
            print_json([{**asdict(r), "tally": asdict(r.tally)} for r in results])
        if any(not r.handled for r in results):
            raise typer.Exit(1)


@dlq_app.command(
    "delete",
    help=(
        "Delete messages for good, each printed as it goes (with --json, each whole body: keep it as a record). "
        "Use it for what no fix will make projectable: a poison record from a writer that is gone, a pointer whose "
        "records expired and whose trips were rebuilt or repaired since (`python -m replay run`), a test message. "
        "Anything a deployed fix can project, redrive instead. --all deletes every message the queue holds when the "
        "command starts and needs --yes to say so."
    ),
)
def delete_messages(
    message_ids: MessageIds = None,
    all_messages: Annotated[bool, typer.Option("--all", help="Every message in the DLQ (with --yes).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm --all: delete every message, unseen.")] = False,
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        if bool(message_ids) == all_messages:
            raise BadInput("name the messages to delete, or pass --all (not both)")
        if all_messages and not yes:
            raise BadInput(
                "--all deletes every message in the DLQ for good: add --yes to confirm "
                "(`python -m replay dlq list` shows what they are)"
            )
        connection, resources = _connect(stack_name, endpoint_url, region, profile)
        console = output_console()
        deleted: list[dict[str, Any]] = []
        completed = False
        try:
            with held_messages(connection.client("sqs"), resources.dlq_url, hold_seconds=60) as held:
                chosen = held.messages if all_messages else _find(held.messages, message_ids or [])
                now = datetime.now(UTC)
                for message in chosen:
                    held.delete(message)
                    deleted.append({**message_summary(message, now), "body": message.body})
                    if not json_output:
                        print_deleted(console, message)
            completed = True
        finally:  # what was deleted is told even when a later deletion fails
            if json_output and (completed or deleted):
                print_json(deleted)
            elif completed or deleted:
                console.print(f"{len(deleted)} message(s) deleted from {resources.dlq_url.rsplit('/', 1)[-1]}")
