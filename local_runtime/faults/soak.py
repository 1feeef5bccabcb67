"""``python -m local_runtime soak``: break things on purpose, then prove that nothing was lost.

Starts a runtime with every fault on (``SOAK_FAULTS``, ``KINESIS_FAULTS``), drives the workload below through
the public APIs while the faults fire, waits until every pipeline has caught up, and checks the end state:

- workload: N sagas through Step Functions (every third compensates); half the compensated trips are rebooked
  by a second saga; every sixth trip has its hotel item deleted and re-created directly in TripTable (a new
  generation, as another writer would); poison records are put straight into the change stream; and a
  ``python -m replay run`` projects the change stream into the live table while the sagas run;
- drift: while the second wave runs, one drift of each kind is injected behind the projection's back on trips whose
  sagas ended (``faults/drift.py``: a document deleted, altered, put back for a trip deleted from TripTable, put
  back a version behind), and the scheduled DriftAudit (every ``AUDIT_MINUTE_S`` s here) must find and repair
  every one and report nothing else;
- checks: every saga ended as planned; the live search table equals a rebuild from TripTable
  (``python -m replay run --source table --verify``: zero differences); every trip's document shows what its
  sagas left; the DLQ holds no batch pointer (retries absorb transient faults) and every poison record sent;
  nothing in flight (mappings and the Kinesis copy caught up, no invocation running, no request held).

Exit 0 when every check passed, 1 otherwise. The consumers' timeout is lowered to ``CONSUMER_TIMEOUT_S`` for
the run so that an injected timeout costs seconds, not the stack's 30 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from rich.console import Console
from rich.table import Table

from local_runtime.faults.drift import BEHIND, RESURRECTED, DriftInjector, Injected, inject_each_kind, watch_audit
from local_runtime.faults.injection import FaultRates
from local_runtime.functions.lambda_runtime import FAKE_CREDENTIALS
from local_runtime.runtime import LocalRuntime, RuntimeOptions
from local_runtime.scenarios import BOOKED, COMPENSATED, statuses, trip_input
from local_runtime.streams.event_source_mappings import PollIntervals
from local_runtime.streams.kinesis_destination import DeliveryFaults

SOAK_FAULTS = FaultRates(throttle=0.2, crash=0.25, timeout=0.15)
# With this seed each pipeline's first invocation that writes crashes and its second times out (one generator per
# event source; draws 0.009 and 0.327 for DynamoDB Streams, 0.165 and 0.263 for Kinesis): even a short soak has both.
DEFAULT_SEED = 680
KINESIS_FAULTS = DeliveryFaults(duplicate_rate=0.3, reorder=True)
POLL_S = 0.1
SAGA_START_INTERVAL_S = 0.2  # a steady flow of changes: many batches, so many invocations for the faults to hit
CONSUMER_TIMEOUT_S = 10
SAGA_TIMEOUT_S = 600.0
CONVERGE_TIMEOUT_S = 600.0
QUIET_S = 2.0  # caught up: every part caught up and every count unchanged for this long
REHOMED_SUFFIX = " Annex"  # the hotel name of an item re-created directly in TripTable
# The drift audit, run every AUDIT_MINUTE_S seconds in one segment (a run is a full pass). Its settle time, and how
# long an injected trip's document must stay unwritten first, outlast a batch retried after an injected timeout
# (CONSUMER_TIMEOUT_S) and the next attempt.
AUDIT_MINUTE_S = 3.0
AUDIT_SETTLE_S = 45
AUDIT_CONTEXT = {
    "driftAuditRateMinutes": "1",
    "driftAuditSegments": "1",
    "driftAuditSettleSeconds": str(AUDIT_SETTLE_S),
}
AUDIT_TIMEOUT_S = 900.0
POISON_DATA = (b"this is not JSON", json.dumps({"eventSource": "aws:s3", "note": "not a DynamoDB change"}).encode())


@dataclass
class Saga:
    trip_id: str
    payment_amount: str
    arn: str = ""
    status: str = "RUNNING"

    @property
    def expected(self) -> str:
        return "FAILED" if float(self.payment_amount) <= 0 else "SUCCEEDED"


@dataclass
class Workload:
    first: list[Saga] = field(default_factory=list)
    rebooks: list[Saga] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)  # trips whose hotel item was re-created directly
    poison: list[str] = field(default_factory=list)  # sequence numbers of the poison records put
    replay_exit: int | None = None
    replay_total: dict[str, int] = field(default_factory=dict)
    drift: list[Injected] = field(default_factory=list)

    def expected_statuses(self) -> dict[str, tuple[str | None, ...]]:
        expected: dict[str, tuple[str | None, ...]] = {
            saga.trip_id: BOOKED if saga.expected == "SUCCEEDED" else COMPENSATED for saga in self.first
        }
        expected.update((saga.trip_id, BOOKED) for saga in self.rebooks)
        for drift in self.drift:  # what TripTable says after the injection, and the repair shows
            if drift.kind == RESURRECTED:
                expected[drift.trip_id] = (None, None, None)
            elif drift.kind == BEHIND:
                expected[drift.trip_id] = ("DELAYED", *expected[drift.trip_id][1:])
        return expected


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def run_soak(sagas: int, seed: int, state_dir: Path, console: Console, json_output: bool) -> int:
    options = RuntimeOptions(
        project_dir=Path.cwd(),
        state_dir=state_dir.resolve(),
        port=0,
        poll=PollIntervals(dynamodb_s=POLL_S, kinesis_s=POLL_S),
        faults=KINESIS_FAULTS,
        seed=seed,
        injected=SOAK_FAULTS,
        context=AUDIT_CONTEXT,
        schedule_minute_s=AUDIT_MINUTE_S,
    )
    runtime = LocalRuntime(options)
    say = (lambda _message: None) if json_output else (lambda message: console.print(message, highlight=False))
    try:
        say(f"starting the local runtime in {options.state_dir} (seed {seed})")
        runtime.start()
        soak = _Soak(runtime, seed, say)
        result = soak.run(sagas)
    finally:
        runtime.stop()
    if json_output:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        _print_report(console, result)
    return 0 if all(check["passed"] for check in result["checks"]) else 1


class _Soak:
    def __init__(self, runtime: LocalRuntime, seed: int, say: Callable[[str], None]) -> None:
        self.runtime = runtime
        self.seed = seed
        self.say = say
        self.outputs = runtime.stacks[0].outputs
        endpoint = runtime.endpoint
        self.stepfunctions = endpoint.client("stepfunctions")
        self.dynamodb = endpoint.client("dynamodb")
        self.kinesis = endpoint.client("kinesis")
        self.lambda_client = endpoint.lambda_client()
        self.consumers = sorted(
            {
                mapping["FunctionArn"].split(":")[6]
                for mapping in self.lambda_client.list_event_source_mappings()["EventSourceMappings"]
            }
        )

    def run(self, sagas: int) -> dict[str, Any]:
        for consumer in self.consumers:
            self.lambda_client.update_function_configuration(FunctionName=consumer, Timeout=CONSUMER_TIMEOUT_S)
        self.say(f"consumers {', '.join(self.consumers)}: timeout {CONSUMER_TIMEOUT_S} s for the soak")
        started_at = datetime.now(UTC)
        started = time.monotonic()
        workload = Workload()
        replay = self._first_wave(workload, sagas, started_at)
        # Before any drift: the replay's window holds every change of the first wave, and would heal a deleted document
        workload.replay_exit, document = _finish(replay)
        workload.replay_total = document.get("total", {}) if isinstance(document, dict) else {}
        with ThreadPoolExecutor(1) as injecting:
            drift = injecting.submit(inject_each_kind, self._injector(), self._drift_trips(workload))
            self._second_wave(workload)
            workload.drift = drift.result()
        self.say(f"injected {len(workload.drift)} drifts; waiting for the drift audit to find and repair them")
        audit = self._watch_audit(workload)
        self.runtime.stop_scheduled_rules()  # the audit's part is done: nothing else invokes it while the rest settles
        workload_s = time.monotonic() - started
        self.say(f"workload done in {workload_s:.1f} s; waiting until every pipeline has caught up")
        converged_s = self._wait_until_caught_up()
        status = self.runtime.status()
        self.say("checking the end state")
        checks = [
            self._sagas_check(workload),
            _drift_check(audit),
            self._verify_check(),
            self._documents_check(workload),
            *self._dlq_checks(workload),
            self._in_flight_check(status, converged_s),
        ]
        return {
            "seed": self.seed,
            "sagas": sagas,
            "workload": {
                "sagas_started": len(workload.first) + len(workload.rebooks),
                "sagas_compensated": sum(saga.expected == "FAILED" for saga in workload.first),
                "sagas_rebooked": len(workload.rebooks),
                "items_recreated": len(workload.recreated),
                "poison_records": len(workload.poison),
                "replay_run_exit": workload.replay_exit,
                "replay_run": workload.replay_total,
                "seconds": round(workload_s, 1),
            },
            "injected": _injected(status),
            "happened": {**_deliveries(status), **self._consumer_metrics()},
            "drift_audit": audit,
            "converge_seconds": None if converged_s is None else round(converged_s, 1),
            "checks": [check.__dict__ for check in checks],
        }

    # the workload

    def _start(self, saga: Saga, attempt: int) -> None:
        saga.arn = self.stepfunctions.start_execution(
            stateMachineArn=self.outputs["StateMachineArn"],
            name=f"soak-{self.seed}-{saga.trip_id}-{attempt}",
            input=json.dumps(trip_input(saga.trip_id, payment_amount=saga.payment_amount)),
        )["executionArn"]

    def _first_wave(self, workload: Workload, sagas: int, started_at: datetime) -> subprocess.Popen[bytes]:
        """Start the sagas at a steady pace; halfway, the poison records and the concurrent replay run."""
        self.say(f"starting {sagas} sagas, one every {SAGA_START_INTERVAL_S} s (every third compensates)")
        replay = None
        for index in range(sagas):
            if index == sagas // 2:
                self._put_poison(workload, max(2, sagas // 10))
                self.say("halfway: poison records into the stream, `python -m replay run` into the live table")
                replay = self._replay_process("run", "--from", started_at.isoformat())
            saga = Saga(f"soak-{self.seed}-{index:04d}", "-1" if index % 3 == 2 else str(50000 + index))
            self._start(saga, 1)
            workload.first.append(saga)
            time.sleep(SAGA_START_INTERVAL_S)
        assert replay is not None  # sagas >= 1
        self._wait_until_ended(workload.first)
        return replay

    def _put_poison(self, workload: Workload, count: int) -> None:
        for index in range(count):
            put = self.kinesis.put_record(
                StreamName=self.outputs["ChangeStreamName"],
                Data=POISON_DATA[index % len(POISON_DATA)],
                PartitionKey=f"poison-{index}",
            )
            workload.poison.append(put["SequenceNumber"])

    def _second_wave(self, workload: Workload) -> None:
        """Rebook half the compensated trips; re-create the hotel item of every sixth trip directly."""
        for index, saga in enumerate(workload.first):
            if saga.expected == "FAILED" and index % 6 == 5:
                rebook = Saga(saga.trip_id, str(60000 + index))
                self._start(rebook, 2)
                workload.rebooks.append(rebook)
            elif saga.expected == "SUCCEEDED" and index % 6 == 1:
                self._recreate_hotel(saga.trip_id)
                workload.recreated.append(saga.trip_id)
        self.say(
            f"rebooking {len(workload.rebooks)} compensated trips; re-created "
            f"{len(workload.recreated)} hotel items directly in TripTable"
        )
        self._wait_until_ended(workload.rebooks)

    def _recreate_hotel(self, trip_id: str) -> None:
        """Delete the trip's hotel item and put it back as a new item (version 1, a new created_at)."""
        table, key = self.outputs["TripTableName"], _hotel_key(trip_id)
        item = self.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        self.dynamodb.delete_item(TableName=table, Key=key)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        item.update(
            version={"N": "1"},
            created_at={"S": now},
            updated_at={"S": now},
            hotel_name={"S": item["hotel_name"]["S"] + REHOMED_SUFFIX},
        )
        self.dynamodb.put_item(TableName=table, Item=item)

    def _drift_trips(self, workload: Workload) -> list[str]:
        """First-wave trips the second wave leaves alone (not rebooked, no hotel re-created): each gets a drift."""
        touched = {index for index in range(len(workload.first)) if index % 6 in (1, 5)}
        return [saga.trip_id for index, saga in enumerate(workload.first) if index not in touched][:4]

    def _injector(self) -> DriftInjector:
        return DriftInjector(
            self.dynamodb, self.outputs["TripTableName"], self.outputs["SearchTableName"], AUDIT_SETTLE_S
        )

    def _watch_audit(self, workload: Workload) -> dict[str, Any]:
        [rule] = self.runtime.status()["scheduledRules"]
        log_file = self.runtime.options.state_dir / "logs" / f"{rule['targets'][0]}.log"
        table = self.outputs["SearchTableName"]

        def trips() -> int:
            return int(self.dynamodb.scan(TableName=table, Select="COUNT")["Count"])

        return watch_audit(log_file, workload.drift, passes_after=1, timeout_s=AUDIT_TIMEOUT_S, trips=trips)

    def _wait_until_ended(self, sagas: list[Saga]) -> None:
        deadline = time.monotonic() + SAGA_TIMEOUT_S
        while time.monotonic() < deadline:
            for saga in sagas:
                if saga.status == "RUNNING":
                    saga.status = self.stepfunctions.describe_execution(executionArn=saga.arn)["status"]
            if all(saga.status != "RUNNING" for saga in sagas):
                return
            time.sleep(0.5)

    def _replay_process(self, *args: str) -> subprocess.Popen[bytes]:
        endpoint = self.runtime.endpoint
        env = {
            **os.environ,
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": endpoint.url,
            "AWS_DEFAULT_REGION": endpoint.region,
        }
        if args[0] == "run":
            args = (*args, "--checkpoint-dir", str(self.runtime.options.state_dir / "replay-checkpoints"))
        command = [sys.executable, "-m", "replay", *args, "--json"]
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    # waiting

    def _wait_until_caught_up(self) -> float | None:
        """Seconds until every pipeline has caught up and stayed so for QUIET_S (None: not within the limit)."""
        started = time.monotonic()
        quiet_since, last = None, None
        while time.monotonic() - started < CONVERGE_TIMEOUT_S:
            status = self.runtime.status()
            counts = _progress(status) if _caught_up(status) else None
            if counts is not None and counts == last:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= QUIET_S:
                    return quiet_since - started
            else:
                quiet_since = None
            last = counts
            time.sleep(0.2)
        return None

    # the checks

    def _sagas_check(self, workload: Workload) -> Check:
        sagas = workload.first + workload.rebooks
        wrong = [f"{saga.trip_id}: {saga.status}" for saga in sagas if saga.status != saga.expected]
        return Check("every saga ended as planned", not wrong, "; ".join(wrong[:5]) or f"{len(sagas)} sagas")

    def _verify_check(self) -> Check:
        target = f"SoakRebuild{self.seed}x{int(time.time())}"
        exit_code, document = _finish(
            self._replay_process("run", "--source", "table", "--target-table", target, "--verify")
        )
        differences = document.get("differences") if isinstance(document, dict) else None
        if differences is None:
            return Check("live table equals a rebuild from TripTable", False, f"replay exit {exit_code}: {document}")
        shown = "; ".join(
            f"{d['trip_id']} {d['field']}: live={d['live']!r} rebuilt={d['target']!r}" for d in differences
        )
        detail = f"{len(differences)} differences, {document.get('trips')} trips" + (
            f": {shown[:400]}" if shown else ""
        )
        return Check("live table equals a rebuild from TripTable", exit_code == 0 and not differences, detail)

    def _documents_check(self, workload: Workload) -> Check:
        documents = {
            item["trip_id"]: item
            for item in self._scan(self.outputs["SearchTableName"])
            if str(item["trip_id"]).startswith(f"soak-{self.seed}-")
        }
        wrong = []
        for trip_id, expected in workload.expected_statuses().items():
            document = documents.get(trip_id, {})
            if statuses(document) != expected:
                wrong.append(f"{trip_id}: {statuses(document)}")
            elif trip_id in workload.recreated and not str(document.get("hotel_name", "")).endswith(REHOMED_SUFFIX):
                wrong.append(f"{trip_id}: hotel {document.get('hotel_name')!r}")
        detail = "; ".join(wrong[:5]) or f"{len(documents)} documents"
        return Check("every document shows what its sagas left", not wrong, detail)

    def _dlq_checks(self, workload: Workload) -> list[Check]:
        exit_code, messages = _finish(self._replay_process("dlq", "list"))
        if exit_code != 0 or not isinstance(messages, list):
            return [Check("the DLQ can be read", False, f"replay dlq list exit {exit_code}: {messages}")]
        pointers = [message for message in messages if message["kind"] == "batch-pointer"]
        parked = [message["first_sequence"] for message in messages if message["kind"] == "poison-record"]
        missing = [sequence for sequence in workload.poison if sequence not in parked]
        return [
            Check(
                "no batch pointer in the DLQ",
                not pointers,
                "; ".join(f"{p['source']} {p['first_sequence']}..{p['last_sequence']}: {p['reason']}" for p in pointers)
                or "0 pointers",
            ),
            Check(
                "every poison record in the DLQ",
                not missing,
                f"{len(workload.poison) - len(missing)} of {len(workload.poison)} parked"
                + (
                    f" ({len(parked) - len(set(parked))} again by a retried batch)"
                    if len(parked) > len(set(parked))
                    else ""
                )
                + (f"; missing {', '.join(missing)}" if missing else ""),
            ),
        ]

    def _in_flight_check(self, status: dict[str, Any], converged_s: float | None) -> Check:
        faults = status["faults"]
        held_back = sum(copy["recordsHeldBack"] for copy in status["kinesisDestinations"])
        busy = faults["invocationsInProgress"] + faults["requestsHeld"] + held_back
        running = sum(
            len(page["executions"])
            for page in self.stepfunctions.get_paginator("list_executions").paginate(
                stateMachineArn=self.outputs["StateMachineArn"], statusFilter="RUNNING"
            )
        )
        passed = converged_s is not None and _caught_up(status) and not busy and not running
        detail = (
            f"caught up after {converged_s:.1f} s" if converged_s is not None else "not caught up"
        ) + f"; {running} executions running, {busy} invocations, held requests or held-back copies"
        return Check("nothing in flight", passed, detail)

    def _scan(self, table: str) -> Iterator[dict[str, Any]]:
        deserializer = TypeDeserializer()
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page["Items"]:
                yield {key: deserializer.deserialize(value) for key, value in item.items()}

    def _consumer_metrics(self) -> dict[str, int]:
        """Sums of the consumers' own metrics (Powertools EMF lines in their logs), as CloudWatch would show."""
        sums = {"WriteConflicts": 0, "DocumentWrites": 0, "ChangesRetried": 0, "ChangesPoison": 0}
        for consumer in self.consumers:
            log_file = self.runtime.options.state_dir / "logs" / f"{consumer}.log"
            for line in log_file.read_text(errors="replace").splitlines() if log_file.exists() else []:
                if line.startswith("{") and '"_aws"' in line:
                    document = json.loads(line)
                    for name in sums:
                        value = document.get(name, 0)  # a list when the metric was added more than once
                        sums[name] += int(sum(value) if isinstance(value, list) else value)
        return {
            "write_conflicts": sums["WriteConflicts"],
            "documents_written": sums["DocumentWrites"],
            "changes_retried": sums["ChangesRetried"],
            "poison_parked": sums["ChangesPoison"],
        }


def _drift_check(audit: dict[str, Any]) -> Check:
    times = sorted(audit["seconds_to_detection"].values())
    passed = audit["recall"] == 1.0 and not audit["false_drift"] and len(audit["repaired"]) == audit["injected"]
    detail = (
        f"{audit['found']} of {audit['injected']} found, {len(audit['repaired'])} repaired"
        + (f" in {times[0]:.0f} to {times[-1]:.0f} s" if times else "")
        + f"; {len(audit['false_drift'])} false drift"
        + (f" ({', '.join(audit['false_drift'][:5])})" if audit["false_drift"] else "")
        + (f"; missed {', '.join(audit['missed'])}" if audit["missed"] else "")
        + f"; {audit['differed_then_settled']} trips in flight not reported"
    )
    return Check("every injected drift found and repaired, no false drift", passed, detail)


def _hotel_key(trip_id: str) -> dict[str, Any]:
    return {"PK": {"S": f"TRIP#{trip_id}"}, "SK": {"S": f"HOTEL#hotel_for_{trip_id}"}}


def _finish(process: subprocess.Popen[bytes]) -> tuple[int, Any]:
    """Wait for a `python -m replay ... --json` process; its exit code and its JSON (or its stderr)."""
    try:
        stdout, stderr = process.communicate(timeout=SAGA_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return process.returncode, f"still running after {SAGA_TIMEOUT_S:.0f} s: stopped"
    try:
        return process.returncode, json.loads(stdout)
    except ValueError:
        return process.returncode, (stderr or stdout).decode(errors="replace").strip()[-1000:]


def _caught_up(status: dict[str, Any]) -> bool:
    parts = status["kinesisDestinations"] + status["eventSourceMappings"]
    faults = status["faults"]
    return (
        bool(parts)
        and all(part["caughtUp"] for part in parts)
        and not any(copy["recordsHeldBack"] for copy in status["kinesisDestinations"])
        and not faults["invocationsInProgress"]
        and not faults["requestsHeld"]
    )


def _progress(status: dict[str, Any]) -> list[int]:
    shards = [shard for mapping in status["eventSourceMappings"] for shard in mapping["shards"].values()]
    return [copy["recordsPut"] for copy in status["kinesisDestinations"]] + [
        shard["recordsDelivered"] for shard in shards
    ]


def _injected(status: dict[str, Any]) -> dict[str, Any]:
    faults, copies = status["faults"], status["kinesisDestinations"]
    return {
        "throttles": faults["throttle"]["injected"],
        "throttle_requests": faults["throttle"]["requests"],
        "crashes": faults["crash"]["injected"],
        "timeouts": faults["timeout"]["injected"],
        "writing_invocations": faults["crash"]["invocations"],
        "kinesis_duplicates": sum(copy["duplicatesPut"] for copy in copies),
        "kinesis_reordered": sum(copy["recordsReordered"] for copy in copies),
        "kinesis_records": sum(copy["recordsPut"] for copy in copies),
    }


def _deliveries(status: dict[str, Any]) -> dict[str, int]:
    shards = [shard for mapping in status["eventSourceMappings"] for shard in mapping["shards"].values()]
    keys = ("recordsDelivered", "invocations", "functionErrors", "itemFailures", "retries", "bisections")
    names = ("records_delivered", "invocations", "function_errors", "item_failures", "retries", "bisections")
    totals = {name: sum(shard[key] for shard in shards) for key, name in zip(keys, names, strict=True)}
    totals["records_given_up"] = sum(shard["recordsGivenUp"] for shard in shards)
    return totals


def _rounded(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _print_report(console: Console, result: dict[str, Any]) -> None:
    workload, injected, happened = result["workload"], result["injected"], result["happened"]
    audit = result["drift_audit"]
    table = Table(title=f"Soak: {result['sagas']} sagas, seed {result['seed']}", show_header=True, expand=False)
    table.add_column("", style="bold")
    table.add_column("what", overflow="fold")
    table.add_column("count", justify="right")
    rows = [
        (
            "workload",
            "sagas started (compensating, rebooked)",
            f"{workload['sagas_started']} ({workload['sagas_compensated']}, {workload['sagas_rebooked']})",
        ),
        ("", "items re-created directly in TripTable", workload["items_recreated"]),
        ("", "poison records put into the stream", workload["poison_records"]),
        (
            "",
            f"concurrent replay run (exit {workload['replay_run_exit']}): applied / stale",
            f"{workload['replay_run'].get('applied', '-')} / {workload['replay_run'].get('stale', '-')}",
        ),
        ("injected", f"throttles (of {injected['throttle_requests']} search table requests)", injected["throttles"]),
        ("", f"crashes (of {injected['writing_invocations']} writing invocations)", injected["crashes"]),
        ("", "timeouts", injected["timeouts"]),
        ("", f"Kinesis duplicates (of {injected['kinesis_records']} records put)", injected["kinesis_duplicates"]),
        ("", "Kinesis records reordered", injected["kinesis_reordered"]),
        ("happened", "invocations (records delivered)", f"{happened['invocations']} ({happened['records_delivered']})"),
        ("", "function errors / batch item failures", f"{happened['function_errors']} / {happened['item_failures']}"),
        ("", "retries / bisections", f"{happened['retries']} / {happened['bisections']}"),
        ("", "records given up (to the DLQ as pointers)", happened["records_given_up"]),
        ("", "document writes / write conflicts", f"{happened['documents_written']} / {happened['write_conflicts']}"),
        ("", "changes retried (by the consumers)", happened["changes_retried"]),
        ("", "workload time / time to converge", f"{workload['seconds']} s / {result['converge_seconds']} s"),
        (
            "drift audit",
            "drifts injected / found / repaired (false drift)",
            f"{audit['injected']} / {audit['found']} / {len(audit['repaired'])} ({len(audit['false_drift'])})",
        ),
        ("", "seconds to detection, the longest", audit["max_seconds_to_detection"]),
        ("", "read units per trip per pass", _rounded(audit["read_units_per_trip_per_pass"])),
    ]
    for section, what, count in rows:
        table.add_row(section, what, str(count))
    console.print(table)
    for check in result["checks"]:
        mark = "[green]✔[/]" if check["passed"] else "[red]✘[/]"
        console.print(f"{mark} {check['name']}  [dim]{check['detail']}[/]")
    failed = sum(not check["passed"] for check in result["checks"])
    console.rule("[green]nothing lost" if not failed else f"[red]{failed} checks failed")
