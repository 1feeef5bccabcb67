"""`local_runtime up --context KEY=VALUE`: a value the stack refuses ends the start in one `error:` line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from local_runtime.cli import app

REPO_ROOT = Path(__file__).resolve().parents[2]
REFUSED = ("--context", "searchTableLayout=v1")


def test_a_context_value_without_a_key_is_refused_before_anything_starts() -> None:
    result = CliRunner().invoke(app, ["up", "--context", "searchTableLayout"])
    assert result.exit_code == 2
    assert result.output == (
        "error: Invalid value for '--context' / '-c': 'searchTableLayout' is not KEY=VALUE, e.g. "
        "searchTablesMaxAgeSeconds=2 (see root up --help)\n"
    )


def test_a_context_value_the_stack_refuses_is_one_error_line_from_its_synthesis(tmp_path: Path) -> None:
    started = subprocess.run(
        [sys.executable, "-m", "local_runtime", "up", "--port", "0", "--state-dir", str(tmp_path), *REFUSED],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert started.returncode == 2
    errors = [line for line in (started.stdout + started.stderr).splitlines() if "error" in line.lower()]
    assert errors == [
        "error: Invalid value for '--context' / '-c': context searchTableLayout must be one of sharded, unsharded, "
        "got 'v1'"
    ]
