"""The drift audit's pure core: what TripTable says a trip's document should be, how a stored one differs, and when
a difference is drift rather than a change in flight (services.trip.audit)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from services.trip.audit import DriftKind, Look, Verdict, assess, settle
from services.trip.changes import Entity, decode_stream_record
from services.trip.projection import SearchDocument, fold, to_item
from services.trip.schema import TTL_ATTRIBUTE
from tests import factories as f

TRIP = "trip-001"
AT = f.later(600)  # when the audit looks: long after the saga
TTL = 8 * 24 * 3600


def booked() -> list[f.Change]:
    return [
        f.insert(f.flight(TRIP), f.later(0)),
        f.insert(f.hotel(TRIP), f.later(1)),
        f.insert(f.payment(TRIP), f.later(2)),
    ]


def projected(changes: list[f.Change]) -> dict[str, Any]:
    """The search item the consumers write for these changes (one per record, in order)."""
    document = SearchDocument(TRIP)
    for number, change in enumerate(changes):
        record = decode_stream_record(f.stream_record(change, sequence_number=str(1000 + number)))
        assert record is not None
        document = fold(document, [record]).document
        document.revision += 1
    return to_item(document, TTL)


def current_items(changes: list[f.Change]) -> list[dict[str, Any]]:
    """TripTable after these changes, as a Scan returns its items (DynamoDB JSON)."""
    items: dict[str, dict[str, Any]] = {}
    for change in changes:
        key = change.keys["SK"]
        if change.new is None:
            items.pop(key, None)
        else:
            items[key] = change.new
    return [f.to_attribute_values(item) for item in items.values()]


def look(changes: list[f.Change], document: dict[str, Any] | None) -> Look:
    return Look(TRIP, current_items(changes), document)


def test_a_document_the_consumers_wrote_is_in_sync() -> None:
    history = booked()

    assessment = assess(look(history, projected(history)), AT)

    assert assessment.in_sync, assessment.differences


def test_a_trip_whose_bookings_were_removed_and_its_tombstone_are_in_sync() -> None:
    history = booked()
    history += [f.remove(change.new, f.later(10 + n)) for n, change in enumerate(history) if change.new]

    assessment = assess(look(history, projected(history)), AT)

    assert assessment.in_sync, assessment.differences


def test_a_removed_hotel_is_in_sync_and_its_removal_time_counts() -> None:
    history = booked()
    history.append(f.remove(history[1].new or {}, f.later(30)))

    assessment = assess(look(history, projected(history)), AT)

    assert assessment.in_sync, assessment.differences
    assert assessment.expected.updated_at == f.later(30)


def test_a_deleted_document_is_missing() -> None:
    history = booked()

    assessment = assess(look(history, None), AT)

    assert assessment.kind is DriftKind.MISSING
    assert [(d.field, d.live, d.target) for d in assessment.differences] == [("document", "absent", "present")]
    assert assessment.expected.revision == 0  # the repair may only create it


def test_a_document_altered_at_the_same_version_names_the_field() -> None:
    history = booked()
    document = projected(history)
    altered = {**document, "hotel_name": "Hotel Nowhere", "revision": document["revision"] + 1}

    assessment = assess(look(history, altered), AT)

    assert assessment.kind is DriftKind.ALTERED
    assert [(d.field, d.live, d.target) for d in assessment.differences] == [
        ("hotel_name", "Hotel Nowhere", "Grand Hotel Tokyo")
    ]
    assert assessment.expected.revision == altered["revision"]
    assert assessment.expected.fields["hotel_name"] == "Grand Hotel Tokyo"


def test_an_index_key_removed_by_hand_is_drift() -> None:
    history = booked()
    document = projected(history)
    unfindable = {name: value for name, value in document.items() if not name.startswith("hotel_name_")}
    assert len(unfindable) < len(document)

    assessment = assess(look(history, unfindable), AT)

    assert assessment.kind is DriftKind.ALTERED
    assert {d.field for d in assessment.differences} == set(document) - set(unfindable)


def test_a_lost_change_leaves_the_document_behind() -> None:
    history = booked()
    flight = history[0].new or {}
    delayed = f.modify(flight, {**flight, "status": "DELAYED", "version": Decimal(2)}, f.later(20))

    assessment = assess(look([*history, delayed], projected(history)), AT)

    assert assessment.kind is DriftKind.BEHIND
    assert {(d.field, d.live, d.target) for d in assessment.differences} == {
        ("flight_status", "CONFIRMED", "DELAYED"),
        ("versions.FLIGHT", (int(f.T0.timestamp() * 1_000_000), 1), (int(f.T0.timestamp() * 1_000_000), 2)),
        ("updated_at", "2026-03-01T09:02:00Z", "2026-03-01T09:20:00Z"),
        *(
            (name, document_value, expected_value)
            for name, document_value, expected_value in _index_key_changes(history, [*history, delayed])
        ),
    }


def test_a_document_put_back_for_a_removed_trip_is_resurrected_and_repaired_into_a_tombstone() -> None:
    history = booked()
    before_removal = projected(history)
    history += [f.remove(change.new, f.later(10 + n)) for n, change in enumerate(booked()) if change.new]
    tombstone = projected(history)
    put_back = {**before_removal, "revision": tombstone["revision"]}  # restored from an older backup

    assessment = assess(look(history, put_back), AT)

    assert assessment.kind is DriftKind.RESURRECTED
    assert [(d.field, d.live, d.target) for d in assessment.differences] == [("document", "present", "absent")]
    assert assessment.expected.is_tombstone
    assert TTL_ATTRIBUTE in to_item(assessment.expected, TTL)


def test_a_booking_search_shows_but_tripTable_no_longer_has_is_resurrected() -> None:
    history = booked()
    document = projected(history)
    history.append(f.remove(history[2].new or {}, f.later(30)))  # the payment's REMOVE never reached the table

    assessment = assess(look(history, document), AT)

    assert assessment.kind is DriftKind.RESURRECTED
    assert "payment_status" not in assessment.expected.fields
    assert assessment.expected.revisions[Entity.PAYMENT].removed
    assert not assessment.expected.revisions[Entity.FLIGHT].removed


def test_an_item_the_consumers_would_park_is_unreadable_not_drift() -> None:
    history = booked()
    broken = {**(history[0].new or {}), "version": "one"}

    assessment = assess(Look(TRIP, [f.to_attribute_values(broken)], projected(history)), AT)

    assert not assessment.in_sync
    assert assessment.unreadable is not None and "version" in assessment.unreadable
    assert settle(assessment, assessment) is Verdict.UNREADABLE


def test_a_difference_that_persists_while_nothing_moves_is_drift() -> None:
    history = booked()
    first = assess(look(history, None), AT)
    second = assess(look(history, None), AT + timedelta(seconds=60))

    assert settle(first, second) is Verdict.DRIFTED


def test_a_difference_the_consumers_then_projected_is_in_sync() -> None:
    history = booked()
    first = assess(look(history, projected(history[:2])), AT)
    second = assess(look(history, projected(history)), AT + timedelta(seconds=60))

    assert not first.in_sync
    assert settle(first, second) is Verdict.IN_SYNC


def test_a_trip_whose_tripTable_items_moved_between_the_looks_is_in_flight() -> None:
    history = booked()
    flight = history[0].new or {}
    moved = [*history, f.modify(flight, {**flight, "status": "DELAYED", "version": Decimal(2)}, f.later(20))]
    first = assess(look(history, projected(history[:2])), AT)
    second = assess(look(moved, projected(history)), AT + timedelta(seconds=60))

    assert settle(first, second) is Verdict.IN_FLIGHT


def test_a_trip_whose_document_was_written_between_the_looks_is_in_flight() -> None:
    history = booked()
    stale = projected(history[:2])
    first = assess(look(history, stale), AT)
    second = assess(look(history, {**stale, "revision": stale["revision"] + 1}), AT + timedelta(seconds=60))

    assert settle(first, second) is Verdict.IN_FLIGHT


def _index_key_changes(before: list[f.Change], after: list[f.Change]) -> list[tuple[str, Any, Any]]:
    old, new = projected(before), projected(after)
    names = [name for name in new if name.startswith("flight_status_")]
    return [(name, old.get(name), new[name]) for name in names if old.get(name) != new[name]]
