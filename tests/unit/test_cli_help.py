"""`--help` of both operator tools, as a user reads it piped or on an 80-column terminal: every line fits, and
every option names what it takes (`--from TIME`, `--port PORT`), not a Python type (`<str>`, `<list[str]>`).
(Typer prints a type after each positional argument whatever its metavar; arguments are not checked.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    ("replay",),
    ("replay", "run"),
    ("replay", "dlq"),
    ("replay", "dlq", "list"),
    ("replay", "dlq", "show"),
    ("replay", "dlq", "redrive"),
    ("replay", "dlq", "delete"),
    ("replay", "audit"),
    ("local_runtime",),
    ("local_runtime", "up"),
    ("local_runtime", "demo"),
    ("local_runtime", "soak"),
]
# An option followed by a Python type name: `--from <str>`, `--trip-id <list[str]>`, `--port <int>`.
PYTHON_TYPE = re.compile(r"^\s+(-\w, )?--[-\w]+ <(str|int|float|bool|path|list\[\w+\])[^>]*>")


def help_text(command: tuple[str, ...]) -> str:
    environment = {**os.environ, "COLUMNS": "80", "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-m", *command, "--help"], capture_output=True, text=True, env=environment, cwd=ROOT
    )
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_fits_80_columns_and_names_what_each_option_takes(command: tuple[str, ...]) -> None:
    lines = help_text(command).splitlines()

    assert [line for line in lines if len(line) > 80] == []
    assert [line for line in lines if PYTHON_TYPE.match(line)] == []
