"""`python -m replay` / `trip-replay`: re-project TripTable's changes into the search table, and work the DLQ."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from operator_cli.usage import OperatorErrors, help_without_command
from replay.audit import audit
from replay.cutover.cli import cutover_app
from replay.dlq.cli import dlq_app
from replay.errors import BadInput
from replay.mapping.report import MappingProgress, mapping_result_document, render_mapping_result
from replay.mapping.run import MappingRequest, rebuild_via_mapping
from replay.options import (
    EndpointUrl,
    Json,
    Profile,
    Region,
    StackName,
    operator_errors,
    print_json,
    seconds_value,
    table_name_value,
    trip_ids_value,
)
from replay.stack import DEFAULT_STACK_NAME, Connection, find_stack_resources
from replay.terminal import output_console, warn
from replay.timespec import parse_time
from replay.window.checkpoint import default_checkpoint_dir
from replay.window.report import Silent, TerminalProgress, render_result, result_document
from replay.window.run import DEFAULT_SHARD_CONCURRENCY, RunRequest, replay_run

app = typer.Typer(
    help=(
        "Rebuild or repair TripSearchTable from TripTable's change history, and inspect and redrive the "
        "projection's dead-letter queue. Resources are found from the stack's outputs (--stack-name)."
    ),
    rich_markup_mode=None,
    cls=OperatorErrors,
    invoke_without_command=True,
    callback=help_without_command,
)
app.add_typer(dlq_app, name="dlq")
app.add_typer(cutover_app, name="cutover")
app.command(name="audit")(audit)
DEFAULT_CHECKPOINT_DIR = default_checkpoint_dir()


class ChangeSource(StrEnum):
    KINESIS = "kinesis"
    TABLE = "table"


@app.command(
    help=(
        "Project TripTable's changes into the search table again.\n\n"
        "--source kinesis (default) reads every shard of the change stream over the window --from..--to, parents "
        "before children after a reshard. Use it to repair the live table after a bug fix or a lost write, or to "
        "rebuild within the stream's retention. --source table scans TripTable's current items instead: use it "
        "when the window does not reach back far enough (history older than the retention, a new table design); "
        "it sees only current items, so it cannot replay an entity's intermediate versions.\n\n"
        "Without --target-table, changes go into the live table through the consumers' projector: version-gated, "
        "idempotent, safe while the consumers run. With --target-table, that table is created with the live "
        "table's schema if missing, each trip's history is folded in memory and written whole in batches.\n\n"
        "A Kinesis run saves a checkpoint; run the same command again to resume it (--restart to start over).\n\n"
        "--via-mapping (with --from and --target-table) lets AWS do the reading and projecting, for windows of "
        "hundreds of millions of changes: it creates a temporary copy of the Kinesis consumer that writes the "
        "target, and an event source mapping from --from (AT_TIMESTAMP) on the change stream to it, waits until "
        "the mapping has caught up (see --quiet-for), then deletes both. The copy runs with the consumer's role, "
        "which on AWS may write only the live table: the run adds an inline policy to that role allowing the "
        "target table alone, and removes it afterwards (you need iam:PutRolePolicy and iam:DeleteRolePolicy on "
        "it). The copy's poison records and failed batches go to a queue of the run, not to the live DLQ: the "
        "summary lists them and the queue is deleted at the end (--keep-queue keeps it). No checkpoint "
        "(an interrupted run starts over, and first removes what the interrupted one left)."
    )
)
def run(
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="TIME",
            help="Start of the window: ISO-8601 (UTC if no zone) or an age (90m, 6h, 3d). Required for kinesis.",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="TIME", help="End of the window (default: now, fixed when the run starts)."),
    ] = None,
    trip_id: Annotated[
        list[str] | None,
        typer.Option("--trip-id", metavar="ID", callback=trip_ids_value, help="Only these trips (repeatable)."),
    ] = None,
    target_table: Annotated[
        str | None,
        typer.Option(
            "--target-table",
            metavar="NAME",
            callback=table_name_value,
            help="Rebuild into this table (created if missing) instead of the live one.",
        ),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Afterwards, compare --target-table with the live table.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and plan; write nothing; say what would be written.")
    ] = False,
    source: Annotated[
        ChangeSource,
        typer.Option("--source", help="kinesis: the change stream's window; table: TripTable's current items."),
    ] = ChangeSource.KINESIS,
    segments: Annotated[
        int, typer.Option("--segments", metavar="N", min=1, max=64, help="Parallel scan segments (--source table).")
    ] = 4,
    shard_concurrency: Annotated[
        int,
        typer.Option(
            "--shard-concurrency",
            metavar="N",
            min=1,
            max=64,
            help=(
                "Shards read at once (--source kinesis), parents before children; each at most 3 GetRecords/s and "
                "1 MiB/s, leaving the rest of the shard's limits to the live consumer."
            ),
        ),
    ] = DEFAULT_SHARD_CONCURRENCY,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore the checkpoint of an unfinished run and start over.")
    ] = False,
    checkpoint_dir: Annotated[
        Path, typer.Option("--checkpoint-dir", metavar="DIR", file_okay=False, help="Where checkpoints are kept.")
    ] = DEFAULT_CHECKPOINT_DIR,
    via_mapping: Annotated[
        bool,
        typer.Option(
            "--via-mapping", help="Rebuild --target-table through a temporary event source mapping (AWS does the work)."
        ),
    ] = False,
    quiet_for: Annotated[
        float,
        typer.Option(
            "--quiet-for",
            metavar="SECONDS",
            min=1,
            callback=seconds_value,
            help=(
                "--via-mapping: caught up once the mapping has been idle or within 10 s of the stream's tip for this "
                "many seconds. Lambda's metrics arrive a minute or two late on AWS: keep it above 120."
            ),
        ),
    ] = 180.0,
    keep_queue: Annotated[
        bool,
        typer.Option(
            "--keep-queue",
            help="--via-mapping: keep the run's queue (the copy's poison records and failed batches) afterwards.",
        ),
    ] = False,
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        if via_mapping:
            _check_mapping_options(source, from_, to, trip_id, target_table, restart)
            mapping_request = MappingRequest(
                start=parse_time(str(from_), "--from"),
                target_table=str(target_table),
                verify=verify,
                dry_run=dry_run,
                quiet_for_s=quiet_for,
                keep_queue=keep_queue,
            )
            _run_via_mapping(Connection(endpoint_url, region, profile), stack_name, mapping_request, json_output)
            return
        if keep_queue:
            raise BadInput("--keep-queue keeps the queue of a --via-mapping run: it needs --via-mapping")
        if source is ChangeSource.KINESIS and from_ is None:
            raise BadInput("--from is required with --source kinesis (e.g. --from 6h, or --from 2024-05-01T03:00Z)")
        if source is ChangeSource.TABLE and (from_ is not None or to is not None):
            raise BadInput("--from/--to choose a window of the change stream: --source table reads current items")
        request = RunRequest(
            source=source.value,
            start=parse_time(from_, "--from") if from_ is not None else None,
            end=parse_time(to, "--to") if to is not None else None,
            trip_ids=frozenset(trip_id or ()),
            target_table=target_table,
            verify=verify,
            dry_run=dry_run,
            restart=restart,
            checkpoint_dir=checkpoint_dir,
            segments=segments,
            shard_concurrency=shard_concurrency,
        )
        connection = Connection(endpoint_url, region, profile)
        resources = find_stack_resources(connection, stack_name)
        console = output_console()
        observer = Silent() if json_output else TerminalProgress(console)
        try:
            result = replay_run(connection, resources, request, observer)
        finally:
            if isinstance(observer, TerminalProgress):
                observer.stop()
        warn(report.line() for report in result.summary.findings)
        if json_output:
            print_json(result_document(result))
        else:
            render_result(console, result)
        if result.differences or result.summary.refused:
            raise typer.Exit(1)


def _check_mapping_options(
    source: ChangeSource,
    from_: str | None,
    to: str | None,
    trip_ids: list[str] | None,
    target_table: str | None,
    restart: bool,
) -> None:
    if source is not ChangeSource.KINESIS or from_ is None or target_table is None:
        raise BadInput("--via-mapping reads the change stream into a new table: it needs --from and --target-table")
    if to is not None or trip_ids or restart:
        raise BadInput(
            "a mapping reads every trip up to the stream's tip and keeps no checkpoint: "
            "--to, --trip-id and --restart need the local reader (drop --via-mapping)"
        )


def _run_via_mapping(connection: Connection, stack_name: str, request: MappingRequest, json_output: bool) -> None:
    resources = find_stack_resources(connection, stack_name)
    console = output_console()
    result = rebuild_via_mapping(connection, resources, request, MappingProgress(console, quiet=json_output))
    if json_output:
        print_json(mapping_result_document(result))
    else:
        render_mapping_result(console, result)
    if result.differences or result.failed_batches:
        raise typer.Exit(1)
