"""The local runtime's log: rich columns on a terminal, one whole line per record when piped."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from rich.console import Console

from local_runtime import cli

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/TripSagaStack-DataTripTable4EFCAA64-Z1QJGRDMIHOM/stream/" + (
    "2026-11-29T10:57:09.820006"
)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.usefixtures("restored_logging")
def test_a_piped_log_keeps_each_record_on_one_line() -> None:
    output = io.StringIO()
    cli._configure_logging(verbose=False, log_console=Console(file=output, width=80))

    logging.getLogger("local_runtime.test").info("polling %s for changes", ARN)

    [line] = output.getvalue().splitlines()
    assert line.endswith(f"INFO    polling {ARN} for changes")
