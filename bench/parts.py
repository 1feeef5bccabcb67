"""Running `make bench`'s parts: each on its own, so that one that fails does not take the others' figures with it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Console

Part = tuple[str, Callable[[Console], None]]  # its name, and what prints its table


def run_parts(console: Console, parts: Sequence[Part]) -> list[str]:
    """Every part in turn; one that raises is one line (its error's first line) and the next still runs. Returns the
    names of the parts that failed."""
    failed = []
    for name, part in parts:
        try:
            part(console)
        except Exception as error:  # a part's failure is the bench's finding: report it, go on with the next
            first_line = (str(error).strip().splitlines() or [""])[0]
            console.print(f"[red]✘ {name} failed[/]: {type(error).__name__}: {first_line}", soft_wrap=True)
            failed.append(name)
    if failed:
        console.print(f"[red]{len(failed)} of {len(parts)} parts failed[/]: {', '.join(failed)}")
    return failed
