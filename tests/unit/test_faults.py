"""The fault plan's rules that need no runtime: which rates are valid, which invocations are a consumer's."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from local_runtime.cli import app
from local_runtime.faults.injection import FaultRates, stream_batch_source


def test_crash_and_timeout_rates_share_one_draw() -> None:
    assert FaultRates(throttle=1.0, crash=0.4, timeout=0.6).any
    with pytest.raises(ValueError, match=r"add up to 1\.2, more than 1"):
        FaultRates(crash=0.6, timeout=0.6)


def test_faults_are_off_by_default() -> None:
    assert not FaultRates().any


def test_up_refuses_crash_and_timeout_rates_above_one_in_one_error_line() -> None:
    result = CliRunner().invoke(app, ["up", "--fault-crash", "0.7", "--fault-timeout", "0.5"])
    assert result.exit_code == 2
    assert result.output == (
        "error: --fault-crash and --fault-timeout: the crash and timeout rates add up to 1.2, more than 1\n"
    )


@pytest.mark.parametrize(
    ("event", "source"),
    [
        ({"Records": [{"eventSource": "aws:kinesis", "kinesis": {}}]}, "aws:kinesis"),
        ({"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {}}]}, "aws:dynamodb"),
        ({"Records": [{"eventSource": "aws:sqs"}]}, None),
        ({"Records": []}, None),
        ({"action": "context"}, None),
        (["Records"], None),
        ({"Records": ["aws:kinesis"]}, None),
    ],
)
def test_only_a_batch_of_stream_records_is_a_consumer_invocation(event: object, source: str | None) -> None:
    assert stream_batch_source(json.dumps(event).encode()) == source


def test_an_event_that_is_not_json_is_no_consumer_invocation() -> None:
    assert stream_batch_source(b"\xff not json") is None
