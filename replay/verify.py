"""Compare a rebuilt search table with the live one, trip by trip, as search sees them, and print what differs
(the comparison itself: services.trip.search_views, which the drift audit shares).

What a rebuild cannot know is reported as *undecided*, never as a difference. A rebuild from TripTable's current
items (`--source table`) sees no removals: when an entity was removed, the removal time (the document's
`updated_at` when it is the trip's latest change) lives only in the streams. The live document records it (its
`versions` entry for the removed entity), so verify checks that the live `updated_at` is the later of TripTable's
latest change and the recorded removals; if so the field is undecided (the removal time itself cannot be checked
against TripTable), if not it is a difference.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from rich.console import Console

from replay.errors import aws_errors
from services.trip.schema import SEARCH_KEY
from services.trip.search_views import TripView, Verification, search_view

NOT_RUN_IN_A_DRY_RUN = "verify: not run: a dry run writes nothing to compare (run again without --dry-run)"


def compare_plan_line(target_table: str, live_table: str, dry_run: bool) -> str:
    """The plan's line for --verify: what it will compare, or that a dry run has nothing to compare."""
    if dry_run:
        return f"  no compare of {target_table} with {live_table}: a dry run writes nothing to compare"
    return f"  then compare {target_table} with {live_table}"


def scan_views(table: Any, trip_ids: Collection[str]) -> dict[str, TripView]:
    """Every visible document of the table (or only those of `trip_ids`, when given)."""
    views: dict[str, TripView] = {}
    for item in _scan(table):
        trip_id = str(item[SEARCH_KEY])
        if trip_ids and trip_id not in trip_ids:
            continue
        view = search_view(item)
        if view is not None:
            views[trip_id] = view
    return views


def _scan(table: Any) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"ConsistentRead": True}
    with aws_errors(f"scanning {table.name}"):
        while True:
            response = table.scan(**request)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def print_verification(console: Console, verification: Verification, target_table: str, live_table: str) -> None:
    """What `--verify` found: every differing field of every trip, or that the tables match; then what it could
    not decide, and why."""
    if not verification.differences:
        scope = " in everything the rebuild can know" if verification.undecided else ""
        console.print(f"[green]verify: {target_table} matches {live_table}{scope}[/green]")
    for difference in verification.differences:
        console.print(
            f"[red]differs[/red] trip {difference.trip_id} {difference.field}: "
            f"live={difference.live!r} target={difference.target!r}"
        )
    if verification.undecided:
        console.print(f"verify: {len(verification.undecided)} field(s) cannot be decided from the rebuild's source:")
    for undecided in verification.undecided:
        console.print(
            f"[yellow]undecided[/yellow] trip {undecided.trip_id} {undecided.field}: live={undecided.live!r} "
            f"target={undecided.target!r}: {undecided.reason}"
        )
