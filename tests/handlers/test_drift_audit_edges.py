"""The drift audit on the data and timing that reach its edges (a review's cases, issue 20 goals 3 and 4): an unsharded
live table, items that break the writer contract, documents edited past reading, the read budget, items without
`updated_at`, the longest trip ids, a repair's rank among the streams' copies, a document without its revision."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from services.trip import auditor as auditor_module
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.adapters.trip_items import TripItems
from services.trip.audit import DriftKind, Verdict
from services.trip.auditor import Cursor, DriftAuditor
from services.trip.changes import decode_stream_record
from services.trip.projector import Projector
from services.trip.schema import Layout
from tests import factories as f
from tests.conftest import REGION, create_search_table

TTL = 8 * 24 * 3600


def auditor(trip_table: Any, documents: SearchDocuments, **options: Any) -> DriftAuditor:
    return DriftAuditor(
        TripItems(trip_table.name, boto3.client("dynamodb", region_name=REGION)),
        documents,
        settle_seconds=0,
        repair=options.pop("repair", True),
        tombstone_ttl_seconds=TTL,
        sleep=options.pop("sleep", lambda _: None),
    )


def book(
    trip_table: Any, projector: Projector, trip_id: str, minute: int = 0, sequence: list[int] | None = None
) -> None:
    """A trip booked and projected by the consumers (DynamoDB Streams records, in order)."""
    counter = sequence if sequence is not None else [1000]
    for offset, item in enumerate((f.flight(trip_id), f.hotel(trip_id), f.payment(trip_id))):
        change = f.insert(item, f.later(minute + offset))
        trip_table.put_item(Item=change.new)
        counter[0] += 1
        record = decode_stream_record(f.stream_record(change, sequence_number=str(counter[0])))
        assert record is not None
        projector.project([record])


def test_an_unsharded_live_table_the_consumers_kept_in_sync_shows_no_drift(trip_table: Any, aws: None) -> None:
    """docs/operations.md: a stack may keep the unsharded layout (`searchTableLayout=unsharded`), and the handler
    audits the live table with its layout (`tables.layout_of(table)`). A table the consumers wrote must be in sync:
    no false drift, and no repair that is undone and redone on every pass."""
    table = create_search_table(boto3.resource("dynamodb", region_name=REGION), "Unsharded", layout=Layout.UNSHARDED)
    documents = SearchDocuments(table.name, boto3.resource("dynamodb"), layout=Layout.UNSHARDED)
    projector = Projector(documents, TTL)
    sequence = [1000]
    for number in range(1, 4):
        book(trip_table, projector, f"trip-{number:03d}", minute=number, sequence=sequence)

    report = auditor(trip_table, documents).audit_segment(Cursor(1), read_budget=1_000)

    assert report.trips == 3
    assert [(finding.trip_id, finding.verdict, finding.kind) for finding in report.findings] == []


def _refuse_empty_keys(params: dict[str, Any], **_: Any) -> None:
    """What DynamoDB answers a BatchGetItem naming a key of "" (moto answers GetItem so, BatchGetItem not)."""
    for request in params.get("RequestItems", {}).values():
        for key in request.get("Keys", []):
            if any(value in ("", {"S": ""}) for value in key.values()):
                raise ClientError(
                    {
                        "Error": {
                            "Code": "ValidationException",
                            "Message": "One or more parameter values are not valid. The AttributeValue for a key "
                            "attribute cannot contain an empty string value. Key: trip_id",
                        }
                    },
                    "BatchGetItem",
                )


@pytest.fixture
def consumers(trip_table: Any, search_table: Any) -> tuple[SearchDocuments, Projector]:
    documents = SearchDocuments(search_table.name, boto3.resource("dynamodb"))
    return documents, Projector(documents, TTL)


def test_an_item_under_a_trip_key_naming_no_trip_is_unreadable_and_does_not_stop_the_audit(
    trip_table: Any, search_table: Any, consumers: tuple[SearchDocuments, Projector]
) -> None:
    """docs/drift-audit.md: a TripTable item that breaks the writer contract is reported `unreadable`, not drifted.
    `PK = "TRIP#"` names no trip (the consumers park it: `PoisonRecord("PK 'TRIP#' names no trip")`). The run must
    still audit the segment's other trips and move its cursor on; a run that fails here fails the same way on every
    later run, and the rest of the table is never audited again."""
    _, projector = consumers
    book(trip_table, projector, "trip-001")
    trip_table.put_item(Item={**f.flight("trip-002"), "PK": "TRIP#"})
    resource = boto3.resource("dynamodb")
    documents = SearchDocuments(search_table.name, resource)
    resource.meta.client.meta.events.register("before-parameter-build.dynamodb.BatchGetItem", _refuse_empty_keys)

    report = auditor(trip_table, documents).audit_segment(Cursor(1), read_budget=1_000)

    assert report.segment_done
    assert [(finding.trip_id, finding.verdict) for finding in report.findings] == [("", Verdict.UNREADABLE)]


@pytest.mark.parametrize(
    "edit",
    [
        {"versions": "edited by hand"},
        {"versions": ["FLIGHT", "HOTEL"]},
        {"versions": {"FLIGHT": {"version": 1}}},
    ],
    ids=["versions-a-string", "versions-a-list", "a-version-without-its-fields"],
)
def test_a_document_edited_past_reading_is_drift_not_a_failed_run(
    trip_table: Any, search_table: Any, consumers: tuple[SearchDocuments, Projector], edit: dict[str, Any]
) -> None:
    """docs/drift-audit.md: "a search document edited [...] by hand" is what the audit is for, and `audit._stored`
    means to take a document "edited past reading". Such a document must be reported drifted and repaired, not make
    every run over its segment fail (the cursor stays, so the audit never gets past it)."""
    documents, projector = consumers
    book(trip_table, projector, "trip-001")
    book(trip_table, projector, "trip-002", minute=5)
    document = search_table.get_item(Key={"trip_id": "trip-002"})["Item"]
    search_table.put_item(Item={**document, **edit})

    report = auditor(trip_table, documents).audit_segment(Cursor(1), read_budget=1_000)

    assert report.segment_done
    assert [(finding.trip_id, finding.verdict) for finding in report.findings] == [("trip-002", Verdict.DRIFTED)]
    assert search_table.get_item(Key={"trip_id": "trip-002"})["Item"]["hotel_name"] == "Grand Hotel Tokyo"


def test_a_document_whose_revision_was_edited_to_text_is_reported_not_a_failed_run(
    trip_table: Any, search_table: Any, consumers: tuple[SearchDocuments, Projector]
) -> None:
    """The same for `revision` edited to a String: `audit._stored`'s fallback itself calls int() on it."""
    documents, projector = consumers
    book(trip_table, projector, "trip-001")
    book(trip_table, projector, "trip-002", minute=5)
    document = search_table.get_item(Key={"trip_id": "trip-002"})["Item"]
    search_table.put_item(Item={**document, "revision": "seven", "hotel_name": "Hotel Nowhere"})

    report = auditor(trip_table, documents, repair=False).audit_segment(Cursor(1), read_budget=1_000)

    assert report.segment_done
    assert [(finding.trip_id, finding.verdict) for finding in report.findings] == [("trip-002", Verdict.DRIFTED)]


def test_a_run_reserves_the_second_looks_of_the_trips_that_differ_against_its_budget(
    trip_table: Any,
    search_table: Any,
    consumers: tuple[SearchDocuments, Projector],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A projection bug leaves the same field wrong on many trips: each will be read again (about 2 read units), so
    a run stops reading pages once what it read and those second looks reach its budget, one page over at most."""
    monkeypatch.setattr(auditor_module, "PAGE_ITEMS", 4)
    documents, projector = consumers
    for number in range(1, 13):
        book(trip_table, projector, f"trip-{number:03d}", minute=number)
    for item in search_table.scan()["Items"]:
        search_table.put_item(Item={**item, "hotel_name": "Hotel Nowhere"})

    report = auditor(trip_table, documents, repair=False).audit_segment(Cursor(1), read_budget=10)

    # the first page: 4 trips, about 2.8 read units, and 4 second looks reserved (8): 10.8, no second page
    assert (report.trips, report.segment_done, len(report.drifted)) == (4, False, 4)
    assert report.read_units <= 10 + 4 * auditor_module.SECOND_LOOK_UNITS


def test_a_trip_whose_items_carry_no_updated_at_is_in_sync_on_every_pass(
    trip_table: Any, search_table: Any, consumers: tuple[SearchDocuments, Projector]
) -> None:
    """An item without `updated_at` is projected (the consumers take the stream's time as its change's time; the
    writer contract parks only a malformed one). TripTable does not say when it changed, so the audit cannot call the
    document's `updated_at` wrong: it takes the time of its own look (`scanned_at`) instead, reports the trip drifted
    (`altered`, `updated_at`) on every pass, and "repairs" it to the audit's clock each time."""
    documents, projector = consumers
    sequence = 1000
    for offset, item in enumerate((f.flight("trip-001"), f.hotel("trip-001"), f.payment("trip-001"))):
        change = f.insert(item, f.later(offset))
        assert change.new is not None
        del change.new["updated_at"]
        trip_table.put_item(Item=change.new)
        sequence += 1
        record = decode_stream_record(f.stream_record(change, sequence_number=str(sequence)))
        assert record is not None
        projector.project([record])
    assert "updated_at" in search_table.get_item(Key={"trip_id": "trip-001"})["Item"]

    passes = []
    for _ in range(2):  # the next pass looks in a later second
        passes.append(auditor(trip_table, documents).audit_segment(Cursor(1), read_budget=1_000))
        time.sleep(1.1)

    assert [[(finding.verdict, finding.kind) for finding in report.findings] for report in passes] == [[], []]


def test_the_cursor_of_a_run_stopped_at_a_trip_of_the_longest_id_fits_its_parameter(
    trip_table: Any, consumers: tuple[SearchDocuments, Projector], monkeypatch: pytest.MonkeyPatch
) -> None:
    """adapters/audit_cursor.py: the cursor is kept in a Standard SSM parameter, which holds 4 KB (4,096
    characters). A trip id may have 128 characters of any script (trip_ids.py), 512 UTF-8 bytes; a run stopped by
    its budget in the middle of such a trip stores its scan key (PK and SK) and `read_whole`, each with the id, and
    `json.dumps` writes each character outside the BMP as a 12-character surrogate-pair escape. PutParameter then
    refuses the value: the run fails after its work, the cursor stays, and every later run fails at the same page."""
    documents, projector = consumers
    trip_id = "\U00020000" * 128  # CJK Extension B: a letter (trip_ids.check_trip_id accepts it)
    book(trip_table, projector, trip_id)
    monkeypatch.setattr(auditor_module, "PAGE_ITEMS", 2)  # the trip's 3 items straddle the first page

    report = auditor(trip_table, documents).audit_segment(Cursor(1), read_budget=1)

    assert report.cursor is not None and report.cursor.read_whole == trip_id  # stopped inside the trip
    assert len(report.cursor.to_json()) <= 4096


def test_a_repaired_document_still_ranks_above_the_changes_it_had_projected(
    trip_table: Any, search_table: Any, consumers: tuple[SearchDocuments, Projector]
) -> None:
    """docs/drift-audit.md: a repair "never overwrites a newer change", and the projection converges whatever the
    duplication of the streams (a Kinesis duplicate, a DLQ redrive). The repair writes TripTable's items folded into
    an empty document, as a table scan ranks them (observed 0, no marks), over a document that had already ranked its
    entities by the streams' seconds. WRITER-CONTRACT.md supports an item deleted and put back exactly as exported
    in a later second; after a repair of that trip (its document altered by hand), a late copy of the removal, stale
    before, now ranks above the repaired hotel and removes it from search although TripTable holds it."""
    documents, projector = consumers
    flight, hotel, payment = f.flight("trip-001"), f.hotel("trip-001"), f.payment("trip-001")
    booked = [f.insert(item, f.later(offset)) for offset, item in enumerate((flight, hotel, payment))]
    exported = booked[1].new
    assert exported is not None
    removal = f.remove(exported, f.later(10))
    put_back = f.Change("INSERT", exported, None, f.later(20))  # exactly as exported, in a later second
    records = []
    for number, change in enumerate([*booked, removal, put_back]):
        if change.new is not None:
            trip_table.put_item(Item=change.new)
        else:
            trip_table.delete_item(Key=change.keys)
        record = decode_stream_record(f.stream_record(change, sequence_number=str(2000 + number)))
        assert record is not None
        records.append(record)
        projector.project([record])
    late_removal = records[3]
    projector.project([late_removal])  # a duplicate of the removal before any repair: stale
    assert search_table.get_item(Key={"trip_id": "trip-001"})["Item"]["hotel_name"] == "Grand Hotel Tokyo"
    document = search_table.get_item(Key={"trip_id": "trip-001"})["Item"]
    search_table.put_item(Item={**document, "hotel_name": "Hotel Nowhere"})  # edited by hand

    report = auditor(trip_table, documents).audit_segment(Cursor(1), read_budget=1_000)
    projector.project([late_removal])  # the same duplicate again, after the repair

    assert [(finding.verdict, finding.repaired) for finding in report.findings] == [(Verdict.DRIFTED, True)]
    assert search_table.get_item(Key={"trip_id": "trip-001"})["Item"].get("hotel_name") == "Grand Hotel Tokyo"


def test_a_document_whose_revision_was_removed_by_hand_is_reported_and_repaired(
    trip_table: Any, search_table: Any, consumers: tuple[SearchDocuments, Projector]
) -> None:
    """A document edited by hand without its `revision` (a console edit that rewrote the item) reads as revision 0,
    so the repair is conditioned on there being no document at all: it fails against the document it means to
    repair, and the audit reports the trip "in flight: written by the consumers while repairing" on every pass.
    The drift is never counted (DriftedTrips stays 0, no alarm) and never repaired."""
    documents, projector = consumers
    book(trip_table, projector, "trip-001")
    document = search_table.get_item(Key={"trip_id": "trip-001"})["Item"]
    edited = {name: value for name, value in document.items() if name != "revision"}
    search_table.put_item(Item={**edited, "hotel_name": "Hotel Nowhere"})

    report = auditor(trip_table, documents).audit_segment(Cursor(1), read_budget=1_000)

    assert [(finding.verdict, finding.kind, finding.repaired) for finding in report.findings] == [
        (Verdict.DRIFTED, DriftKind.ALTERED, True)
    ]
    assert search_table.get_item(Key={"trip_id": "trip-001"})["Item"]["hotel_name"] == "Grand Hotel Tokyo"


def test_a_resurrected_document_edited_past_reading_is_repaired_once_and_for_all(
    trip_table: Any, search_table: Any, consumers: tuple[SearchDocuments, Projector]
) -> None:
    """A document shown for a trip TripTable has no items of, whose `versions` the projection cannot read (an entity
    of no known name): the repair folds nothing into an empty document and writes it, without bookings and so
    without `expires_at`. That item still shows the trip (search_view: present), so every pass reports it
    resurrected and "repairs" it again, and the item never expires."""
    documents, projector = consumers
    book(trip_table, projector, "trip-001")
    document = search_table.get_item(Key={"trip_id": "trip-001"})["Item"]
    for item in trip_table.scan()["Items"]:
        trip_table.delete_item(Key={"PK": item["PK"], "SK": item["SK"]})
    versions = {"LOUNGE" if name == "FLIGHT" else name: value for name, value in document["versions"].items()}
    search_table.put_item(Item={**document, "versions": versions})  # put back by hand, edited

    passes = [auditor(trip_table, documents).audit_segment(Cursor(1), read_budget=1_000) for _ in range(2)]

    assert [(finding.verdict, finding.kind, finding.repaired) for finding in passes[0].findings] == [
        (Verdict.DRIFTED, DriftKind.RESURRECTED, True)
    ]
    assert passes[1].findings == []
