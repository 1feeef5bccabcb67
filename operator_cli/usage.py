"""Usage answers for the operator CLIs: every usage mistake ends in one `error: ...` line on stderr naming the
option and exit code 2, never a usage block or a traceback; a group run without a command prints its help."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup


def print_error(message: str) -> None:
    """One line on stderr, whatever the message holds."""
    sys.stderr.write(f"error: {' '.join(message.split())}\n")


class OperatorErrors(TyperGroup):
    """The command tree, ending every usage error (an unknown option, a value out of range, a bad value caught by
    an option's callback) in one `error: ...` line naming the option, exit code 2, instead of a usage block."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as failure:  # typer's usage errors (BadParameter, NoSuchOption, ...)
            context = getattr(failure, "ctx", None)
            hint = f" (see {context.command_path} --help)" if context is not None else ""
            # Typer validates values with pydantic, whose message for a ValueError starts "Value error, ".
            print_error(failure.format_message().replace("Value error, ", "", 1) + hint)
            code = failure.exit_code
        except typer.Abort:
            print_error("aborted")
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def help_without_command(context: typer.Context) -> None:
    """A group run without a command prints its help (`no_args_is_help` would make that an error)."""
    if context.invoked_subcommand is None:
        typer.echo(context.get_help())
        raise typer.Exit(0)
