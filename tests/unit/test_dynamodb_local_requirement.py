"""Without Java 17 the conformance tests run on moto only and the session says so in one line; with
`REQUIRE_DYNAMODB_LOCAL` set (as `.ci/run` sets it) their runs on DynamoDB Local fail instead."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dynamodb_engines import REQUIRED_BY, java_17_missing
from tests.local_runtime_session import REPO_ROOT

TWO_TESTS = "batch_write or start_key"
NO_JAVA = "DynamoDB Local needs Java 17: no `java` on PATH"


@pytest.fixture(autouse=True)
def java_looked_up_again() -> Iterator[None]:
    java_17_missing.cache_clear()  # a session looks once
    yield
    java_17_missing.cache_clear()


def _java_saying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version_line: str) -> None:
    java = tmp_path / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))


@pytest.mark.parametrize(
    ("version_line", "missing"),
    [
        ('openjdk version "17.0.15" 2025-04-15', None),
        ('openjdk version "21" 2023-09-19', None),
        ('openjdk version "11.0.2" 2019-01-15', '`java -version` says openjdk version "11.0.2" 2019-01-15'),
        ('java version "1.8.0_401"', '`java -version` says java version "1.8.0_401"'),
    ],
)
def test_java_17_or_later_is_what_dynamodb_local_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version_line: str, missing: str | None
) -> None:
    _java_saying(tmp_path, monkeypatch, version_line)

    assert java_17_missing() == missing


def _pytest_without_java(*, required: bool) -> tuple[int, list[str]]:
    """Two conformance tests, run by a pytest that finds no `java`: its exit code and output lines."""
    environment = {name: value for name, value in os.environ.items() if name != REQUIRED_BY}
    environment["PATH"] = str(Path(sys.executable).parent)
    if required:
        environment[REQUIRED_BY] = "1"
    selection = ["tests/handlers/test_engine_differences.py", "-k", TWO_TESTS]
    options = ["-p", "no:xdist", "-p", "no:cacheprovider", "-q"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *selection, *options],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    return run.returncode, run.stdout.splitlines()


def test_without_java_the_tests_run_on_moto_and_one_line_says_so() -> None:
    exit_code, lines = _pytest_without_java(required=False)

    assert exit_code == 0
    assert [line for line in lines if "Java 17" in line] == [
        f"{NO_JAVA}: the DynamoDB conformance tests ran on moto only"
    ]
    assert re.fullmatch(r"2 passed, 6 deselected in [\d.]+s", lines[-1])


def test_without_java_the_dynamodb_local_runs_fail_where_they_are_required() -> None:
    exit_code, lines = _pytest_without_java(required=True)

    reason = f"{NO_JAVA}; {REQUIRED_BY} is set, so it may not be left out"
    assert exit_code == 1
    assert sum(line.removeprefix("E").strip() == f"Failed: {reason}" for line in lines) == 2
    assert re.fullmatch(r"2 passed, 12 deselected, 2 errors in [\d.]+s", lines[-1])
