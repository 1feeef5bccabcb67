"""The pure fold: order, duplicates, removals and re-creation converge on the in-order document."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

from services.trip.changes import (
    TABLE_SCAN,
    Entity,
    Source,
    SourcePosition,
    TripChange,
    decode_kinesis_payload,
    decode_stream_record,
)
from services.trip.projection import (
    PROJECTION_VERSION,
    EntityRevision,
    Finding,
    Outcome,
    SearchDocument,
    content,
    fold,
    from_item,
    to_item,
)
from services.trip.schema import HOTEL_NAME_INDEX, SEARCH_INDEXES, trip_shard
from tests import factories as f

TTL = 8 * 24 * 3600


def change(record_change: f.Change) -> TripChange:
    decoded = decode_stream_record(f.stream_record(record_change))
    assert decoded is not None
    return decoded


def kinesis_change(record_change: f.Change, precision: str = "MICROSECOND") -> TripChange:
    data = json.dumps(f.kinesis_payload(record_change, precision)).encode()
    decoded = decode_kinesis_payload(data, SourcePosition(Source.KINESIS, None, "shardId-000000000000", "1"))
    assert decoded is not None
    return decoded


def project(*changes: TripChange, document: SearchDocument | None = None) -> SearchDocument:
    return fold(document or SearchDocument("trip-001"), changes).document


def public(document: SearchDocument) -> dict:
    item = to_item(document, TTL)
    keys = {key for index in SEARCH_INDEXES for key in (index.partition, index.sort)}
    return {k: v for k, v in item.items() if k not in {"versions", "revision", "projection_version", *keys}}


SAGA = [
    change(f.insert(f.flight("trip-001"), at=f.later(0))),
    change(f.insert(f.hotel("trip-001"), at=f.later(1))),
    change(f.insert(f.payment("trip-001"), at=f.later(2))),
]


def test_a_completed_saga_gives_the_seed_document() -> None:
    document = project(*SAGA)

    assert public(document) == {"trip_id": "trip-001", **f.SEED_72_FIELDS, "updated_at": "2026-03-01T09:02:00Z"}


def test_the_document_is_keyed_in_each_index_by_its_trip_shard_and_order_key() -> None:
    item = to_item(project(*SAGA), TTL)

    shard = trip_shard("trip-001")
    assert shard == 40  # SHA-256 of the id, as every release computes it
    assert {name: item[name] for name in ("flight_status_shard", "departure_order")} == {
        "flight_status_shard": "CONFIRMED#040",
        "departure_order": "2026-03-15T10:00:00\x00trip-001",
    }
    assert {name: item[name] for name in ("hotel_name_shard", "hotel_name_order")} == {
        "hotel_name_shard": "g#040",
        "hotel_name_order": "grand hotel tokyo\x00trip-001",
    }


def test_every_document_records_the_projection_version_that_wrote_it() -> None:
    assert to_item(project(*SAGA), TTL)["projection_version"] == PROJECTION_VERSION == 2


def test_stale_change_is_ignored() -> None:
    confirmed = change(f.insert(f.flight("trip-001"), at=f.later(0)))
    cancelled = change(f.modify(f.flight("trip-001"), f.flight("trip-001", 2, "CANCELLED"), at=f.later(5)))
    current = project(cancelled)

    result = fold(current, [confirmed])

    assert result.outcomes == ((confirmed, Outcome.STALE),)
    assert not result.changed
    assert result.document.fields["flight_status"] == "CANCELLED"


def test_duplicate_change_is_ignored() -> None:
    confirmed = change(f.insert(f.flight("trip-001")))

    result = fold(project(confirmed), [confirmed])

    assert result.outcomes == ((confirmed, Outcome.STALE),)


def test_changes_of_one_entity_in_one_fold_coalesce_into_the_newest() -> None:
    v1 = change(f.insert(f.flight("trip-001")))
    v2 = change(f.modify(f.flight("trip-001"), f.flight("trip-001", 2, flight_number="NH002"), at=f.later(1)))
    v3 = change(f.modify(f.flight("trip-001", 2), f.flight("trip-001", 3, "CANCELLED"), at=f.later(2)))

    result = fold(SearchDocument("trip-001"), [v3, v1, v2, v3])

    assert [outcome for _, outcome in result.outcomes] == [
        Outcome.APPLIED,
        Outcome.COALESCED,
        Outcome.COALESCED,
        Outcome.STALE,
    ]
    assert result.document.fields["flight_status"] == "CANCELLED"
    assert result.document.fields["flight_number"] == "NH001"


def test_remove_clears_only_that_entity_and_leaves_a_tombstone() -> None:
    removal = change(f.remove(f.hotel("trip-001"), at=f.later(9)))

    document = project(*SAGA, removal)

    assert "hotel_name" not in document.fields and "hotel_status" not in document.fields
    assert document.fields["flight_status"] == "CONFIRMED"
    assert document.fields["payment_status"] == "COMPLETED"
    assert HOTEL_NAME_INDEX.sort not in to_item(document, TTL)  # out of the hotel-name index
    assert not document.is_tombstone


def test_a_late_older_change_cannot_bring_back_a_removed_entity() -> None:
    removal = change(f.remove(f.hotel("trip-001"), at=f.later(9)))
    late_insert = SAGA[1]

    result = fold(project(*SAGA, removal), [late_insert])

    assert result.outcomes == ((late_insert, Outcome.STALE),)
    assert "hotel_name" not in result.document.fields


def test_a_trip_with_no_entity_left_is_a_tombstone_that_expires() -> None:
    removals = [change(f.remove(entity("trip-001"), at=f.later(10))) for entity in (f.flight, f.hotel, f.payment)]

    document = project(*SAGA, *removals)

    item = to_item(document, TTL)
    assert document.is_tombstone
    assert {k for k in item if k not in {"versions", "revision", "projection_version"}} == {
        "trip_id",
        "updated_at",
        "expires_at",
    }
    assert item["expires_at"] == int(f.later(10).timestamp()) + TTL


def test_a_recreated_item_orders_after_the_removed_one() -> None:
    removal = change(f.remove(f.hotel("trip-001", version=3), at=f.later(9)))
    recreated = change(
        f.insert(f.hotel("trip-001", 1, hotel_name="Hotel Okura", created_at=f.later(10)), at=f.later(10))
    )

    forward = project(*SAGA, removal, recreated)
    backward = project(recreated, removal, *SAGA)

    assert forward.fields["hotel_name"] == backward.fields["hotel_name"] == "Hotel Okura"
    assert to_item(forward, TTL) == to_item(backward, TTL)


def test_updated_at_is_the_latest_change_in_whole_seconds_whatever_the_order() -> None:
    first, second, third = SAGA

    assert project(third, first, second).updated_at == project(first, second, third).updated_at == f.later(2)


def test_an_item_round_trips_through_the_table_shape() -> None:
    removal = change(f.remove(f.hotel("trip-001"), at=f.later(9)))
    document = project(*SAGA, removal)
    document.revision = 4

    assert from_item(to_item(document, TTL)) == document


def test_an_empty_string_attribute_is_left_out_of_the_document() -> None:
    document = project(change(f.insert(f.flight("trip-001", departure_time=""))))

    assert "departure_time" not in document.fields


def test_an_item_put_back_unchanged_after_its_delete_reappears_whatever_the_order() -> None:
    hotel = f.written(f.hotel("trip-001"), f.later(1))
    history = [
        change(f.Change("INSERT", hotel, None, f.later(1))),
        change(f.remove(hotel, at=f.later(5))),
        change(f.Change("INSERT", hotel, None, f.later(9))),  # the export put back: same version and created_at
    ]

    for order in itertools.permutations(history):
        document = project(*order)

        assert document.fields["hotel_name"] == "Grand Hotel Tokyo"
        assert document.revisions[Entity.HOTEL].observed == int(f.later(9).timestamp())


def test_a_put_back_after_its_removal_in_the_same_second_is_ordered_by_the_source() -> None:
    hotel = f.written(f.hotel("trip-001"), f.T0)
    removal = change(f.remove(hotel, at=f.T0 + timedelta(milliseconds=400)))
    write = change(f.Change("INSERT", hotel, None, f.T0 + timedelta(milliseconds=800)))

    write_late = fold(project(removal), [write])
    removal_late = fold(project(write), [removal])

    # the Streams SequenceNumbers say the write came after the removal: an identical put-back
    assert (write_late.outcomes, write_late.findings) == (((write, Outcome.APPLIED),), {})
    assert (removal_late.outcomes, removal_late.findings) == (((removal, Outcome.STALE),), {})
    assert write_late.document == removal_late.document
    assert write_late.document.fields["hotel_name"] == "Grand Hotel Tokyo"


def test_an_older_version_put_back_in_the_second_of_the_removal_is_rejected_by_the_source_order() -> None:
    v1 = f.written(f.hotel("trip-001"), f.T0)
    v2 = f.written(f.hotel("trip-001", 2, "CANCELLED"), f.T0 + timedelta(milliseconds=200))
    removal = change(f.remove(v2, at=f.T0 + timedelta(milliseconds=400)))
    put_back = change(f.Change("INSERT", v1, None, f.T0 + timedelta(milliseconds=600)))

    result = fold(project(removal), [put_back])

    assert (result.outcomes, result.findings) == (((put_back, Outcome.REJECTED),), {})


def test_a_put_back_each_source_delivered_last_stays_shown_when_the_other_copies_arrive_in_later_batches() -> None:
    # hypothesis's counterexample (1 ms ticks, both sources): a payment written at .024, removed at .025 and put back
    # as it was at .026; each batch is folded onto the document as stored, which is written only if the fold changed
    # it (the projector). A copy that only advances its source's mark must be written, or a later batch ranks that
    # source's older removal above the write it already delivered, and the put-back stays removed, silently.
    created = f.T0 + timedelta(milliseconds=24)
    payment = f.written(f.payment("trip-001", 1, "CONFIRMED", created_at=created), created)
    history = [
        f.insert(payment, created),
        f.remove(payment, created + timedelta(milliseconds=1)),
        f.Change("INSERT", payment, None, created + timedelta(milliseconds=2)),  # put back: same version and times
    ]
    s_insert, s_removal, s_put_back = (change(c) for c in history)
    k_insert, k_removal, k_put_back = (kinesis_change(c) for c in history)
    stored = SearchDocument("trip-001")
    seen = []
    for batch in ([k_insert], [s_put_back], [s_insert, s_removal], [k_put_back], [k_removal]):
        folded = fold(stored, batch)
        seen.append(([outcome for _, outcome in folded.outcomes], folded.changed, folded.findings))
        if folded.changed:
            stored = from_item(to_item(folded.document, TTL))

    assert seen == [
        ([Outcome.APPLIED], True, {}),
        ([Outcome.STALE], True, {}),  # shown already; the Streams mark of the put-back is written
        ([Outcome.STALE, Outcome.STALE], False, {}),  # below that mark: the Streams order says they came before it
        ([Outcome.STALE], True, {}),  # the Kinesis mark advances to the put-back
        ([Outcome.STALE], False, {}),
    ]
    revision = stored.revisions[Entity.PAYMENT]
    assert not revision.removed
    assert revision.marks == tuple(sorted([*EntityRevision.of(s_put_back).marks, *EntityRevision.of(k_put_back).marks]))
    assert stored.fields == {"total_amount": 80000, "currency": "JPY", "payment_status": "CONFIRMED"}
    assert content(to_item(stored, TTL)) == content(to_item(project(s_insert, s_removal, s_put_back), TTL))


def test_a_write_and_its_removal_in_one_millisecond_of_a_millisecond_kinesis_copy_are_ambiguous() -> None:
    # ApproximateCreationDateTimePrecision MILLISECOND: both copies carry 09:00:00.300, so Kinesis cannot order them
    hotel = f.written(f.hotel("trip-001"), f.T0)
    write = kinesis_change(f.Change("INSERT", hotel, None, f.T0 + timedelta(microseconds=300_100)), "MILLISECOND")
    removal = kinesis_change(f.remove(hotel, at=f.T0 + timedelta(microseconds=300_600)), "MILLISECOND")

    write_late = fold(project(removal), [write])
    removal_late = fold(project(write), [removal])

    assert (write_late.outcomes, write_late.findings) == (((write, Outcome.STALE),), {0: Finding.AMBIGUOUS})
    assert (removal_late.outcomes, removal_late.findings) == (((removal, Outcome.APPLIED),), {0: Finding.AMBIGUOUS})
    assert write_late.document == removal_late.document
    assert "hotel_name" not in write_late.document.fields  # the removal wins in either order: nothing is resurrected


def test_a_different_write_under_a_removal_stored_without_marks_is_ambiguous() -> None:
    # a document written before marks were kept: its removal cannot be ordered against a write of its second
    hotel = f.written(f.hotel("trip-001"), f.T0)
    put_back = f.written(f.hotel("trip-001"), f.T0 + timedelta(milliseconds=600))  # another export: other updated_at
    item = to_item(project(change(f.remove(hotel, at=f.T0 + timedelta(milliseconds=300)))), TTL)
    del item["versions"]["HOTEL"]["marks"]
    late_copy = change(f.Change("INSERT", hotel, None, f.T0))
    other_write = change(f.Change("INSERT", put_back, None, f.T0 + timedelta(milliseconds=600)))

    assert fold(from_item(item), [late_copy]).findings == {}  # the item the removal removed: a late copy of it
    result = fold(from_item(item), [other_write])
    assert (result.outcomes, result.findings) == (((other_write, Outcome.STALE),), {0: Finding.AMBIGUOUS})
    assert "hotel_name" not in result.document.fields


def test_a_write_and_its_removal_a_second_apart_are_not_ambiguous() -> None:
    hotel = f.written(f.hotel("trip-001"), f.T0)
    write, removal = (
        change(f.Change("INSERT", hotel, None, f.T0)),
        change(f.remove(hotel, at=f.later(0) + timedelta(seconds=1))),
    )

    assert fold(project(removal), [write]).findings == fold(project(write), [removal]).findings == {}


def test_an_older_version_seen_after_a_newer_one_is_rejected_with_the_versions() -> None:
    v1 = f.written(f.hotel("trip-001"), f.later(1))
    v2 = f.written(f.hotel("trip-001", 2, "CANCELLED"), f.later(2))
    removal = change(f.remove(v2, at=f.later(3)))
    put_back_v1 = change(f.Change("INSERT", v1, None, f.later(9)))

    result = fold(project(removal), [put_back_v1])

    assert result.outcomes == ((put_back_v1, Outcome.REJECTED),)
    assert result.reasons == {
        0: "HOTEL INSERT of version 1 (created_at 2026-03-01T09:00:00+00:00) seen after the removal of version 2 "
        "(created_at 2026-03-01T09:00:00+00:00): the item went back to an older version; writer contract: write it "
        "with a version above 2"
    }
    assert not result.changed


def test_an_item_put_back_below_its_version_is_reported_whichever_arrives_first() -> None:
    # truth: v2 at 09:02, its removal at 09:03, the export of v1 put back at 09:09 (TripTable shows v1)
    v1 = f.written(f.hotel("trip-001"), f.later(1))
    v2 = f.written(f.hotel("trip-001", 2, "CANCELLED"), f.later(2))
    v2_written, removal = change(f.Change("MODIFY", v2, v1, f.later(2))), change(f.remove(v2, at=f.later(3)))
    put_back = change(f.Change("INSERT", v1, None, f.later(9)))

    put_back_last = fold(project(v2_written, removal), [put_back])
    put_back_first = fold(project(put_back), [v2_written, removal])

    assert (put_back_last.outcomes, put_back_last.findings) == (((put_back, Outcome.REJECTED),), {})
    assert put_back_first.outcomes == ((v2_written, Outcome.COALESCED), (removal, Outcome.APPLIED))
    assert put_back_first.findings == {0: Finding.WENT_BACK}
    assert put_back_first.document == put_back_last.document  # the same document whatever the order: removed
    assert "hotel_name" not in put_back_first.document.fields


def test_a_stored_removal_without_observed_was_observed_at_its_changed_at() -> None:
    item = to_item(project(change(f.remove(f.hotel("trip-001"), at=f.later(9)))), TTL)
    del item["versions"]["HOTEL"]["observed"]

    assert from_item(item).revisions[Entity.HOTEL].observed == int(f.later(9).timestamp())


def test_a_stored_write_without_observed_ranks_below_any_copy_of_it() -> None:
    write = change(f.insert(f.hotel("trip-001"), at=f.later(1)))
    item = to_item(project(write), TTL)
    del item["versions"]["HOTEL"]["observed"]

    result = fold(from_item(item), [write, change(f.remove(f.hotel("trip-001"), at=f.later(2)))])

    assert [outcome for _, outcome in result.outcomes] == [Outcome.COALESCED, Outcome.APPLIED]
    assert result.document.revisions[Entity.HOTEL].removed


def test_a_scanned_item_ranks_below_the_removal_the_stream_delivered_after_the_scan_read_it() -> None:
    # the operator's clock is 1.5 s ahead: the scan's own time is later than the removal's second
    hotel = f.written(f.hotel("trip-001"), f.T0)
    scanned = change(f.Change("INSERT", hotel, None, f.T0 + timedelta(seconds=1.5)))._replace(
        position=SourcePosition(Source.DYNAMODB_STREAMS, None, TABLE_SCAN, "TRIP#trip-001/HOTEL#hotel_for_trip-001")
    )
    removal = change(f.remove(hotel, at=f.T0 + timedelta(milliseconds=200)))

    for order in ([scanned, removal], [removal, scanned]):
        document = project(*order)

        assert "hotel_name" not in document.fields
        assert document.is_tombstone
