"""`python -m local_runtime`: every usage mistake is one `error:` line naming the option, exit 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    return subprocess.run(
        [sys.executable, "-m", "local_runtime", *arguments], capture_output=True, text=True, env=environment, cwd=ROOT
    )


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (
            ["up", "--kinesis-duplicates", "2"],
            "error: Invalid value for '--kinesis-duplicates': Input should be less than or equal to 1 "
            "(see python -m local_runtime up --help)",
        ),
        (
            ["up", "--port", "abc"],
            "error: Invalid value for '--port': Input should be a valid integer, unable to parse string as an "
            "integer (see python -m local_runtime up --help)",
        ),
        (
            ["up", "--port", "99999"],
            "error: Invalid value for '--port': Input should be less than or equal to 65535 "
            "(see python -m local_runtime up --help)",
        ),
        (
            ["demo", "--port", "-1"],
            "error: Invalid value for '--port': Input should be greater than or equal to 0 "
            "(see python -m local_runtime demo --help)",
        ),
        (
            ["up", "--host", "192.0.2.1", "--state-dir", "/nonexistent/never-created"],  # TEST-NET-1: no interface
            "error: cannot listen on 192.0.2.1:4566: Cannot assign requested address (no address of this machine): "
            "pass --host an address of this machine, 127.0.0.1 by default (see python -m local_runtime up --help)",
        ),
        (["up", "--nope"], "error: No such option: --nope (see python -m local_runtime up --help)"),
        (
            ["soak", "--sagas", "0"],
            "error: Invalid value for '--sagas': Input should be greater than or equal to 1 "
            "(see python -m local_runtime soak --help)",
        ),
        (["bogus"], "error: No such command 'bogus'. (see python -m local_runtime --help)"),
    ],
)
def test_a_usage_mistake_is_one_error_line_and_exit_2(arguments: list[str], line: str) -> None:
    answer = run(*arguments)

    assert (answer.returncode, answer.stderr.splitlines(), answer.stdout) == (2, [line], "")


def test_no_command_prints_the_help() -> None:
    answer = run()

    assert answer.returncode == 0
    assert "Usage: python -m local_runtime [OPTIONS] COMMAND [ARGS]..." in answer.stdout


@pytest.mark.parametrize("command", ["up", "demo"])
def test_a_port_in_use_is_one_error_line_and_exit_2_before_any_work(command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        answer = run(command, "--port", str(port), "--state-dir", "/nonexistent/never-created")

    assert (answer.returncode, answer.stdout) == (2, "")
    assert answer.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use (another `make up`?): stop it, or pass "
        f"--port (see python -m local_runtime {command} --help)"
    ]


def test_a_stop_stuck_past_its_deadline_writes_every_threads_stack_and_exits() -> None:
    # given a stop that never returns (a thread stuck in a call), with the deadline shortened
    script = "import time, local_runtime.cli as cli; cli.STOP_DEADLINE_S = 1; cli._bound_the_stop(); time.sleep(600)"
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}

    stopped = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=300
    )

    assert stopped.returncode == 3
    assert stopped.stderr.startswith("the local runtime did not stop within 1 s; its threads:\n")
    assert "line 1 in <module>" in stopped.stderr  # the main thread's stack, where it was stuck
