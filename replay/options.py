"""The options every command takes, declared once, and how a command ends: JSON out, or an error and its code."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console

from replay.errors import ReplayError
from services.trip import exact_json

StackName = Annotated[
    str, typer.Option("--stack-name", help="The deployed stack whose outputs name the tables, stream and queue.")
]
EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="AWS endpoint, e.g. the local runtime's."),
]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (default: your AWS configuration).")]
Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile from your AWS configuration.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]


@contextmanager
def operator_errors() -> Iterator[None]:
    """A ReplayError ends the command with its message and exit code (2: bad input, 1: failure); no traceback."""
    try:
        yield
    except ReplayError as error:
        Console(stderr=True).print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(error.exit_code) from None


def print_json(document: Any) -> None:
    """Every `--json` output: numbers with all their digits (`exact_json`), other values (times, ...) as text."""
    sys.stdout.write(exact_json.dumps(document, indent=2, default=str) + "\n")
