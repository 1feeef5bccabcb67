"""A small soak (`python -m local_runtime soak`): a few sagas with every fault on, then nothing may be lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local_runtime.faults.soak import DEFAULT_SEED
from tests.local_runtime_session import REPO_ROOT

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("soak")]

# The soak's default seed: each pipeline's first invocation that writes crashes and its second times out
SEED = str(DEFAULT_SEED)


def test_small_soak_with_every_fault_on_loses_nothing(tmp_path: Path) -> None:
    # given a fresh runtime with every fault on, and a workload of six sagas
    command = [sys.executable, "-m", "local_runtime", "soak", "--sagas", "6", "--seed", SEED, "--json"]
    command += ["--state-dir", str(tmp_path)]

    # when the soak runs
    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)

    # then every check passed
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    result = json.loads(finished.stdout)
    assert [(check["name"], check["passed"]) for check in result["checks"]] == [
        ("every saga ended as planned", True),
        ("every injected drift found and repaired, no false drift", True),
        ("live table equals a rebuild from TripTable", True),
        ("every document shows what its sagas left", True),
        ("no batch pointer in the DLQ", True),
        ("every poison record in the DLQ", True),
        ("nothing in flight", True),
    ]
    assert result["checks"][2]["detail"] == "0 differences, 5 trips"  # one trip deleted from TripTable (drift)
    # and each kind of drift injected was found and repaired, and nothing else reported drifted
    audit = result["drift_audit"]
    assert (audit["injected"], audit["found"], len(audit["repaired"]), audit["false_drift"]) == (4, 4, 4, [])
    # and the workload was the one planned: trips 2 and 5 compensate, 5 is rebooked, 1 re-created directly
    workload = result["workload"]
    assert {key: workload[key] for key in ("sagas_started", "sagas_compensated", "sagas_rebooked")} == {
        "sagas_started": 7,
        "sagas_compensated": 2,
        "sagas_rebooked": 1,
    }
    assert (workload["items_recreated"], workload["poison_records"], workload["replay_run_exit"]) == (1, 2, 0)
    # and every kind of fault was injected, each crash and timeout failing an invocation that was retried
    injected, happened = result["injected"], result["happened"]
    assert injected["throttles"] > 0 and injected["crashes"] > 0 and injected["timeouts"] > 0
    assert injected["kinesis_duplicates"] > 0 and injected["kinesis_reordered"] > 0
    assert happened["function_errors"] >= injected["crashes"] + injected["timeouts"]
    assert happened["records_given_up"] == 0
