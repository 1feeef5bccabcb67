"""Drift injected behind the projection's back on the local runtime, and what the scheduled DriftAudit made of it.

Four kinds, each on a trip whose sagas have ended (a trip still changing would be re-projected by its next change):
- `missing`: its search document deleted (by hand, or a table restored without it);
- `altered`: a field of its document changed at the same version (edited by hand);
- `resurrected`: its bookings deleted from TripTable (the consumers write its tombstone), then the document from
  before put back (a search table restored from an older backup);
- `behind`: a change written to TripTable and projected, then the document from before put back: what a change
  lost for good leaves (its batch pointer dropped from the DLQ, or expired there after 14 days).

`audit_log` reads the DriftAudit function's log (the runtime writes each function's output to
`<state dir>/logs/<function>.log`): every trip it reported drifted, when, and each run's read units.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The kinds as DriftAudit logs them (services.trip.audit.DriftKind; the runtime does not import the functions' code).
MISSING, ALTERED, RESURRECTED, BEHIND = "missing", "altered", "resurrected", "behind"
WAIT_S = 300.0
ALTERED_HOTEL = "Hotel Nowhere"
ENTITIES = ("FLIGHT", "HOTEL", "PAYMENT")


@dataclass(frozen=True)
class Injected:
    trip_id: str
    kind: str  # MISSING, ALTERED, RESURRECTED or BEHIND
    at: float  # epoch seconds: when the document took its drifted form


class DriftInjector:
    """Injects each kind through the public DynamoDB API of the runtime (`dynamodb`: a boto3 client on it).

    Before a document takes its drifted form, the trip's document must exist and have stayed unwritten for
    `quiet_s`: every copy of its changes delivered by both pipelines (a Kinesis duplicate, a retried batch), so that
    none heals the drift before the audit could see it. Longer than the Kinesis copy's hold (1.5 s) and a batching
    window; with crashes and timeouts injected, longer than a retried batch takes."""

    def __init__(self, dynamodb: Any, trip_table: str, search_table: str, quiet_s: float) -> None:
        self.dynamodb, self.trip_table, self.search_table = dynamodb, trip_table, search_table
        self.quiet_s = quiet_s

    def _settled(self, trip_id: str) -> dict[str, Any]:
        """The trip's document once it exists and its write counter has not changed for `quiet_s`.

        A saga that has ended may not be projected yet (a delayed delivery, a retried batch): a drift injected before
        its document is written would be healed by that write, or would put back nothing."""
        deadline = time.monotonic() + WAIT_S
        document, since = self._document(trip_id), time.monotonic()
        while "revision" not in document or time.monotonic() - since < self.quiet_s:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the document of {trip_id} was not settled within {WAIT_S:.0f} s")
            time.sleep(0.2)
            now = self._document(trip_id)
            if now.get("revision") != document.get("revision"):
                document, since = now, time.monotonic()
        return document

    def missing(self, trip_id: str) -> Injected:
        self._settled(trip_id)
        self.dynamodb.delete_item(TableName=self.search_table, Key=_search_key(trip_id))
        return Injected(trip_id, MISSING, time.time())

    def altered(self, trip_id: str) -> Injected:
        document = self._settled(trip_id)
        self.dynamodb.put_item(TableName=self.search_table, Item={**document, "hotel_name": {"S": ALTERED_HOTEL}})
        return Injected(trip_id, ALTERED, time.time())

    def resurrected(self, trip_id: str) -> Injected:
        before = self._settled(trip_id)
        for entity in ENTITIES:
            self.dynamodb.delete_item(TableName=self.trip_table, Key=_trip_key(trip_id, entity))
        self._until(lambda: "expires_at" in self._document(trip_id), f"the tombstone of {trip_id}")
        self._settled(trip_id)
        self.dynamodb.put_item(TableName=self.search_table, Item=before)
        return Injected(trip_id, RESURRECTED, time.time())

    def behind(self, trip_id: str) -> Injected:
        before = self._settled(trip_id)
        key = _trip_key(trip_id, "FLIGHT")
        flight = self.dynamodb.get_item(TableName=self.trip_table, Key=key, ConsistentRead=True)["Item"]
        version = int(flight["version"]["N"]) + 1
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        self.dynamodb.put_item(
            TableName=self.trip_table,
            Item={
                **flight,
                "status": {"S": "DELAYED"},
                "version": {"N": str(version)},
                "updated_at": {"S": now},
            },
        )
        self._until(lambda: self._document(trip_id).get("flight_status") == {"S": "DELAYED"}, f"{trip_id} DELAYED")
        self._settled(trip_id)
        self.dynamodb.put_item(TableName=self.search_table, Item=before)
        return Injected(trip_id, BEHIND, time.time())

    def _document(self, trip_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.dynamodb.get_item(
            TableName=self.search_table, Key=_search_key(trip_id), ConsistentRead=True
        ).get("Item", {})
        return item

    @staticmethod
    def _until(check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"not projected within {WAIT_S:.0f} s: {what}")
            time.sleep(0.2)


def inject_each_kind(injector: DriftInjector, trip_ids: list[str]) -> list[Injected]:
    """One drift of each kind, at once, on the first four of `trip_ids` (trips whose sagas have ended)."""
    kinds = (injector.missing, injector.altered, injector.resurrected, injector.behind)
    with ThreadPoolExecutor(len(kinds)) as threads:
        return list(threads.map(lambda inject, trip_id: inject(trip_id), kinds, trip_ids))


@dataclass(frozen=True)
class Reported:
    trip_id: str
    kind: str
    at: float  # epoch seconds of the log line
    repaired: bool


@dataclass
class AuditLog:
    drifted: list[Reported] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # each run's summary ("DriftAudit done"), "at" added

    def outcome(self, injected: list[Injected]) -> dict[str, Any]:
        """Recall, false drift, repairs and the time from each injection to its first report (seconds)."""
        truth = {drift.trip_id: drift for drift in injected}
        first: dict[str, Reported] = {}
        false = []
        for report in self.drifted:
            drift = truth.get(report.trip_id)
            if drift is None or report.at < drift.at - 1.0 or report.kind != drift.kind:
                false.append(f"{report.trip_id} {report.kind}")
            else:
                first.setdefault(report.trip_id, report)
        detection = [first[trip].at - truth[trip].at for trip in first]
        return {
            "injected": len(truth),
            "found": len(first),
            "recall": len(first) / len(truth) if truth else 1.0,
            "false_drift": false,
            "repaired": sorted(trip for trip, report in first.items() if report.repaired),
            "missed": sorted(set(truth) - set(first)),
            "seconds_to_detection": {trip: round(first[trip].at - truth[trip].at, 1) for trip in sorted(first)},
            "max_seconds_to_detection": round(max(detection), 1) if detection else None,
        }

    def passes_since(self, moment: float) -> int:
        """Full passes (a run finishing the last segment) the audit finished after `moment` (epoch seconds)."""
        return sum(
            1
            for run in self.runs
            if run["at"] > moment and run["segment_done"] and run["segment"] == run["segments"] - 1
        )

    def read_units_per_trip_per_cycle(self, trips: int) -> float | None:
        """The read units of the last run of segments 0 to S-1 done in turn (a full cycle), per trip of `trips`."""
        cycle: list[dict[str, Any]] = []
        last: list[dict[str, Any]] | None = None
        for run in self.runs:
            if run["segment"] == 0 and not cycle:
                cycle = [run]
            elif cycle:
                cycle.append(run)
            if cycle and run["segment_done"] and run["segment"] == run["segments"] - 1:
                last, cycle = cycle, []
        if last is None or not trips:
            return None
        return sum(run["read_units"] for run in last) / trips


def watch_audit(
    log_file: Path, injected: list[Injected], *, passes_after: int, timeout_s: float, trips: Callable[[], int]
) -> dict[str, Any]:
    """Until the audit has reported every injected drift and then made `passes_after` full passes more (time for a
    false report to show), or `timeout_s`: its outcome (`AuditLog.outcome`), with its runs, the trips that differed
    at a first look and were not drift, and its read units per trip (of `trips()`) per full pass."""
    deadline = time.monotonic() + timeout_s
    last_injected = max((drift.at for drift in injected), default=0.0)
    while True:
        log = audit_log(log_file)
        outcome = log.outcome(injected)
        done = outcome["found"] == len(injected) and log.passes_since(last_injected) >= passes_after
        if done or time.monotonic() > deadline:
            break
        time.sleep(2.0)
    return {
        **outcome,
        "audit_runs": len(log.runs),
        "differed_then_settled": sum(run["settled"] for run in log.runs),
        "moved_between_looks": sum(run["in_flight"] for run in log.runs),
        "read_units_per_trip_per_pass": log.read_units_per_trip_per_cycle(trips()),
    }


def audit_log(log_file: Path) -> AuditLog:
    """What the DriftAudit function logged so far (its Powertools JSON lines)."""
    found = AuditLog()
    for line in log_file.read_text(errors="replace").splitlines() if log_file.exists() else []:
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("message") not in ("trip drifted", "DriftAudit done"):
            continue
        moment = datetime.strptime(entry["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
        if entry["message"] == "trip drifted":
            found.drifted.append(Reported(entry["trip_id"], entry["kind"], moment, bool(entry["repaired"])))
        else:
            found.runs.append({**entry, "at": moment})
    return found


def _search_key(trip_id: str) -> dict[str, Any]:
    return {"trip_id": {"S": trip_id}}


def _trip_key(trip_id: str, entity: str) -> dict[str, Any]:
    return {"PK": {"S": f"TRIP#{trip_id}"}, "SK": {"S": f"{entity}#{entity.lower()}_for_{trip_id}"}}
