"""What `run --via-mapping` tells the operator: the plan, the mapping's progress, what it removed, the summary."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape

from replay.dlq.report import NONE, sequence_range
from replay.mapping.consumer_copy import REBUILD_BATCH_SIZE
from replay.mapping.run import MappingPlan, MappingResult
from replay.mapping.watch import NEAR_TIP_MS, MappingReading
from replay.terminal import counted
from replay.verify import NOT_RUN_IN_A_DRY_RUN, compare_plan_line, print_verification
from services.trip.search_views import Verification


class MappingProgress:
    """The plan, then a line per look at the mapping, then what was removed. With --json: nothing but the result."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet

    def planned(self, plan: MappingPlan) -> None:
        if not self.quiet:
            for line in describe_mapping_plan(plan):
                self.console.print(line)

    def watched(self, reading: MappingReading, settled_for_s: float) -> None:
        if self.quiet:
            return
        age = "-" if reading.iterator_age_ms is None else f"{reading.iterator_age_ms / 1000:.1f} s"
        self.console.print(
            f"  {datetime.now(UTC):%H:%M:%S} {reading.invocations} invocations, iterator age {age}, "
            f"settled for {settled_for_s:.0f} s"
        )

    def removed(self, removed: list[str]) -> None:
        if not self.quiet:
            for thing in removed:
                self.console.print(f"  removed {thing}")


def describe_mapping_plan(plan: MappingPlan) -> list[str]:
    copy = plan.copy
    verb = "would write (dry run, nothing is created)" if plan.dry_run else "writes"
    start = f"{plan.start.isoformat()} (AT_TIMESTAMP)" if plan.start else "the start of retention (TRIM_HORIZON)"
    lines = [
        f"[bold]Plan[/bold]: rebuild into {plan.target_table} through a temporary event source mapping; {verb}.",
        *([f"  create table {plan.target_table} with the schema of {plan.live_table}"] if plan.create_target else []),
        f"  add inline policy {copy.policy_name} to role {copy.role_name}: write {plan.target_table} only",
        f"  create function {copy.function_name}: a copy of {copy.live_function} with "
        f"SEARCH_TABLE_NAME={plan.target_table}",
        f"  create queue {copy.queue_name} for the copy's poison records and failed batches "
        "(the live DLQ and its alarm stay out of it)",
        f"  map stream {plan.stream} to it from {start}: batches of {REBUILD_BATCH_SIZE}, "
        "parallelization 10, no record age limit, failed batches to that queue",
        f"  wait until caught up: idle, or iterator age <= {NEAR_TIP_MS // 1000} s, for {plan.quiet_for_s:.0f} s "
        "straight (--quiet-for)",
        "  then delete the mapping, the function and the policy (also on failure or Ctrl-C), report what the queue "
        + ("holds and keep it (--keep-queue)" if plan.keep_queue else "holds and delete it (--keep-queue keeps it)"),
    ]
    if plan.verify:
        lines.append(compare_plan_line(plan.target_table, plan.live_table, plan.dry_run))
    lines.extend(f"  note: {note}" for note in plan.notes)
    return lines


def render_mapping_result(console: Console, result: MappingResult) -> None:
    if result.plan.dry_run:
        console.print("dry run: nothing was created")
        if result.plan.verify:
            console.print(NOT_RUN_IN_A_DRY_RUN)
        return
    console.print(
        f"mapping {result.mapping_uuid} caught up after {result.invocations} invocations; {result.seconds:.1f} s"
    )
    queue = result.plan.copy.queue_name
    console.print(f"{len(result.dlq_messages)} message(s) in the run's queue {queue}")
    for message in result.dlq_messages:
        console.print(
            f"  [yellow]{message.kind.value}[/yellow] {message.message_id} shard {message.shard_id or NONE} "
            f"sequence {sequence_range(message)}: {escape(message.reason)}"
        )
    if result.failed_batches:
        console.print(
            f"[red]{len(result.failed_batches)} batch(es) failed: their changes are missing from "
            f"{result.plan.target_table}; fix, and rebuild again[/red]"
        )
    if result.queue_kept:
        console.print(
            f"kept queue {result.queue_url}: read it with `aws sqs receive-message --queue-url {result.queue_url}`, "
            f"delete it with `aws sqs delete-queue --queue-url {result.queue_url}`"
        )
    if result.differences is not None:
        if result.trips is not None:  # counted by the same verification
            console.print(f"{counted(result.trips, 'trip')} in {result.plan.target_table}")
        verification = Verification(result.differences)
        print_verification(console, verification, result.plan.target_table, result.plan.live_table)


def mapping_result_document(result: MappingResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "source": "kinesis",
        "via": "event-source-mapping",
        "target_table": plan.target_table,
        "dry_run": plan.dry_run,
        "created_target": plan.create_target,
        "function": plan.copy.function_name,
        "mapping_uuid": result.mapping_uuid,
        "invocations": result.invocations,
        "removed": result.removed,
        "queue": {"url": result.queue_url, "kept": result.queue_kept},
        "dlq_messages": [
            {"message_id": m.message_id, "kind": m.kind.value, "reason": m.reason} for m in result.dlq_messages
        ],
        "trips": result.trips,
        "seconds": round(result.seconds, 3),
        "differences": None
        if result.differences is None
        else [asdict(difference) for difference in result.differences],
    }
