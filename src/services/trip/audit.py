"""Drift between a search table and TripTable, one trip at a time: what the trip's document should be, whether the
table holds it, and, over two looks, whether a difference is drift or a change still in flight (docs/drift-audit.md).

The expected document is the projection's own: TripTable's current items folded (`projection.fold`, as a table scan
folds them: `table_items`) into an empty document, with every entity the stored document knows but TripTable no
longer holds folded in as removed at the stored revision's coordinates (TripTable keeps no removal: only the
document knows when one happened). It carries the stored document's `revision`, so writing it (`SearchDocuments.save`)
is conditioned on the document the audit read: a change the consumers wrote meanwhile is never overwritten.

What is compared is what search shows (`search_views.search_view`: public fields, each live entity's (generation,
version), a tombstone as absent) and the index keys a search finds the trip by. Bookkeeping (`revision`, each
source's marks, the observed second) differs by design between a document written change by change and one
re-projected from TripTable.

In flight or drift (`settle`): a difference first seen at one look is read again after a settle time longer than the
pipeline's latency. It is drift only if it is still there and neither TripTable's items nor the document moved in
between: TripTable at the first look held the change, so the consumers had the settle time to project it. A trip
that moved is in flight, looked at again on a later pass. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from services.trip.changes import ChangeKind, Entity, PoisonRecord, Source, SourcePosition, TripChange
from services.trip.projection import REVISION, VERSIONS, EntityRevision, SearchDocument, fold, from_item, to_item
from services.trip.schema import HOTEL_NAME_INDEX, SEARCH_INDEXES, TRIP_SK, UNSHARDED_INDEXES, Layout
from services.trip.search_views import Difference, TripView, compare, search_view
from services.trip.table_items import decode_table_item

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The shard a removal the audit infers names: not TABLE_SCAN (that would rank it below the write it removes), and no
# sequence number, so it carries no source's mark.
INFERRED_REMOVAL = "audit"
# The attributes a search finds a document by beside its fields, per layout of the table (schema.Layout): the
# unsharded flight-status index is keyed on the document's own fields.
INDEX_KEYS: Mapping[Layout, tuple[str, ...]] = {
    Layout.SHARDED: tuple(name for index in SEARCH_INDEXES for name in (index.partition, index.sort)),
    Layout.UNSHARDED: (UNSHARDED_INDEXES[HOTEL_NAME_INDEX].partition, UNSHARDED_INDEXES[HOTEL_NAME_INDEX].sort),
}
DOCUMENT = "document"  # the Difference.field of a trip one side does not show at all
UNREADABLE_DOCUMENT = "edited past reading"
UPDATED_AT = "updated_at"  # what a document whose bookkeeping no reader can take shows


class Verdict(StrEnum):
    IN_SYNC = "in-sync"  # the table shows what TripTable says
    IN_FLIGHT = "in-flight"  # it differed, but TripTable or the document moved between the looks: a change on its way
    DRIFTED = "drifted"  # it still differs after the settle time, and nothing moved
    UNREADABLE = "unreadable"  # an item of the trip breaks the writer contract: the consumers parked it (DLQ)


class DriftKind(StrEnum):
    """What a difference looks like, for the logs and the operator (the differences themselves say field by field)."""

    MISSING = "missing"  # TripTable has the trip, search shows nothing (document deleted, or a tombstone over it)
    RESURRECTED = "resurrected"  # search shows a trip, or a booking of one, that TripTable no longer has
    BEHIND = "behind"  # a booking at an older version than TripTable's (a change lost: a DLQ message dropped)
    AHEAD = "ahead"  # a booking at a newer version than TripTable's (TripTable restored from an older backup)
    ALTERED = "altered"  # the same versions, other field values (a document edited behind the projection's back)


@dataclass(frozen=True)
class Look:
    """One read of a trip: its TripTable items (DynamoDB JSON, as a Scan or Query returns them) and its search table
    item (Python values, numbers as Decimal), None when the table has none."""

    trip_id: str
    items: Sequence[Mapping[str, Any]]
    document: Mapping[str, Any] | None
    layout: Layout = Layout.SHARDED  # the search table's: which index keys the document must carry


@dataclass(frozen=True)
class Assessment:
    trip_id: str
    expected: SearchDocument  # what TripTable says, with the stored document's revision (the repair's write gate)
    differences: tuple[Difference, ...] = ()  # Difference.live: the search table's; .target: TripTable's
    kind: DriftKind | None = None
    unreadable: str | None = None  # why TripTable's items cannot be projected
    # What the two looks compare to tell a move: TripTable's items (sort key, version, created_at, updated_at as
    # stored) and the document's write counter (0: no document).
    table_state: frozenset[tuple[str, ...]] = field(default_factory=frozenset)
    document_revision: int = 0

    @property
    def in_sync(self) -> bool:
        return not self.differences and self.unreadable is None


def assess(look: Look, at: datetime) -> Assessment:
    """Compare the trip's document with what its TripTable items say, as of `at` (the time of the look: what a table
    item's change is seen at, as a scan sees it)."""
    stored = _stored(look)
    state = frozenset(_item_state(item) for item in look.items)
    revision = stored.revision
    try:
        expected = expected_document(look.trip_id, look.items, stored, at)
    except PoisonRecord as poison:
        return Assessment(look.trip_id, stored, (), None, poison.reason, state, revision)
    search, wanted = _view(look.document, look.layout), _expected_view(expected, look.layout)
    if any(UPDATED_AT not in item for item in look.items):
        # TripTable does not say when such an item changed (the stream's time stood in): nothing to check it by
        for view in (search, wanted):
            if view is not None:
                view.fields.pop(UPDATED_AT, None)
    differences = tuple(
        compare({look.trip_id: search} if search else {}, {look.trip_id: wanted} if wanted else {}).differences
    )
    kind = drift_kind(search, wanted) if differences else None
    return Assessment(look.trip_id, expected, differences, kind, None, state, revision)


def settle(first: Assessment, second: Assessment) -> Verdict:
    """The verdict on a trip that differed at `first`, read again at `second` after the settle time."""
    if second.unreadable is not None:
        return Verdict.UNREADABLE
    if second.in_sync:
        return Verdict.IN_SYNC
    if first.table_state != second.table_state or first.document_revision != second.document_revision:
        return Verdict.IN_FLIGHT
    return Verdict.DRIFTED


def expected_document(
    trip_id: str, items: Sequence[Mapping[str, Any]], stored: SearchDocument, at: datetime
) -> SearchDocument:
    """The document TripTable's items make (projection.fold of them as a table scan reads them), every entity the
    stored document has and TripTable no longer holds folded in as removed, with the stored document's revision.
    Raises `PoisonRecord` for an item the consumers could not project either."""
    scanned_at = int(at.timestamp())
    changes = [change for item in items if (change := decode_table_item(item, scanned_at)) is not None]
    present = {change.entity for change in changes}
    removals = [_removal(trip_id, entity, r) for entity, r in stored.revisions.items() if entity not in present]
    folded = fold(SearchDocument(trip_id), [*changes, *removals]).document
    # A booking the stored document holds at the same coordinates keeps the stored revision: its rank among the
    # streams' copies (their seconds and marks) outranks what a scan can know, and a repair must not lower it
    revisions = {
        entity: stored.revisions[entity] if _same_booking(stored.revisions.get(entity), revision) else revision
        for entity, revision in folded.revisions.items()
    }
    return SearchDocument(trip_id, folded.fields, revisions, stored.revision)


def _same_booking(stored: EntityRevision | None, expected: EntityRevision) -> bool:
    return stored is not None and (stored.generation, stored.version, stored.removed) == (
        expected.generation,
        expected.version,
        expected.removed,
    )


def drift_kind(search: TripView | None, expected: TripView | None) -> DriftKind:
    """How a differing document differs from the expected one (`search_view`s, None: not shown)."""
    if search is None:
        return DriftKind.MISSING
    if expected is None:
        return DriftKind.RESURRECTED
    if search.fields.get(DOCUMENT) == UNREADABLE_DOCUMENT:
        return DriftKind.ALTERED
    ours, theirs = _versions(search), _versions(expected)
    if ours.keys() - theirs.keys():
        return DriftKind.RESURRECTED
    if any(entity not in ours or ours[entity] < version for entity, version in theirs.items()):
        return DriftKind.BEHIND
    if any(ours[entity] > version for entity, version in theirs.items()):
        return DriftKind.AHEAD
    return DriftKind.ALTERED


def _stored(look: Look) -> SearchDocument:
    """The stored document, or an empty one (revision 0: the repair's write requires that none exists)."""
    if look.document is None:
        return SearchDocument(look.trip_id)
    try:
        return from_item(look.document)
    except (AttributeError, KeyError, TypeError, ValueError):  # edited past reading: its bookings are unknown
        revision = look.document.get(REVISION, 0)
        # a write counter edited to something else than a number is unknown too: the repair's gate then fails
        # (counted in flight), never overwriting a document it cannot tell the state of
        return SearchDocument(look.trip_id, revision=int(revision) if isinstance(revision, Decimal | int) else -1)


def _removal(trip_id: str, entity: Entity, revision: EntityRevision) -> TripChange:
    """The removal of an entity TripTable no longer holds, at the coordinates of the stored revision: it ranks above
    that write (a removal above a write of its second), and equals a removal the document already holds."""
    updated_at = revision.updated_at
    image = {} if updated_at is None else {"updated_at": (_EPOCH + timedelta(microseconds=updated_at)).isoformat()}
    return TripChange(
        trip_id=trip_id,
        entity=entity,
        kind=ChangeKind.REMOVE,
        version=revision.version,
        generation=revision.generation,
        approximate_time=_EPOCH + timedelta(seconds=revision.observed),
        changed_at=revision.changed_at,
        position=SourcePosition(Source.DYNAMODB_STREAMS, shard_id=INFERRED_REMOVAL),
        old_image=image,
    )


def _view(item: Mapping[str, Any] | None, layout: Layout) -> TripView | None:
    """What search shows of a stored item, with the index keys (of its table's layout) it is found by; a document
    edited past reading (its `versions` not a map of bookings) shows as `UNREADABLE_DOCUMENT`, which no expected
    document is."""
    try:
        view = None if item is None else search_view(item)
    except (AttributeError, KeyError, TypeError, ValueError):
        return TripView({DOCUMENT: UNREADABLE_DOCUMENT})
    if view is not None and item is not None:
        view.fields.update({name: item[name] for name in INDEX_KEYS[layout] if name in item})
    return view


def _expected_view(expected: SearchDocument, layout: Layout) -> TripView | None:
    """The expected document as search would show it; None for a trip without bookings (only a saga's fence)."""
    return _view(to_item(expected, 0, layout), layout) if expected.revisions else None


def _versions(view: TripView) -> dict[str, tuple[int, int]]:
    prefix = f"{VERSIONS}."
    return {name[len(prefix) :]: value for name, value in view.fields.items() if name.startswith(prefix)}


def _item_state(item: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(item.get(name)) for name in (TRIP_SK, "version", "created_at", "updated_at"))
