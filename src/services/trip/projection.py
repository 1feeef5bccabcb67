"""The pure projection: fold trip changes into the trip's search document.

Each entity (flight, hotel, payment) of a trip is ordered by `(generation, version, observed, removed)`:
`version` counts the item's changes, `generation` tells a re-created item from the one deleted before it,
`observed` (the stream's time of the change, in whole seconds: the precision both sources share) orders the events
that share a version (a write, its removal, the identical item put back), and a removal ranks above a write of the
same version seen in the same second unless a source's own order says otherwise. A change is applied only if it
ranks above what the document already holds for its entity, so any order, duplication or interleaving of changes
converges to the document of the in-order history. Within one (generation, version, second) each source orders its
own copies (`Mark`: DynamoDB Streams' SequenceNumber, Kinesis' microsecond ApproximateCreationDateTime), so a write
and its delete in one second, or the identical item put back, are ordered without a report. The fold decides only by
what the document stores, so a fold whose revisions moved (a source's mark advanced under a STALE copy) is written
too (`Fold.changed`): a mark kept in memory only would be lost, and that source's older removal, delivered in a
later batch, would hide the write it had already delivered. A table scan's item
(shard `TABLE_SCAN`) is seen at no stream time: it ranks below every stream copy of its version, whatever the
operator's clock. What the streams cannot order is reported instead of silently folded (docs/design.md,
"Order-safe fold"):
- Finding.AMBIGUOUS: only what no order decides: a write and a removal at equal coordinates of one source, a write
  of another `updated_at` under a removal stored without marks, or two sources' latest writes of one version that
  differ. The removal wins (nothing is resurrected); the change decided that way is reported.
- Outcome.REJECTED: a change of an older `(generation, version)` seen after a newer one (an item put back below the
  version it was removed at): a writer-contract violation no order can project without diverging, not applied.
- Finding.WENT_BACK: the mirror of REJECTED, when the older version arrived first: the newer change is applied as
  the order says (so every arrival order ends with the same document) and reported.
No I/O here: the projector, the replay tool and the tests all call `fold`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple, TypeGuard

from services.trip.changes import ENTITY_ATTRIBUTES, TABLE_SCAN, ChangeKind, Entity, Source, TripChange
from services.trip.schema import (
    FLIGHT_STATUS_INDEX,
    HOTEL_NAME_INDEX,
    PARTITION_KEY_BYTES,
    SEARCH_KEY,
    SORT_KEY_BYTES,
    TTL_ATTRIBUTE,
    UNSHARDED_INDEXES,
    Layout,
    SearchIndex,
    hotel_name_search_key,
    key_bytes,
    order_key,
    shard_key,
    trip_shard,
)

# Item attribute -> document field, per entity. Fields not renamed keep the item's name.
_RENAMED = {"status": "{entity}_status", "amount": "total_amount"}
DOCUMENT_FIELDS: Mapping[Entity, Mapping[str, str]] = {
    entity: {attr: _RENAMED.get(attr, attr).format(entity=entity.lower()) for attr in attributes}
    for entity, attributes in ENTITY_ATTRIBUTES.items()
}
PUBLIC_FIELDS: tuple[str, ...] = (
    SEARCH_KEY,
    *(name for fields in DOCUMENT_FIELDS.values() for name in fields.values()),
    "updated_at",
)
# What each index of TripSearchTable projects besides its keys and the table's: what a search shows.
INDEX_PROJECTION: tuple[str, ...] = tuple(name for name in PUBLIC_FIELDS if name != SEARCH_KEY)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
VERSIONS = "versions"
REVISION = "revision"
MARKS = "marks"
# The version of the read model this code writes, recorded in every document it writes (`PROJECTION_VERSION_ATTRIBUTE`)
# and raised whenever what a document holds or how it is keyed changes, so that a table's documents tell which release
# wrote them. 1 (no attribute): the issue-18 layout, one unsharded partition per flight status and hotel initial.
# 2: write-sharded index keys and order keys (schema.SearchIndex); a table kept in the unsharded layout
# (schema.Layout) gets the same documents with its own keys.
PROJECTION_VERSION = 2
PROJECTION_VERSION_ATTRIBUTE = "projection_version"


class Mark(NamedTuple):
    """Where one source saw the latest change of a revision's (generation, version, observed) that it delivered:
    its own order of the item's changes (DynamoDB Streams: the SequenceNumber; Kinesis: the precise
    ApproximateCreationDateTime, in microseconds) and whether that change was a removal."""

    source: str
    at: int
    removed: bool


@dataclass(frozen=True, order=True)
class EntityRevision:
    """Where an entity of the document stands in its item's history."""

    generation: int
    version: int
    observed: int  # epoch seconds (floor) of the stream's ApproximateCreationDateTime: the same for both copies
    removed: bool
    changed_at: datetime = field(compare=False)
    # The writer's `updated_at` (microseconds) of the item as it stands, or as the removal removed it; None if unknown.
    updated_at: int | None = field(default=None, compare=False)
    marks: tuple[Mark, ...] = field(default=(), compare=False)  # one per source that delivered this second's changes

    @classmethod
    def of(cls, change: TripChange) -> EntityRevision:
        # Whole seconds: without the writer's `updated_at`, Streams give seconds and Kinesis copies finer times.
        changed_at = change.changed_at.astimezone(UTC).replace(microsecond=0)
        removed = change.kind is ChangeKind.REMOVE
        if change.position.shard_id == TABLE_SCAN:  # read from the table: below any change of its version
            return cls(change.generation, change.version, 0, removed, changed_at, _updated_at(change))
        observed = int(change.approximate_time.timestamp())
        coordinate = _coordinate(change)
        marks = () if coordinate is None else (Mark(change.position.source.value, coordinate, removed),)
        return cls(change.generation, change.version, observed, removed, changed_at, _updated_at(change), marks)

    @property
    def moment(self) -> tuple[int, int, int]:
        return (self.generation, self.version, self.observed)

    def mark(self, source: str) -> Mark | None:
        return next((mark for mark in self.marks if mark.source == source), None)

    def precedes_in_writes(self, other: EntityRevision) -> bool:
        """`other` has an older (generation, version) but the stream saw it later: the writer went back. In the
        same second, a source that delivered both tells it by its own order."""
        if (other.generation, other.version) >= (self.generation, self.version) or self.observed == 0:
            return False  # observed 0: read from the table (or kept before `observed` was), seen at no known time
        if other.observed != self.observed:
            return other.observed > self.observed
        return any((mine := self.mark(theirs.source)) is not None and theirs.at > mine.at for theirs in other.marks)

    def merged(self, change: EntityRevision) -> tuple[EntityRevision | None, bool]:
        """What this revision becomes with `change` (None: unchanged), and whether that is undecidable.

        Across seconds, versions and generations the order is plain. Within one (generation, version, second),
        each source orders its own copies (`Mark`), and each source's latest mark is kept: every source delivers
        every change, so each ends at the last change of that second, and the revision shows a removal while any
        source's latest is one. A change no source mark can order (read from the table, or a revision kept
        without marks) is ranked as before marks: a removal above a write."""
        if change.moment != self.moment:
            return (change if change.moment > self.moment else None), False
        if not change.marks or not self.marks:
            return self._merged_unordered(change)
        (theirs,) = change.marks
        mine = self.mark(theirs.source)
        # A write and a removal at one coordinate: the source cannot order them, and the removal wins either way.
        tied = mine is not None and theirs.at == mine.at and theirs.removed != mine.removed
        if mine is not None and (theirs.at, theirs.removed) <= (mine.at, mine.removed):
            return None, tied  # a copy, an earlier change, or a write tied with the removal
        marks = tuple(sorted([*(mark for mark in self.marks if mark.source != theirs.source), theirs]))
        removed = any(mark.removed for mark in marks)
        writes = [mark for mark in marks if not mark.removed]
        if removed and not change.removed:  # the write is kept in its mark; the removal still shows
            return replace(self, removed=True, marks=marks), False
        # A removal, or a write every source agrees on: it sets what shows. Two sources' writes of the same version
        # with different `updated_at` (a different export put back) cannot say which one shows.
        differ = not removed and len(writes) > 1 and not self.removed and self.updated_at != change.updated_at
        return replace(change, removed=removed, marks=marks), tied or differ

    def _merged_unordered(self, change: EntityRevision) -> tuple[EntityRevision | None, bool]:
        """The same second, without marks to order the two: a removal ranks above a write of its version. A write
        identical to the item the removal removed is a late copy of it; a removal over a write is its delete."""
        identical = self.updated_at is not None and self.updated_at == change.updated_at
        if change.removed and not self.removed:
            return replace(change, marks=change.marks or self.marks), False
        if self.removed and not change.removed:
            return None, not identical and self.observed != 0 and change.observed != 0
        return None, False


def _coordinate(change: TripChange) -> int | None:
    if change.position.source is Source.KINESIS:
        return (change.approximate_time - _EPOCH) // _MICROSECOND
    sequence = change.position.sequence_number
    return int(sequence) if sequence is not None and sequence.isascii() and sequence.isdigit() else None


def _updated_at(change: TripChange) -> int | None:
    raw = change.image.get("updated_at")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND


@dataclass
class SearchDocument:
    """One trip's denormalized document, with the bookkeeping that makes updates order-safe."""

    trip_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    revisions: dict[Entity, EntityRevision] = field(default_factory=dict)
    revision: int = 0  # how many times it was written: the optimistic-concurrency token; 0 = not stored

    @property
    def updated_at(self) -> datetime | None:
        return max((r.changed_at for r in self.revisions.values()), default=None)

    @property
    def is_tombstone(self) -> bool:
        """Every entity the trip had was removed: the trip is gone from search, its revisions still guard it."""
        return bool(self.revisions) and all(r.removed for r in self.revisions.values())


class Outcome(StrEnum):
    APPLIED = "applied"  # the document now reflects this change
    COALESCED = "coalesced"  # superseded by a newer change of the same entity in the same fold
    STALE = "stale"  # the document already held this change or a newer one
    REJECTED = "rejected"  # not applied: older (generation, version) seen after a newer one (writer contract)


class Finding(StrEnum):
    """Why a change's outcome may disagree with TripTable, although the fold decided as its order says."""

    AMBIGUOUS = "ambiguous"  # decided by the same-second rule: a removal wins over a write of its version or older
    WENT_BACK = "went-back"  # applied over an older version the stream saw later: that one broke the writer contract


@dataclass(frozen=True)
class Fold:
    document: SearchDocument
    outcomes: tuple[tuple[TripChange, Outcome], ...]
    reasons: Mapping[int, str] = field(default_factory=dict)  # index in `outcomes` -> why it was REJECTED
    findings: Mapping[int, Finding] = field(default_factory=dict)  # index in `outcomes` -> what to report
    # A revision's bookkeeping moved although nothing shown did (a source's mark advanced under a STALE copy).
    bookkeeping_changed: bool = False

    @property
    def changed(self) -> bool:
        """The document must be written: a change was applied, or what the next fold decides by (the revisions,
        with each source's marks) moved. A fold decides only by what is stored, so a mark kept in memory and not
        written would be lost, and a later copy ranked against the older mark (issue 24.6 follow-up)."""
        return self.bookkeeping_changed or any(outcome is Outcome.APPLIED for _, outcome in self.outcomes)


def fold(document: SearchDocument, changes: Iterable[TripChange]) -> Fold:
    """Fold the changes of one trip into (a copy of) its document."""
    changes = tuple(changes)
    if any(change.trip_id != document.trip_id for change in changes):
        raise ValueError(f"fold of trip {document.trip_id} got changes of another trip")
    result = SearchDocument(document.trip_id, dict(document.fields), dict(document.revisions), document.revision)
    outcomes: list[tuple[TripChange, Outcome]] = []
    reasons: dict[int, str] = {}
    findings: dict[int, Finding] = {}
    last_applied: dict[Entity, int] = {}
    for index, change in enumerate(changes):
        revision, stored = EntityRevision.of(change), document.revisions.get(change.entity)
        current = result.revisions.get(change.entity)
        merged: EntityRevision | None
        if current is None:
            merged, undecidable = revision, False
        elif current.precedes_in_writes(revision):
            outcomes.append((change, Outcome.REJECTED))
            reasons[index] = _went_back(change, current)
            continue
        else:
            merged, undecidable = current.merged(revision)
        if undecidable:
            findings[index] = Finding.AMBIGUOUS
        if merged is None:
            above_stored = stored is None or stored.merged(revision)[0] is not None
            outcomes.append((change, Outcome.COALESCED if above_stored and revision != current else Outcome.STALE))
            continue
        if current is not None and merged == current and merged.updated_at == current.updated_at:
            result.revisions[change.entity] = merged  # the other source's copy: its mark kept, nothing to write
            outcomes.append((change, Outcome.STALE))
            continue
        _apply(result, change, merged)
        outcomes.append((change, Outcome.APPLIED))
        if change.entity in last_applied:
            superseded = last_applied[change.entity]
            outcomes[superseded] = (outcomes[superseded][0], Outcome.COALESCED)
        last_applied[change.entity] = index
        if current is not None and merged.precedes_in_writes(current) and not undecidable:
            findings[index] = Finding.WENT_BACK
    # Stored as the next fold reads it: a revision whose marks (or any other bookkeeping) moved must be written.
    moved = any(
        (before := document.revisions.get(entity)) is None or _revision_item(before) != _revision_item(revision)
        for entity, revision in result.revisions.items()
    )
    return Fold(result, tuple(outcomes), reasons, findings, moved)


def _went_back(change: TripChange, newest: EntityRevision) -> str:
    def created(generation: int) -> str:
        return (_EPOCH + timedelta(microseconds=generation)).isoformat()

    what = "removal" if newest.removed else "write"
    return (
        f"{change.entity} {change.kind} of version {change.version} (created_at {created(change.generation)}) "
        f"seen after the {what} of version {newest.version} (created_at {created(newest.generation)}): "
        f"the item went back to an older version; writer contract: write it with a version above {newest.version}"
    )


def _apply(document: SearchDocument, change: TripChange, revision: EntityRevision) -> None:
    fields = DOCUMENT_FIELDS[change.entity]
    for name in fields.values():
        document.fields.pop(name, None)
    if not revision.removed:  # a write every source agrees on (a removal, or a write a removal still hides: none)
        for attribute, name in fields.items():
            value = change.image.get(attribute)
            if value is not None and value != "":  # an empty string cannot be an index key: treat it as absent
                document.fields[name] = value
    document.revisions[change.entity] = revision


def to_item(document: SearchDocument, tombstone_ttl_seconds: int, layout: Layout = Layout.SHARDED) -> dict[str, Any]:
    """The TripSearchTable item for a document about to be written (its revision already advanced), with the index
    keys of a table of that layout."""
    updated_at = document.updated_at
    item: dict[str, Any] = {
        SEARCH_KEY: document.trip_id,
        **document.fields,
        REVISION: document.revision,
        PROJECTION_VERSION_ATTRIBUTE: PROJECTION_VERSION,
    }
    if updated_at is not None:
        item["updated_at"] = updated_at.isoformat().replace("+00:00", "Z")
    item[VERSIONS] = {entity.value: _revision_item(r) for entity, r in document.revisions.items()}
    item.update(index_keys(document) if layout is Layout.SHARDED else unsharded_index_keys(document))
    if document.is_tombstone and updated_at is not None:
        # Counted from the last change, not from now: late copies are bounded by the stream's retention.
        item[TTL_ATTRIBUTE] = int(updated_at.timestamp()) + tombstone_ttl_seconds
    return item


def _text(value: object) -> TypeGuard[str]:
    """A value an index key can be made of: a non-empty string."""
    return isinstance(value, str) and value != ""


def _index_values(document: SearchDocument) -> dict[SearchIndex, tuple[str, str]]:
    """Per index that should find the document: (what a search asks for, what it orders by)."""
    status, departure = document.fields.get("flight_status"), document.fields.get("departure_time")
    hotel_name = document.fields.get("hotel_name")
    values: dict[SearchIndex, tuple[str, str]] = {}
    if _text(status) and _text(departure):
        values[FLIGHT_STATUS_INDEX] = (status, departure)
    name_key = hotel_name_search_key(hotel_name) if _text(hotel_name) else ""
    if name_key:
        values[HOTEL_NAME_INDEX] = (name_key[:1], name_key)
    return values


def index_keys(document: SearchDocument) -> dict[str, str]:
    """The index key attributes of a document (`schema.SearchIndex`): for each index whose fields it has, a sharded
    partition key and an order key. A key over DynamoDB's size limits (`PARTITION_KEY_BYTES`, `SORT_KEY_BYTES`)
    would make it refuse the whole document and park every change of the trip: that index's keys are left out, and
    the document is written, served by id, just not findable by that index (`unindexed`)."""
    keys: dict[str, str] = {}
    shard = trip_shard(document.trip_id)
    for index, (value, sort_value) in _index_values(document).items():
        partition, sort = shard_key(value, shard), order_key(sort_value, document.trip_id)
        if key_bytes(partition) <= PARTITION_KEY_BYTES and key_bytes(sort) <= SORT_KEY_BYTES:
            keys[index.partition], keys[index.sort] = partition, sort
    return keys


def unsharded_index_keys(document: SearchDocument) -> dict[str, str]:
    """The hotel-name index keys of an `UNSHARDED` table: the name's search key (`hotel_name_search_key`, the fold
    without U+0000) and its first character, under the names the releases before write sharding used; left out
    when the sharded table would leave them out (the key empty, or its order key over `SORT_KEY_BYTES`), so that
    both layouts find the same trips by the same prefixes. Those releases kept U+0000 in the fold: their documents
    holding one are keyed so until written again. The flight-status index is keyed on the document's own fields."""
    hotel_name = document.fields.get("hotel_name")
    key = hotel_name_search_key(hotel_name) if _text(hotel_name) else ""
    if not key or key_bytes(order_key(key, document.trip_id)) > SORT_KEY_BYTES:
        return {}
    index = UNSHARDED_INDEXES[HOTEL_NAME_INDEX]
    return {index.partition: key[:1], index.sort: key}


def unindexed(item: Mapping[str, Any], layout: Layout = Layout.SHARDED) -> tuple[str, ...]:
    """The names of the indexes a TripSearchTable item (`to_item`) has the fields of but no keys in: its key there
    is too long, or its hotel name folds to nothing (only accents or U+0000, which another writer than the saga may
    store). Read from the item as written: nothing is folded or hashed again."""
    wanted = [FLIGHT_STATUS_INDEX] if _text(item.get("flight_status")) and _text(item.get("departure_time")) else []
    wanted += [HOTEL_NAME_INDEX] if _text(item.get("hotel_name")) else []
    if layout is Layout.UNSHARDED:
        return tuple(UNSHARDED_INDEXES[i].name for i in wanted if UNSHARDED_INDEXES[i].partition not in item)
    return tuple(index.name for index in wanted if index.partition not in item)


def content(item: Mapping[str, Any]) -> dict[str, Any]:
    """A TripSearchTable item less its delivery bookkeeping: what two tables that projected the same history hold
    alike, however the changes reached them.

    Left out: `revision` (one per write of the document: a table written change by change counts more than one
    written whole) and each entity's `versions.<entity>.marks` (the position of the latest copy each source delivered,
    DynamoDB Streams' SequenceNumber or Kinesis' microsecond time: a table fed by one source, or by a replay, holds
    other marks than one fed by both). Everything else, the public fields and each entity's generation, version,
    observed second, removal and `updated_at`, is the history's and compared. The search API shows none of the
    bookkeeping (PUBLIC_FIELDS only)."""
    versions = {
        entity: {name: value for name, value in revision.items() if name != MARKS}
        for entity, revision in item.get(VERSIONS, {}).items()
    }
    return {**{name: value for name, value in item.items() if name != REVISION}, VERSIONS: versions}


def _revision_item(revision: EntityRevision) -> dict[str, Any]:
    item: dict[str, Any] = {
        "generation": revision.generation,
        "version": revision.version,
        "observed": revision.observed,
        "removed": revision.removed,
        "changed_at": int(revision.changed_at.timestamp()),
    }
    if revision.updated_at is not None:
        item["updated_at"] = revision.updated_at
    if revision.marks:  # as strings: a Streams SequenceNumber may have 40 digits, a DynamoDB Number 38
        item[MARKS] = {mark.source: {"at": str(mark.at), "removed": mark.removed} for mark in revision.marks}
    return item


def _observed_before_it_was_kept(revision: Mapping[str, Any]) -> int:
    """For documents written before `observed` was kept: a removal's `changed_at` is the stream's own second; a
    write's is the writer's clock, so it ranks lowest (a copy of the same write rewrites it, nothing older exists)."""
    return int(revision["changed_at"]) if revision["removed"] else 0


def from_item(item: Mapping[str, Any]) -> SearchDocument:
    """The document a TripSearchTable item holds (numbers as the table returns them: Decimal)."""
    public = {name: item[name] for name in PUBLIC_FIELDS if name in item}
    revisions = {
        Entity(entity): EntityRevision(
            generation=int(r["generation"]),
            version=int(r["version"]),
            observed=int(r["observed"]) if "observed" in r else _observed_before_it_was_kept(r),
            removed=bool(r["removed"]),
            changed_at=datetime.fromtimestamp(int(r["changed_at"]), tz=UTC),
            updated_at=int(r["updated_at"]) if "updated_at" in r else None,
            marks=tuple(
                sorted(Mark(str(source), int(m["at"]), bool(m["removed"])) for source, m in r.get(MARKS, {}).items())
            ),
        )
        for entity, r in item.get(VERSIONS, {}).items()
    }
    public.pop(SEARCH_KEY, None)
    public.pop("updated_at", None)
    return SearchDocument(str(item[SEARCH_KEY]), public, revisions, int(item.get(REVISION, Decimal(0))))
