"""Tracing: Lambda's active tracing always; Powertools' Tracer, and the X-Ray SDK it imports, only on request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.trip import consumer

SRC = Path(__file__).resolve().parents[2] / "src"


def _handler(event: dict[str, Any], context: Any) -> Any:
    return {"batchItemFailures": []}


def test_a_disabled_tracer_leaves_the_handler_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")

    assert consumer.traced(_handler) is _handler


def test_an_enabled_tracer_wraps_the_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "false")

    traced = consumer.traced(_handler)

    assert traced is not _handler
    assert traced.__wrapped__ is _handler  # type: ignore[attr-defined]


@pytest.mark.parametrize(("disabled", "imported"), [("true", False), ("false", True)])
def test_the_xray_sdk_is_imported_only_when_tracing_is_on(disabled: str, imported: bool) -> None:
    check = "import services.trip.handlers.kinesis_consumer, sys; print('aws_xray_sdk.core' in sys.modules)"
    environment = {**os.environ, "PYTHONPATH": str(SRC), "POWERTOOLS_TRACE_DISABLED": disabled}

    completed = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=environment)

    assert completed.stdout.strip().splitlines()[-1] == str(imported)
