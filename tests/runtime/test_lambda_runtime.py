"""The Lambda Invoke API runs real handlers in a sandbox with the function's environment and timeout."""

from __future__ import annotations

import json

import pytest

from tests.local_runtime_session import RunningRuntime
from tests.runtime.conftest import RECORDER_TIMEOUT_S, RecorderFunction, deploy_recorder

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]


def _invoke(runtime: RunningRuntime, function: RecorderFunction, event: dict[str, object]) -> tuple[str | None, dict]:
    response = runtime.client("lambda").invoke(FunctionName=function.name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_handler_sees_its_environment_and_a_lambda_context(
    local_runtime: RunningRuntime, test_function: RecorderFunction
) -> None:
    error, result = _invoke(local_runtime, test_function, {"action": "context"})
    assert error is None
    assert result["function_name"] == test_function.name
    assert result["greeting"] == "hello from the function"
    assert result["endpoint"] == local_runtime.endpoint_url
    assert 0 < result["remaining_ms"] <= RECORDER_TIMEOUT_S * 1000
    assert len(result["request_id"]) == 36


def test_exception_comes_back_as_lambda_reports_it(
    local_runtime: RunningRuntime, test_function: RecorderFunction
) -> None:
    error, result = _invoke(local_runtime, test_function, {"action": "raise"})
    assert error == "Unhandled"
    assert (result["errorType"], result["errorMessage"]) == ("ValueError", "asked to fail")
    assert any("batch_recorder.py" in line for line in result["stackTrace"])


def test_timeout_ends_the_invocation(local_runtime: RunningRuntime) -> None:
    # given a function with a 2 s timeout, warm (its cold start, seconds on a busy machine, is not what is timed)
    test_function = deploy_recorder(local_runtime, timeout_s=2)
    assert _invoke(local_runtime, test_function, {"action": "sleep", "seconds": 0})[1] == {"slept": 0}

    error, result = _invoke(local_runtime, test_function, {"action": "sleep", "seconds": 5})
    assert error == "Unhandled"
    assert result["errorType"] == "Sandbox.Timedout"
    assert result["errorMessage"].endswith("Task timed out after 2.00 seconds")
    # and the next invocation gets a fresh sandbox
    assert _invoke(local_runtime, test_function, {"action": "sleep", "seconds": 0})[1] == {"slept": 0}


def test_the_import_has_time_of_its_own_before_the_timeout_starts(local_runtime: RunningRuntime) -> None:
    # an Init phase longer than the 2 s timeout, within Lambda's 10 s for it
    slow_import = deploy_recorder(local_runtime, timeout_s=2, environment={"INIT_SLEEP_S": "3"})

    error, result = _invoke(local_runtime, slow_import, {"action": "context"})

    assert error is None
    assert 0 < result["remaining_ms"] <= 2000  # the timeout started once the handler was imported
