"""A blue-green cutover on the local runtime while sagas run and the search API is read: no answer fails or goes back
in time, no change is lost, and the switch needs no redeploy (issue 20, goal 2; issue 19, goal 6).

The stack is deployed with `searchTablesMaxAgeSeconds=2`, so the functions read the parameter every 2 s, once as this
release deploys it and once as a stack deployed before write sharding upgrades (`searchTableLayout=unsharded`: its
own table keeps those releases' indexes, and the cutover moves it to the sharded ones). Sagas start
every `SAGA_INTERVAL_S` through the whole cutover (every third compensates); a reader walks every page of a status
search and reads each started trip by id, in a loop. Counted:
- API errors: any answer but 200 (a 404 of a trip whose saga has not written yet is not read: only trips whose
  flight booking the reader already saw are asked for again);
- wrong answers: a search page holding a trip of another status than asked;
- stale answers: a trip's document older (`updated_at`) than one the reader already got for it;
- changes lost: trips whose document in the live table, after the workload, is not what their saga left.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from local_runtime.scenarios import BOOKED, COMPENSATED, statuses, trip_input
from replay.cutover import steps
from replay.stack import Connection, find_stack_resources
from services.trip.schema import Layout
from tests.conftest import REGION
from tests.local_runtime_session import RunningRuntime, eventually, running_runtime
from tests.replay.conftest import replay_cli

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("cutover")]

MAX_AGE_S = 2
SAGA_INTERVAL_S = 0.4
NEXT = "TripSagaStack-search-next"


@pytest.fixture(scope="module", params=[Layout.SHARDED, Layout.UNSHARDED])
def layout(request: pytest.FixtureRequest) -> Layout:
    """The stack table's layout as the stack is deployed (context searchTableLayout)."""
    return Layout(request.param)


@pytest.fixture(scope="module")
def runtime(layout: Layout, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    state = tmp_path_factory.mktemp("cutover-runtime")
    context = ("--context", f"searchTablesMaxAgeSeconds={MAX_AGE_S}", "--context", f"searchTableLayout={layout}")
    with running_runtime(state, *context) as running:
        yield running


@dataclass
class Reader:
    """Reads the search API in a loop until stopped, and counts what it got."""

    api_url: str
    known: list[str] = field(default_factory=list)  # trips whose saga is running or done
    answers: int = 0
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    newest: dict[str, str] = field(default_factory=dict)  # trip -> latest updated_at seen
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            self._walk_status("CONFIRMED")
            for trip_id in list(self.newest):
                self._trip(trip_id)
            for trip_id in [t for t in list(self.known) if t not in self.newest][:10]:
                self._trip(trip_id, absent_ok=True)

    def _get(self, path: str) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"{self.api_url}{path}", timeout=60) as response:
                self.answers += 1
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            self.answers += 1
            return error.code, {"body": error.read().decode(errors="replace")[:200]}

    def _walk_status(self, status: str) -> None:
        token = ""
        while True:
            code, page = self._get(f"/trips/search?status={status}&limit=25{token}")
            if code != 200:
                self.errors.append(f"search {status}: {code} {page}")
                return
            for trip in page["trips"]:
                if trip.get("flight_status") != status:
                    self.wrong.append(f"search {status} answered {trip['trip_id']} {trip.get('flight_status')}")
                self._seen(trip)
            if not page.get("next_token"):
                return
            token = f"&next_token={urllib.parse.quote(page['next_token'])}"

    def _trip(self, trip_id: str, absent_ok: bool = False) -> None:
        code, trip = self._get(f"/trips/{trip_id}")
        if code == 404 and absent_ok:
            return
        if code != 200:
            self.errors.append(f"trip {trip_id}: {code} {trip}")
            return
        self._seen(trip)

    def _seen(self, trip: dict[str, Any]) -> None:
        trip_id, updated_at = trip["trip_id"], str(trip.get("updated_at"))
        if updated_at < self.newest.get(trip_id, ""):
            self.stale.append(f"trip {trip_id}: {updated_at} after {self.newest[trip_id]}")
        self.newest[trip_id] = max(updated_at, self.newest.get(trip_id, ""))


@dataclass
class Sagas:
    """Starts a saga every `SAGA_INTERVAL_S` until stopped; every third compensates."""

    runtime: RunningRuntime
    reader: Reader
    started: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # trip -> (execution, expected)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        stepfunctions = self.runtime.client("stepfunctions")
        while not self.stop.is_set():
            number = len(self.started)
            trip_id = f"trip-cutover-{number:04d}"
            compensates = number % 3 == 2
            saga = trip_input(trip_id, payment_amount="-1" if compensates else "80000")
            arn = stepfunctions.start_execution(
                stateMachineArn=self.runtime.outputs["StateMachineArn"],
                name=f"cutover-{uuid.uuid4().hex[:12]}",
                input=json.dumps(saga),
            )["executionArn"]
            self.started[trip_id] = (arn, COMPENSATED if compensates else BOOKED)
            self.reader.known.append(trip_id)
            time.sleep(SAGA_INTERVAL_S)

    def ended(self) -> bool:
        stepfunctions = self.runtime.client("stepfunctions")
        return all(
            stepfunctions.describe_execution(executionArn=arn)["status"] != "RUNNING"
            for arn, _ in list(self.started.values())
        )


def live_documents(runtime: RunningRuntime, table: str) -> dict[str, dict[str, Any]]:
    dynamodb = runtime.client("dynamodb")
    items, request = [], {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {
        item["trip_id"]["S"]: {name: value.get("S") for name, value in item.items() if "S" in value} for item in items
    }


def lost_changes(runtime: RunningRuntime, table: str, sagas: Sagas) -> list[str]:
    """The trips whose document does not show what their saga left."""
    documents = live_documents(runtime, table)
    return [
        f"{trip}: {statuses(documents.get(trip, {}))}"
        for trip, (_, expected) in sagas.started.items()
        if statuses(documents.get(trip, {})) != expected
    ]


def test_a_cutover_under_a_saga_workload_loses_nothing_and_every_answer_is_right(
    layout: Layout, runtime: RunningRuntime, tmp_path: Any
) -> None:
    replay = replay_cli(str(tmp_path / "checkpoints"), "--endpoint-url", runtime.endpoint_url)
    stack_table = runtime.outputs["SearchTableName"]
    connection = Connection(endpoint_url=runtime.endpoint_url, region=REGION)
    # every function that reads the parameter caches it MAX_AGE_S: the cutover waits that and its margin
    resources = find_stack_resources(connection, "TripSagaStack")
    assert steps.settle_seconds(connection, resources) == MAX_AGE_S + steps.SETTLE_MARGIN_SECONDS
    reader = Reader(runtime.outputs["ApiUrl"])
    sagas = Sagas(runtime, reader)
    threads = [threading.Thread(target=sagas.run), threading.Thread(target=reader.run)]
    for thread in threads:
        thread.start()
    try:
        eventually(lambda: len(reader.newest) >= 10, timeout=300, interval=0.5)  # searches are being answered
        began = time.monotonic()
        code, started = replay("cutover", "start", "--table", NEXT)
        assert isinstance(started, dict), started
        assert (code, started["differences"], started["live"], started["shadow"]) == (0, [], stack_table, NEXT)
        code, switched = replay("cutover", "switch")
        switched_after = time.monotonic() - began
        assert (code, switched["live"], switched["shadow"]) == (0, NEXT, stack_table)
        time.sleep(3 * MAX_AGE_S)  # sagas go on after the switch, read from the new table
    finally:
        sagas.stop.set()
        threads[0].join(timeout=60)
        eventually(sagas.ended, timeout=300, interval=1.0)
        time.sleep(5)  # the last changes through both pipelines
        reader.stop.set()
        for thread in threads:
            thread.join(timeout=120)

    deadline = time.monotonic() + 120  # the last changes may still be on their way through the pipelines
    while (lost := lost_changes(runtime, NEXT, sagas)) and time.monotonic() < deadline:
        time.sleep(1.0)
    code, verified = replay("cutover", "verify")
    code_retired, retired = replay("cutover", "retire")

    figures = {
        "sagas": len(sagas.started),
        "api_answers": reader.answers,
        "api_errors": len(reader.errors),
        "wrong_answers": len(reader.wrong),
        "stale_answers": len(reader.stale),
        "changes_lost": len(lost),  # trips whose document in the new live table is not what their saga left
        "seconds_start_to_switch": round(switched_after, 1),
        "differences_after": len(verified["differences"]),
    }
    unsharded_keys = {"hotel_name_initial", "hotel_name_key"}
    stack_keys = {key for document in live_documents(runtime, stack_table).values() for key in document}
    figures["stack_table_layout"] = str(Layout.UNSHARDED if unsharded_keys <= stack_keys else Layout.SHARDED)
    print(f"\ncutover under load: {json.dumps(figures)}")
    assert figures["stack_table_layout"] == layout
    assert not unsharded_keys & {key for document in live_documents(runtime, NEXT).values() for key in document}
    assert (reader.errors, reader.wrong, reader.stale, lost) == ([], [], [], [])
    assert (code, verified["differences"]) == (0, [])
    assert (code_retired, retired["live"], retired["shadow"]) == (0, NEXT, None)
    assert len(sagas.started) >= 20 and reader.answers >= 100
