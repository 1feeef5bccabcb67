"""`trip-replay cutover`: change the read model without downtime (replay/cutover/steps.py says why nothing is lost)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from replay.cutover import steps
from replay.cutover.steps import Cutover, StepLog
from replay.options import (
    EndpointUrl,
    Json,
    Profile,
    Region,
    StackName,
    operator_errors,
    print_json,
    table_name_value,
)
from replay.stack import DEFAULT_STACK_NAME, Connection, StackResources, find_stack_resources
from replay.terminal import output_console
from replay.verify import print_verification
from replay.window.checkpoint import default_checkpoint_dir
from replay.window.report import Silent, TerminalProgress
from services.trip.projection import PROJECTION_VERSION
from services.trip.search_views import Verification

cutover_app = typer.Typer(
    help=(
        "Change the read model without downtime: build the next version of the search table beside the live one "
        "(start), compare it with TripTable (verify), make it live (switch; switch --no-verify rolls back), and stop "
        "writing the old one (retire). The search API and both consumers follow the stack's search-tables parameter "
        "within searchTablesMaxAgeSeconds; no redeploy. See docs/operations.md, 'Changing the read model'."
    ),
    rich_markup_mode=None,
    no_args_is_help=True,
)
DEFAULT_CHECKPOINT_DIR = default_checkpoint_dir()


def _cutover(stack_name: str, endpoint_url: str | None, region: str | None, profile: str | None) -> Cutover:
    connection = Connection(endpoint_url, region, profile)
    resources = find_stack_resources(connection, stack_name)
    return Cutover(connection, stack_name, steps.settle_seconds(connection, resources))


def _log(json_output: bool) -> StepLog:
    console = output_console()
    return StepLog(say=(lambda line: None) if json_output else console.print)


def _tables(resources: StackResources) -> dict[str, Any]:
    return {
        "live": resources.search_table,
        "shadow": resources.shadow_table,
        "stack_table": resources.stack_search_table,
        "parameter": resources.search_tables_parameter,
        "layouts": {table: str(layout) for table, layout in resources.layouts.items()},
    }


def _verification(verification: Verification) -> dict[str, Any]:
    return {
        "differences": [asdict(d) for d in verification.differences],
        "undecided": [asdict(u) for u in verification.undecided],
    }


@cutover_app.command(
    help=(
        "Create the next version of the search table (this release's keys and indexes), make it the shadow the "
        "consumers write beside the live table, project TripTable's items into it, replay the change stream since "
        "the shadow was named, and compare it with TripTable, trip by trip, as the drift audit does. Exit 1 if it "
        "differs: the cutover stays under way (the shadow is still written); look at the differences, then `verify` "
        "again or `retire --delete-table`."
    )
)
def start(
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            metavar="NAME",
            callback=table_name_value,
            help="The new table's name (default: <stack>-search-<UTC time>); it must start with <stack>-search-.",
        ),
    ] = None,
    segments: Annotated[
        int, typer.Option("--segments", metavar="N", min=1, max=64, help="Parallel segments of the TripTable scan.")
    ] = 4,
    checkpoint_dir: Annotated[
        Path, typer.Option("--checkpoint-dir", metavar="DIR", file_okay=False, help="Where the catch-up checkpoints.")
    ] = DEFAULT_CHECKPOINT_DIR,
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        cutover = _cutover(stack_name, endpoint_url, region, profile)
        log = _log(json_output)
        console = output_console()
        observer = Silent() if json_output else TerminalProgress(console)
        try:
            verification = steps.start(cutover, table, segments, checkpoint_dir, observer, log)
        finally:
            if isinstance(observer, TerminalProgress):
                observer.stop()
        _finish(cutover, log, verification, json_output, "`trip-replay cutover switch` makes it live")


@cutover_app.command(
    help=(
        "Compare the shadow with TripTable again, each document with what this release projects of its trip's items "
        "(a trip that differs is read again, to tell a change in flight from a real difference). Not with the live "
        "table: the next version differs from it by design (a new field, a fixed projection). Exit 1 if it differs."
    )
)
def verify(
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        cutover = _cutover(stack_name, endpoint_url, region, profile)
        log = _log(json_output)
        verification = steps.verify(cutover, cutover.resources(), log)
        _finish(cutover, log, verification, json_output, "`trip-replay cutover switch` makes the shadow live")


@cutover_app.command(
    help=(
        "Make the shadow live once it matches TripTable (`verify`): the search API reads it within "
        "searchTablesMaxAgeSeconds, and the old live table stays the shadow, still written, so `switch --no-verify` "
        "rolls back at once. Refused (exit 1) while the shadow differs."
    )
)
def switch(
    no_verify: Annotated[
        bool,
        typer.Option(
            "--no-verify",
            help="Switch without comparing the shadow with TripTable: a roll back to the version that was live (its "
            "documents are not what this release writes, so they would not verify).",
        ),
    ] = False,
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        cutover = _cutover(stack_name, endpoint_url, region, profile)
        log = _log(json_output)
        resources, differences = steps.switch(cutover, log, verified=not no_verify)
        verification = Verification(differences)
        if differences and not json_output:
            print_verification(output_console(), verification, str(resources.shadow_table), resources.trip_table)
        next_step = (
            "not switched: the shadow differs from TripTable"
            if differences
            else "`switch --no-verify` rolls back; `retire` stops writing the old table"
        )
        _report(resources, log, verification, json_output, next_step)
        if differences:
            raise typer.Exit(1)


@cutover_app.command(
    help=(
        "End the cutover: stop writing the shadow (the old table after a switch, or a next version you gave up on). "
        "--delete-table then deletes it, but never the stack's own table (the stack owns it): for that one it "
        "refuses and retires nothing (exit 2); retire it without --delete-table."
    )
)
def retire(
    delete_table: Annotated[
        bool, typer.Option("--delete-table", help="Delete the retired table once no function writes it.")
    ] = False,
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        cutover = _cutover(stack_name, endpoint_url, region, profile)
        log = _log(json_output)
        resources = steps.retire(cutover, delete_table, log)
        _report(resources, log, Verification(), json_output, "done")


@cutover_app.command(help="Which table is live, which is its shadow, and the projection version this release writes.")
def status(
    stack_name: StackName = DEFAULT_STACK_NAME,
    endpoint_url: EndpointUrl = None,
    region: Region = None,
    profile: Profile = None,
    json_output: Json = False,
) -> None:
    with operator_errors():
        resources = find_stack_resources(Connection(endpoint_url, region, profile), stack_name)
        document = {**_tables(resources), "projection_version": PROJECTION_VERSION}
        if json_output:
            print_json(document)
            return
        console = output_console()
        console.print(f"live:   {resources.search_table}")
        console.print(f"shadow: {resources.shadow_table or '(none: no cutover under way)'}")
        console.print(f"the stack's own table: {resources.stack_search_table}")
        console.print(f"parameter: {resources.search_tables_parameter}")
        for table, layout in sorted(resources.layouts.items()):
            console.print(f"{table} has the {layout} indexes of the releases before write sharding")
        console.print(f"this release writes projection version {PROJECTION_VERSION}")


def _finish(cutover: Cutover, log: StepLog, verification: Verification, json_output: bool, next_step: str) -> None:
    resources = cutover.resources()
    if not json_output:
        print_verification(output_console(), verification, str(resources.shadow_table), resources.trip_table)
    next_step = "the shadow differs from TripTable" if verification.differences else next_step
    _report(resources, log, verification, json_output, next_step)
    if verification.differences:
        raise typer.Exit(1)


def _report(
    resources: StackResources, log: StepLog, verification: Verification, json_output: bool, next_step: str
) -> None:
    if json_output:
        print_json({**_tables(resources), "steps": log.steps, **_verification(verification), "next": next_step})
        return
    console = output_console()
    console.print(f"live: {resources.search_table}; shadow: {resources.shadow_table or '(none)'}")
    console.print(f"next: {next_step}")
