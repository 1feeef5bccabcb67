"""One local runtime per test worker, run as users run it (``python -m local_runtime up``).

It runs in its own process: the runtime's emulator keeps moto's global state, which the ``mock_aws`` of
other tests in the same worker would reset. Polling is fast, and the Kinesis copy of TripTable is
delivered with duplicates and out of order, so every end-to-end test also checks the projection survives
both. The fixture is registered once, by tests/conftest.py, so the runtime and replay tests share it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_runtime.cli import STOP_TIMED_OUT_EXIT
from local_runtime.emulator.wsgi import STATUS_PATH

REPO_ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"


@dataclass(frozen=True)
class RunningRuntime:
    endpoint_url: str
    outputs: dict[str, str]
    log_file: Path

    def client(self, service: str, config: Config | None = None) -> Any:
        """A boto3 client on the runtime's endpoint; `config` for botocore settings such as retries."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=config,
        )

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.endpoint_url + STATUS_PATH, timeout=10) as response:
            document: dict[str, Any] = json.load(response)
        return document

    def wait_until_idle(self, quiet_s: float = 1.0, timeout: float = 180.0) -> None:
        """Until every change is copied into Kinesis and delivered by every mapping, and stays so for ``quiet_s``.

        A shard reports caught up after a read that found nothing; a record put a moment later is not seen
        until the next read, so the counts must also stand still over a span longer than the polls.
        """

        def delivered_so_far() -> list[int] | None:
            status = self.status()
            copies, mappings = status["kinesisDestinations"], status["eventSourceMappings"]
            if not all(copy["caughtUp"] for copy in copies) or not all(m["caughtUp"] for m in mappings):
                return None
            shards = [shard for mapping in mappings for shard in mapping["shards"].values()]
            return [copy["recordsPut"] for copy in copies] + [shard["recordsDelivered"] for shard in shards]

        def quiet() -> bool:
            before = delivered_so_far()
            time.sleep(quiet_s)
            return before is not None and before == delivered_so_far()

        eventually(quiet, timeout=timeout, interval=0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _wait_until_ready(runtime: RunningRuntime, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 600  # a synthesis and a deployment: a minute idle, several when the machine is busy
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local runtime exited:\n{runtime.log_file.read_text()[-4000:]}")
        try:
            status = runtime.status()
            if status["ready"]:
                return status
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the local runtime was not ready within 180 s:\n{runtime.log_file.read_text()[-4000:]}")


@contextmanager
def running_runtime(state_dir: Path, *options: str, poll_interval: float | None = 0.1) -> Iterator[RunningRuntime]:
    """`python -m local_runtime up` on a free port with these options, until the block ends: fast polling (every
    `poll_interval` seconds), or AWS's poll intervals with `poll_interval=None`."""
    port = free_port()
    log_file = state_dir / "runtime.log"
    command = [sys.executable, "-m", "local_runtime", "up", "--port", str(port), "--state-dir", str(state_dir)]
    command += [*(() if poll_interval is None else ("--poll-interval", str(poll_interval))), *options]
    with log_file.open("wb") as output:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, env=os.environ)
    starting = RunningRuntime(f"http://127.0.0.1:{port}", {}, log_file)
    try:
        status = _wait_until_ready(starting, process)
        yield RunningRuntime(starting.endpoint_url, status["stacks"][0]["Outputs"], log_file)
    finally:
        process.terminate()  # as Ctrl-C would: the runtime must stop cleanly and promptly
        try:
            if process.wait(timeout=300) == STOP_TIMED_OUT_EXIT:  # a thread stuck at the stop: its stacks are logged
                tail = log_file.read_text()[-12000:]
                warnings.warn(f"the local runtime hit its stop deadline:\n{tail}", stacklevel=1)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # its threads' stacks into the log (local_runtime.cli.main)
            time.sleep(2)
            process.kill()
            raise AssertionError(f"the local runtime did not stop:\n{log_file.read_text()[-12000:]}") from None


@pytest.fixture(scope="session")
def local_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    faults = ("--kinesis-duplicates", "0.3", "--kinesis-reorder", "--seed", "7")
    with running_runtime(tmp_path_factory.mktemp("local-runtime"), *faults) as runtime:
        yield runtime


def eventually(check: Callable[[], Any], timeout: float = 180.0, interval: float = 0.2) -> Any:
    """The first truthy result of ``check`` within ``timeout`` seconds; fails with the last result otherwise."""
    deadline = time.monotonic() + timeout
    result = check()
    while not result and time.monotonic() < deadline:
        time.sleep(interval)
        result = check()
    assert result, f"not true within {timeout} s: {check.__name__} -> {result!r}"
    return result
