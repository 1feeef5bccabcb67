"""The scheduled drift audit on the local runtime under a saga workload (issue 20, goal 4): drift injected behind the
projection's back (a document deleted, one altered, one put back for a trip removed from TripTable, one left behind
by a lost change) is every one found (recall 100 %) and repaired, and nothing else is reported drifted while sagas
keep changing other trips.

The stack runs DriftAudit every minute (`driftAuditRateMinutes=1`) in 2 segments with an 8 s settle time, and the
runtime's minute lasts `MINUTE_S` seconds, so a full pass over both tables takes two runs. Printed: the time from each
injection to its report, and the audit's read units per trip per full pass (at the defaults, 96 segments every
15 minutes, a pass takes a day: the cost per trip per day).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from local_runtime.faults.drift import DriftInjector, inject_each_kind, watch_audit
from local_runtime.scenarios import BOOKED, statuses, trip_input
from tests.local_runtime_session import RunningRuntime, eventually, running_runtime
from tests.replay.conftest import replay_cli
from tests.runtime.sagas import run_sagas

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("drift-audit")]

MINUTE_S = 3.0
SEGMENTS = 2
SAGA_INTERVAL_S = 0.5
QUIET_S = 5.0  # a trip's document unwritten this long: every copy of its changes delivered (no crash faults here)
PASSES_AFTER_FOUND = 2  # full passes the audit makes under the workload once everything was found
CONTEXT = {"driftAuditRateMinutes": 1, "driftAuditSegments": SEGMENTS, "driftAuditSettleSeconds": 8}


@dataclass(frozen=True)
class Running:
    runtime: RunningRuntime
    state_dir: Path


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    state = tmp_path_factory.mktemp("drift-audit-runtime")
    options = [option for key, value in CONTEXT.items() for option in ("--context", f"{key}={value}")]
    options += ["--schedule-minute-seconds", str(MINUTE_S), "--kinesis-duplicates", "0.3", "--kinesis-reorder"]
    with running_runtime(state, *options, "--seed", "11") as runtime:
        yield Running(runtime, state)


@dataclass
class Workload:
    """Starts a saga every `SAGA_INTERVAL_S` until stopped (every third compensates)."""

    runtime: RunningRuntime
    started: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        stepfunctions = self.runtime.client("stepfunctions")
        while not self.stop.is_set():
            number = len(self.started)
            saga = trip_input(f"trip-load-{number:04d}", payment_amount="-1" if number % 3 == 2 else "80000")
            self.started.append(
                stepfunctions.start_execution(
                    stateMachineArn=self.runtime.outputs["StateMachineArn"],
                    name=f"load-{uuid.uuid4().hex[:12]}",
                    input=json.dumps(saga),
                )["executionArn"]
            )
            time.sleep(SAGA_INTERVAL_S)


def booked_and_projected(runtime: RunningRuntime, trip_ids: list[str]) -> None:
    assert run_sagas(runtime, [trip_input(trip_id) for trip_id in trip_ids]) == ["SUCCEEDED"] * len(trip_ids)
    dynamodb = runtime.client("dynamodb")

    def projected() -> bool:
        documents = [
            dynamodb.get_item(TableName=runtime.outputs["SearchTableName"], Key={"trip_id": {"S": trip_id}}).get(
                "Item", {}
            )
            for trip_id in trip_ids
        ]
        return all(statuses({k: v.get("S") for k, v in doc.items()}) == BOOKED for doc in documents)

    eventually(projected, timeout=180, interval=0.5)


def search_items(runtime: RunningRuntime) -> int:
    count: int = runtime.client("dynamodb").scan(TableName=runtime.outputs["SearchTableName"], Select="COUNT")["Count"]
    return count


def rule_status(runtime: RunningRuntime) -> dict[str, Any]:
    [rule] = runtime.status()["scheduledRules"]
    assert isinstance(rule, dict)
    return rule


def test_drift_injected_under_a_saga_workload_is_all_found_and_repaired_and_nothing_else_is_reported(
    running: Running, tmp_path: Path
) -> None:
    runtime = running.runtime
    quiet = [f"trip-drift-{number:02d}" for number in range(4)]
    booked_and_projected(runtime, quiet)
    rule = rule_status(runtime)
    assert (rule["schedule"], rule["periodSeconds"]) == ("rate(1 minute)", MINUTE_S)
    log_file = running.state_dir / "logs" / f"{rule['targets'][0]}.log"
    workload = Workload(runtime)
    thread = threading.Thread(target=workload.run)
    thread.start()
    try:
        eventually(lambda: len(workload.started) >= 10, timeout=180, interval=0.5)  # sagas under way
        injector = DriftInjector(
            runtime.client("dynamodb"), runtime.outputs["TripTableName"], runtime.outputs["SearchTableName"], QUIET_S
        )
        injected = inject_each_kind(injector, quiet)
        figures = watch_audit(
            log_file, injected, passes_after=PASSES_AFTER_FOUND, timeout_s=600, trips=lambda: search_items(runtime)
        )
    finally:
        workload.stop.set()
        thread.join(timeout=60)

    rule = rule_status(runtime)
    figures |= {"sagas_during": len(workload.started), "audit_errors": rule["errors"]}
    print(f"\ndrift audit under load: {json.dumps(figures)}")
    assert (figures["recall"], figures["false_drift"], figures["missed"]) == (1.0, [], [])
    assert figures["repaired"] == sorted(quiet)
    assert len(workload.started) >= 20
    assert (figures["audit_errors"], figures["audit_runs"] >= 2 * PASSES_AFTER_FOUND) == (0, True)
    dynamodb = runtime.client("dynamodb")
    search = runtime.outputs["SearchTableName"]
    documents = {
        trip_id: dynamodb.get_item(TableName=search, Key={"trip_id": {"S": trip_id}}, ConsistentRead=True)["Item"]
        for trip_id in quiet
    }
    assert statuses({k: v.get("S") for k, v in documents[quiet[0]].items()}) == BOOKED  # missing: back
    assert documents[quiet[1]]["hotel_name"] == {"S": "Grand Hotel Tokyo"}  # altered: as TripTable says
    assert "expires_at" in documents[quiet[2]]  # resurrected: a tombstone again
    assert documents[quiet[3]]["flight_status"] == {"S": "DELAYED"}  # behind: the lost change

    # and trip-replay audit, on demand over every trip, agrees: nothing drifted any more
    replay = replay_cli(str(tmp_path / "checkpoints"), "--endpoint-url", runtime.endpoint_url)
    code, report = replay("audit", "--settle-seconds", "10")
    assert (code, report["drifted"], report["table"]) == (0, 0, search), report
