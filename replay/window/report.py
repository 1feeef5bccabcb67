"""How results reach the operator: rich text on a terminal (plan, live progress, summary) or JSON with --json."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn

from replay.tally import Tally
from replay.terminal import counted, print_table, text_table
from replay.verify import NOT_RUN_IN_A_DRY_RUN, compare_plan_line, print_verification
from replay.window.run import RunPlan, RunResult
from replay.window.sources import ReadBatch


class TerminalProgress:
    """Prints the plan, then (on a terminal) a progress line per shard or segment being read (records read, lag,
    rate) and a line per finished one."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"), TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console
        )
        self.tasks: dict[str, tuple[TaskID, float]] = {}

    def planned(self, plan: RunPlan) -> None:
        for line in describe_plan(plan):
            self.console.print(line)
        if self.console.is_terminal:  # a live display redraws in place: only on a terminal
            self.progress.start()

    def progressed(self, batch: ReadBatch, tally: Tally) -> None:
        if batch.part not in self.tasks:
            self.tasks[batch.part] = (self.progress.add_task(batch.part, status=""), time.monotonic())
        task, started = self.tasks[batch.part]
        rate = tally.read / max(time.monotonic() - started, 1e-3)
        lag = "" if batch.millis_behind_tip is None else f", {batch.millis_behind_tip / 1000:.0f} s behind the tip"
        status = f"{tally.read} read{lag}, {rate:.0f} records/s"
        if not batch.last:
            self.progress.update(task, status=status)
            return
        # a finished part leaves the live display, which so keeps one line per part being read (at most
        # --shard-concurrency or --segments of them, however many shards the stream has), and is printed once above it
        self.progress.remove_task(task)
        if self.progress.live.is_started:
            self.console.print(f"  {batch.part}: {status}, done", highlight=False)

    def stop(self) -> None:
        if self.progress.live.is_started:
            self.progress.stop()


class Silent:
    """For --json: nothing but the final document goes to stdout."""

    def planned(self, plan: RunPlan) -> None:
        pass

    def progressed(self, batch: ReadBatch, tally: Tally) -> None:
        pass


def describe_plan(plan: RunPlan) -> list[str]:
    verb = "would write (dry run, nothing is written)" if plan.dry_run else "writes"
    if plan.rebuild:
        how = f"rebuild into {plan.target_table}" + (
            " (created with the live table's schema)" if plan.create_target else ""
        )
    else:
        which = "the live table" if plan.target_table == plan.live_table else "the cutover's shadow"
        how = f"project into {which} {plan.target_table} (version-gated, safe beside the consumers)"
    lines = [f"[bold]Plan[/bold]: {how}; {verb}."]
    if plan.source == "kinesis" and plan.window is not None:
        start = plan.window.start.isoformat() if plan.window.start else "the start of retention"
        lines.append(f"  read stream {plan.stream} from {start} to {plan.window.end.isoformat()}")
        if plan.window.last_arrival > plan.window.end:
            lines.append(
                f"  (changes made by then; copies that reached the stream late are read until "
                f"{plan.window.last_arrival.isoformat()}, the destination's lag allowance)"
            )
        lines.append(f"  shards, parents first: {', '.join(plan.shards)}")
        lines.append(
            f"  {plan.shard_concurrency} shards at a time, each at most {plan.pacing.calls_per_second} GetRecords/s "
            f"and {plan.pacing.bytes_per_second / (1 << 20):g} MiB/s (of 5 and 2 MB)"
        )
        for shard, sequence in plan.resumed_shards.items():
            lines.append(f"  {shard}: resume after sequence number {sequence}")
    else:
        lines.append(
            f"  scan TripTable in {plan.segments} parallel segments; each item projected as its latest version"
        )
    if plan.trip_ids:
        lines.append(f"  only trips: {', '.join(sorted(plan.trip_ids))}")
    if plan.verify:
        lines.append(compare_plan_line(plan.target_table, plan.live_table, plan.dry_run))
        if plan.source == "table":
            lines.append("  (TripTable keeps no removals: a live updated_at set by one is reported as undecided)")
    lines.extend(f"  note: {note}" for note in plan.notes)
    return lines


def render_result(console: Console, result: RunResult) -> None:
    summary = result.summary
    columns = ("read", "applied", "superseded", "stale", "irrelevant", "poison")
    table = text_table(
        console, title=f"{'Dry run' if summary.dry_run else 'Run'} summary ({summary.source} -> {summary.target_table})"
    )
    table.add_column("part", no_wrap=True)
    for column in columns:
        table.add_column(column, justify="right")
    rows = [*summary.per_part.items(), ("total", summary.total)]
    for part, tally in rows:
        table.add_row(part, *(str(getattr(tally, name)) for name in columns))
    print_table(console, table)
    written = "would write" if summary.dry_run else "wrote"
    console.print(
        f"{counted(summary.trips, 'trip')}; {written} {counted(summary.documents_written, 'document')}; "
        f"{summary.dynamodb_requests} DynamoDB and {summary.kinesis_requests} Kinesis requests "
        f"({summary.throttled} throttled); {summary.seconds:.1f} s"
    )
    if summary.total.after_window:
        console.print(
            f"{counted(summary.total.after_window, 'change')} made after the window's end, read within its lag "
            "allowance: not projected"
        )
    for poison in summary.poison:
        console.print(f"[yellow]poison[/yellow] {poison.shard_id} {poison.sequence_number}: {poison.reason}")
    if summary.refused:
        console.print(f"[red]{counted(len(summary.refused), 'document')} refused by {summary.target_table}[/red]")
    for trip_id, reason in summary.refused:
        console.print(f"[red]refused[/red] trip {trip_id}: {reason}")
    if result.verification is not None:
        print_verification(console, result.verification, str(summary.target_table), result.plan.live_table)
    elif result.plan.verify:
        console.print(NOT_RUN_IN_A_DRY_RUN)


def result_document(result: RunResult) -> dict[str, Any]:
    summary = result.summary
    return {
        "source": summary.source,
        "target_table": summary.target_table,
        "dry_run": summary.dry_run,
        "created_target": result.plan.create_target,
        "per_part": {part: asdict(tally) for part, tally in summary.per_part.items()},
        "total": asdict(summary.total),
        "poison": [asdict(poison) for poison in summary.poison],
        "refused": [{"trip_id": trip_id, "reason": reason} for trip_id, reason in summary.refused],
        "findings": [report.fields() for report in summary.findings],
        "trips": summary.trips,
        "documents_written": summary.documents_written,
        "dynamodb_requests": summary.dynamodb_requests,
        "kinesis_requests": summary.kinesis_requests,
        "throttled": summary.throttled,
        "seconds": round(summary.seconds, 3),
        "differences": None if result.verification is None else [asdict(d) for d in result.verification.differences],
        "undecided": None if result.verification is None else [asdict(u) for u in result.verification.undecided],
    }
