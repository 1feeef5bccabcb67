"""Where text output goes: rich on a terminal, plain and width-independent when stdout is piped or redirected.

On a terminal, rich colours and wraps to the terminal's width (80 columns included). Piped (`| grep`, `> file`,
CI logs), rich would still wrap at 80 columns, or at `$COLUMNS`, so the same command would print different lines
on different machines: there the console gets no colour, a width no line reaches (nothing is wrapped or cut), and
tables no box characters, only aligned columns.
"""

from __future__ import annotations

from collections.abc import Iterable

import typer
from rich import box
from rich.console import Console
from rich.table import Table

UNWRAPPED = 10_000  # characters: wider than any line the tool prints


def warn(lines: Iterable[str]) -> None:
    """WARNING lines (what the fold found, as the consumers log it) on stderr, whatever stdout is (--json too)."""
    for line in lines:
        typer.echo(line, err=True)


def output_console() -> Console:
    console = Console(highlight=False)
    if console.is_terminal:
        return console
    return Console(highlight=False, no_color=True, width=UNWRAPPED, soft_wrap=True)


def text_table(console: Console, *columns: str, title: str | None = None) -> Table:
    """A table that fits 80 columns on a terminal (a rule under the header, no borders) and is plain when piped."""
    return Table(
        *columns,
        title=title,
        box=box.SIMPLE_HEAD if console.is_terminal else None,
        show_edge=False,
        pad_edge=False,
        title_justify="left",
    )


def print_table(console: Console, table: Table) -> None:
    """Piped, each line without the padding that aligns the last column (no trailing blanks in logs and diffs)."""
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    for line in captured.get().splitlines():
        console.out(line.rstrip(), highlight=False)


def counted(number: int, noun: str) -> str:
    """`1 trip`, `4 trips`, `0 documents`: a count and its noun, in English's regular plural."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
