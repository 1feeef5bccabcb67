"""The project's own AWS CLI (v1, in .venv) against the runtime's endpoint, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.local_runtime_session import RunningRuntime

AWS = str(Path(sys.executable).with_name("aws"))
CLI_V1_ERROR_EXIT = 255  # AWS CLI v1's exit code for an error answer of the service


def run_aws(runtime: RunningRuntime, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    return subprocess.run(
        [AWS, "--endpoint-url", runtime.endpoint_url, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def aws(runtime: RunningRuntime, *arguments: str) -> str:
    """The command's output; the command must succeed."""
    completed = run_aws(runtime, *arguments)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def aws_error(runtime: RunningRuntime, *arguments: str) -> str:
    """The error code of the command's failure, as the CLI prints it: ``An error occurred (<code>) ...``."""
    completed = run_aws(runtime, *arguments)
    assert completed.returncode == CLI_V1_ERROR_EXIT, (completed.returncode, completed.stdout, completed.stderr)
    prefix = "An error occurred ("
    line = next(line for line in completed.stderr.splitlines() if line.startswith(prefix))
    return line[len(prefix) : line.index(")")]
