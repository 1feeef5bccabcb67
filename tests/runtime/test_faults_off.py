"""Faults are off unless switched on: the shared runtime (only the Kinesis copy's duplicates and reordering on)
injects nothing, and says so in its status document."""

from __future__ import annotations

import pytest

from tests.local_runtime_session import RunningRuntime

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]


def test_status_counts_no_injected_fault_by_default(local_runtime: RunningRuntime) -> None:
    faults = local_runtime.status()["faults"]
    assert faults["seed"] == 7
    assert faults["watchedTables"] == [local_runtime.outputs["SearchTableName"]]
    assert faults["throttle"] == {"rate": 0.0, "requests": 0, "injected": 0}
    assert faults["crash"] == {"rate": 0.0, "invocations": 0, "injected": 0}
    assert faults["timeout"] == {"rate": 0.0, "invocations": 0, "injected": 0}
