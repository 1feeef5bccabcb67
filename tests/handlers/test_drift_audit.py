"""DriftAudit on moto: drift injected behind the projection's back (a document deleted, altered, put back for a
removed trip, left behind by a lost change) is found, logged with what differs, counted and repaired through the
version gate; a change in flight is not drift; a repair never overwrites what a consumer wrote meanwhile; a run
stops at its read budget and the next one goes on from its cursor."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest

from services.trip import auditor as auditor_module
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.adapters.trip_items import TripItems
from services.trip.audit import DriftKind, Verdict
from services.trip.auditor import Cursor, CursorError, DriftAuditor, Phase
from services.trip.changes import decode_stream_record
from services.trip.handlers import drift_audit
from services.trip.projector import Projector
from services.trip.schema import TTL_ATTRIBUTE
from tests import factories as f
from tests.conftest import REGION, metric_sums

CURSOR = "/TripSagaStack/drift-audit-cursor"
TTL = 8 * 24 * 3600
CONTEXT: Any = f.LambdaContext()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    drift_audit.clear_caches()
    yield
    drift_audit.clear_caches()


class Trips:
    """TripTable and the search table on moto, with the consumers' projection applied by hand (or held back)."""

    def __init__(self, trip_table: Any, search_table: Any) -> None:
        self.trip_table, self.search_table = trip_table, search_table
        self.projector = Projector(SearchDocuments(search_table.name, boto3.resource("dynamodb")), TTL)
        self.sequence = 1000

    def write(self, change: f.Change, *, projected: bool = True) -> None:
        if change.new is not None:
            self.trip_table.put_item(Item=change.new)
        else:
            self.trip_table.delete_item(Key=change.keys)
        if projected:
            self.project(change)

    def project(self, change: f.Change) -> None:
        self.sequence += 1
        record = decode_stream_record(f.stream_record(change, sequence_number=str(self.sequence)))
        assert record is not None
        self.projector.project([record])

    def book(self, trip_id: str, minute: int = 0) -> list[f.Change]:
        changes = [
            f.insert(f.flight(trip_id), f.later(minute)),
            f.insert(f.hotel(trip_id), f.later(minute + 1)),
            f.insert(f.payment(trip_id), f.later(minute + 2)),
        ]
        for change in changes:
            self.write(change)
        return changes

    def document(self, trip_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.search_table.get_item(Key={"trip_id": trip_id}).get("Item")
        return item


@pytest.fixture
def trips(trip_table: Any, search_table: Any) -> Trips:
    return Trips(trip_table, search_table)


@pytest.fixture
def audit_environment(trips: Trips, monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name=CURSOR, Type="String", Value="{}")
    for name, value in {
        "AUDIT_CURSOR_PARAMETER": CURSOR,
        "AUDIT_SEGMENTS": "1",
        "AUDIT_SETTLE_SECONDS": "1",
        "TOMBSTONE_TTL_SECONDS": str(TTL),
    }.items():
        monkeypatch.setenv(name, value)


def inject_every_kind(trips: Trips) -> dict[str, DriftKind]:
    """Twelve booked trips, four of them drifted behind the projection's back."""
    for number in range(1, 13):
        trips.book(f"trip-{number:03d}", minute=number)
    trips.search_table.delete_item(Key={"trip_id": "trip-001"})
    altered = trips.document("trip-002") or {}
    trips.search_table.put_item(Item={**altered, "hotel_name": "Hotel Nowhere"})
    before = trips.document("trip-003") or {}
    for entity in ("FLIGHT", "HOTEL", "PAYMENT"):
        key = {"PK": "TRIP#trip-003", "SK": f.SORT_KEYS[entity].format("trip-003")}
        trips.write(f.remove(trips.trip_table.get_item(Key=key)["Item"], f.later(60)))
    assert TTL_ATTRIBUTE in (trips.document("trip-003") or {})
    trips.search_table.put_item(Item=before)  # restored from an older backup of the search table
    flight = trips.trip_table.get_item(Key={"PK": "TRIP#trip-004", "SK": "FLIGHT#flight_for_trip-004"})["Item"]
    delayed = {**flight, "status": "DELAYED", "version": flight["version"] + 1}
    trips.write(f.modify(flight, delayed, f.later(61)), projected=False)  # its DLQ message expired
    return {
        "trip-001": DriftKind.MISSING,
        "trip-002": DriftKind.ALTERED,
        "trip-003": DriftKind.RESURRECTED,
        "trip-004": DriftKind.BEHIND,
    }


def test_every_kind_of_drift_is_found_logged_counted_and_repaired(
    trips: Trips, audit_environment: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    injected = inject_every_kind(trips)

    summary = drift_audit.lambda_handler({}, CONTEXT)

    assert (summary["trips"], summary["drifted"], summary["repaired"], summary["in_flight"]) == (12, 4, 4, 0)
    assert summary["segment_done"] is True
    drifted = {vars(r)["trip_id"]: vars(r) for r in caplog.records if r.getMessage() == "trip drifted"}
    assert {trip_id: DriftKind(entry["kind"]) for trip_id, entry in drifted.items()} == injected
    assert drifted["trip-002"]["differences"] == [
        {"field": "hotel_name", "search": "Hotel Nowhere", "trip_table": "Grand Hotel Tokyo"}
    ]
    assert {"field": "flight_status", "search": "CONFIRMED", "trip_table": "DELAYED"} in drifted["trip-004"][
        "differences"
    ]
    assert metric_sums(capsys.readouterr().out)["DriftedTrips"] == 4
    assert (trips.document("trip-001") or {})["flight_status"] == "CONFIRMED"
    assert (trips.document("trip-002") or {})["hotel_name"] == "Grand Hotel Tokyo"
    assert TTL_ATTRIBUTE in (trips.document("trip-003") or {})
    assert (trips.document("trip-004") or {})["flight_status"] == "DELAYED"

    again = drift_audit.lambda_handler({}, CONTEXT)

    assert (again["trips"], again["drifted"], again["in_flight"]) == (11, 0, 0)  # trip-003 is a tombstone now


def test_a_change_the_consumers_project_during_the_settle_time_is_not_drift(trips: Trips) -> None:
    trips.book("trip-001")
    flight = trips.trip_table.get_item(Key={"PK": "TRIP#trip-001", "SK": "FLIGHT#flight_for_trip-001"})["Item"]
    delayed = f.modify(flight, {**flight, "status": "DELAYED", "version": Decimal(2)}, f.later(5))
    trips.write(delayed, projected=False)

    report = auditor(trips, sleep=lambda _: trips.project(delayed)).audit_segment(Cursor(1), read_budget=1_000)

    assert [(finding.trip_id, finding.verdict) for finding in report.findings] == [("trip-001", Verdict.IN_SYNC)]
    assert report.drifted == []


def test_a_trip_written_again_between_the_looks_is_in_flight(trips: Trips) -> None:
    trips.book("trip-001")
    flight = trips.trip_table.get_item(Key={"PK": "TRIP#trip-001", "SK": "FLIGHT#flight_for_trip-001"})["Item"]
    trips.write(f.modify(flight, {**flight, "status": "DELAYED", "version": Decimal(2)}, f.later(5)), projected=False)
    delayed = trips.trip_table.get_item(Key={"PK": "TRIP#trip-001", "SK": "FLIGHT#flight_for_trip-001"})["Item"]
    later = f.modify(delayed, {**delayed, "status": "CANCELLED", "version": Decimal(3)}, f.later(6))

    report = auditor(trips, sleep=lambda _: trips.write(later, projected=False)).audit_trips(["trip-001"])

    assert [(finding.trip_id, finding.verdict) for finding in report.findings] == [("trip-001", Verdict.IN_FLIGHT)]


def test_a_repair_never_overwrites_a_change_a_consumer_wrote_meanwhile(trips: Trips) -> None:
    changes = trips.book("trip-001")
    altered = trips.document("trip-001") or {}
    trips.search_table.put_item(Item={**altered, "hotel_name": "Hotel Nowhere"})
    hotel = changes[1].new or {}
    cancelled = f.modify(hotel, {**hotel, "status": "CANCELLED", "version": Decimal(2)}, f.later(9))

    class RacedDocuments(SearchDocuments):
        def save(self, document: Any, tombstone_ttl_seconds: int) -> Any:
            trips.write(cancelled)  # the consumers project a newer change after the second look
            return super().save(document, tombstone_ttl_seconds)

    audit = auditor(trips, documents=RacedDocuments(trips.search_table.name, boto3.resource("dynamodb")))
    report = audit.audit_trips(["trip-001"])

    assert [(finding.verdict, finding.repaired) for finding in report.findings] == [(Verdict.IN_FLIGHT, False)]
    assert (trips.document("trip-001") or {})["hotel_status"] == "CANCELLED"


def test_a_run_stops_at_its_read_budget_and_the_next_goes_on_from_its_cursor(
    trips: Trips, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(1, 9):
        trips.book(f"trip-{number:03d}", minute=number)
    monkeypatch.setattr(auditor_module, "PAGE_ITEMS", 4)  # a trip's 3 items straddle most pages
    audit, cursor = auditor(trips), Cursor(2)
    audited: list[int] = []
    for _ in range(40):
        report = audit.audit_segment(cursor, read_budget=0.5)  # one page a run
        assert report.findings == []  # a trip split across pages is read whole: no difference
        audited.append(report.trips)
        assert report.cursor is not None
        cursor = Cursor.parse(report.cursor.to_json(), segments=2)
        if report.segment_done and cursor.segment == 0:
            break

    assert cursor == Cursor(2)
    assert len(audited) > 4
    # every trip twice: from TripTable's segment, and from its document's in the search table (other runs here)
    assert sum(audited) == 16


def test_a_cursor_of_another_number_of_segments_starts_over_and_a_foreign_value_is_refused() -> None:
    stored = Cursor(4, 3, Phase.SEARCH_TABLE, {"trip_id": {"S": "trip-009"}}, None)

    assert Cursor.parse(stored.to_json(), segments=4) == stored
    assert Cursor.parse(stored.to_json(), segments=8) == Cursor(8)
    assert Cursor.parse("{}", segments=8) == Cursor(8)
    with pytest.raises(CursorError):
        Cursor.parse('{"segments": 4, "segment": 1, "phase": "sideways"}', segments=4)


def auditor(trips: Trips, *, documents: SearchDocuments | None = None, sleep: Any = lambda _: None) -> DriftAuditor:
    return DriftAuditor(
        TripItems(trips.trip_table.name, boto3.client("dynamodb", region_name=REGION)),
        documents or SearchDocuments(trips.search_table.name, boto3.resource("dynamodb")),
        settle_seconds=0,
        repair=True,
        tombstone_ttl_seconds=TTL,
        sleep=sleep,
    )


def test_a_trip_with_more_items_than_a_page_is_read_whole_once(trips: Trips, monkeypatch: pytest.MonkeyPatch) -> None:
    trips.book("trip-001")
    for number in range(9):  # compensated sagas leave their fences behind
        trips.trip_table.put_item(Item={"PK": "TRIP#trip-001", "SK": f"SAGA#execution-{number}"})
    trips.book("trip-002")
    monkeypatch.setattr(auditor_module, "PAGE_ITEMS", 4)

    report = auditor(trips).audit_segment(Cursor(1), read_budget=1_000)

    assert (report.findings, report.trips, report.segment_done) == ([], 2, True)
