"""The pure projection: fold trip changes into the trip's search document.

Each entity (flight, hotel, payment) of a trip is ordered by `(generation, version, observed, removed)`:
`version` counts the item's changes, `generation` tells a re-created item from the one deleted before it,
`observed` (the stream's time of the change, in whole seconds: the precision both sources share) orders the events
that share a version (a write, its removal, the identical item put back), and a removal ranks above a write of the
same version seen in the same second. A change is applied only if it ranks above what the document already holds
for its entity, so any order, duplication or interleaving of changes converges to the document of the in-order
history. What the streams cannot order is reported instead of silently folded (docs/design.md, "Order-safe fold"):
- Finding.AMBIGUOUS: a write of the same or an older version as a removal, seen in the same second (a late copy of
  a write the removal removed, or the item put back within that second: neither source can tell which). The
  removal wins; the change decided that way (the write left hidden, or the removal applied over it) is reported.
- Outcome.REJECTED: a change of an older `(generation, version)` seen after a newer one (an item put back below the
  version it was removed at): a writer-contract violation no order can project without diverging, not applied.
- Finding.WENT_BACK: the mirror of REJECTED, when the older version arrived first: the newer change is applied as
  the order says (so every arrival order ends with the same document) and reported.
No I/O here: the projector, the replay tool and the tests all call `fold`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from services.trip.changes import ENTITY_ATTRIBUTES, ChangeKind, Entity, TripChange
from services.trip.schema import HOTEL_NAME_INDEX_KEYS, SEARCH_KEY, SORT_KEY_BYTES, TTL_ATTRIBUTE, hotel_name_index_key

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
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VERSIONS = "versions"
REVISION = "revision"


@dataclass(frozen=True, order=True)
class EntityRevision:
    """Where an entity of the document stands in its item's history."""

    generation: int
    version: int
    observed: int  # epoch seconds (floor) of the stream's ApproximateCreationDateTime: the same for both copies
    removed: bool
    changed_at: datetime = field(compare=False)

    @classmethod
    def of(cls, change: TripChange) -> EntityRevision:
        # Whole seconds: without the writer's `updated_at`, Streams give seconds and Kinesis copies finer times.
        changed_at = change.changed_at.astimezone(UTC).replace(microsecond=0)
        observed = int(change.approximate_time.timestamp())
        return cls(change.generation, change.version, observed, change.kind is ChangeKind.REMOVE, changed_at)

    def hides(self, other: EntityRevision) -> bool:
        """This removal outranks `other`, a write of the same or an older version seen in the same second: whether
        that write came before the removal (a late copy) or after it (the item put back) is undecidable."""
        same_second = self.observed == other.observed and self.removed and not other.removed
        return same_second and (other.generation, other.version) <= (self.generation, self.version)

    def precedes_in_writes(self, other: EntityRevision) -> bool:
        """`other` has an older (generation, version) but the stream saw it later: the writer went back."""
        return (other.generation, other.version) < (self.generation, self.version) and other.observed > self.observed


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

    @property
    def changed(self) -> bool:
        return any(outcome is Outcome.APPLIED for _, outcome in self.outcomes)


def fold(document: SearchDocument, changes: Iterable[TripChange]) -> Fold:
    """Fold the changes of one trip into (a copy of) its document."""
    changes = tuple(changes)
    if any(change.trip_id != document.trip_id for change in changes):
        raise ValueError(f"fold of trip {document.trip_id} got changes of another trip")
    winners: dict[Entity, TripChange] = {}
    for change in changes:
        best = winners.get(change.entity)
        if best is None or EntityRevision.of(change) > EntityRevision.of(best):
            winners[change.entity] = change

    result = SearchDocument(document.trip_id, dict(document.fields), dict(document.revisions), document.revision)
    outcomes: list[tuple[TripChange, Outcome]] = []
    reasons: dict[int, str] = {}
    findings: dict[int, Finding] = {}
    for index, change in enumerate(changes):
        revision, stored = EntityRevision.of(change), document.revisions.get(change.entity)
        winner = EntityRevision.of(winners[change.entity])
        newest = winner if stored is None or winner > stored else stored
        if newest.precedes_in_writes(revision):
            outcomes.append((change, Outcome.REJECTED))
            reasons[index] = _went_back(change, newest)
        elif revision < newest:
            superseded = Outcome.STALE if stored is not None and revision <= stored else Outcome.COALESCED
            outcomes.append((change, superseded))
            if newest.hides(revision):
                findings[index] = Finding.AMBIGUOUS
        elif result.revisions.get(change.entity) == revision or (stored is not None and revision == stored):
            outcomes.append((change, Outcome.STALE))  # a duplicate of the change just applied, or of the stored one
        else:
            previous = result.revisions.get(change.entity)
            _apply(result, change)
            outcomes.append((change, Outcome.APPLIED))
            if previous is not None and revision.hides(previous):
                findings[index] = Finding.AMBIGUOUS
            elif previous is not None and revision.precedes_in_writes(previous):
                findings[index] = Finding.WENT_BACK
    return Fold(result, tuple(outcomes), reasons, findings)


def _went_back(change: TripChange, newest: EntityRevision) -> str:
    def created(generation: int) -> str:
        return (_EPOCH + timedelta(microseconds=generation)).isoformat()

    what = "removal" if newest.removed else "write"
    return (
        f"{change.entity} {change.kind} of version {change.version} (created_at {created(change.generation)}) "
        f"seen after the {what} of version {newest.version} (created_at {created(newest.generation)}): "
        f"the item went back to an older version; writer contract: write it with a version above {newest.version}"
    )


def _apply(document: SearchDocument, change: TripChange) -> None:
    fields = DOCUMENT_FIELDS[change.entity]
    for name in fields.values():
        document.fields.pop(name, None)
    if change.kind is not ChangeKind.REMOVE:
        for attribute, name in fields.items():
            value = change.image.get(attribute)
            if value is not None and value != "":  # an empty string cannot be an index key: treat it as absent
                document.fields[name] = value
    document.revisions[change.entity] = EntityRevision.of(change)


def to_item(document: SearchDocument, tombstone_ttl_seconds: int) -> dict[str, Any]:
    """The TripSearchTable item for a document about to be written (its revision already advanced)."""
    updated_at = document.updated_at
    item: dict[str, Any] = {SEARCH_KEY: document.trip_id, **document.fields, REVISION: document.revision}
    if updated_at is not None:
        item["updated_at"] = updated_at.isoformat().replace("+00:00", "Z")
    item[VERSIONS] = {
        entity.value: {
            "generation": r.generation,
            "version": r.version,
            "observed": r.observed,
            "removed": r.removed,
            "changed_at": int(r.changed_at.timestamp()),
        }
        for entity, r in document.revisions.items()
    }
    hotel_name = document.fields.get("hotel_name")
    if hotel_name:
        initial_key, name_key = HOTEL_NAME_INDEX_KEYS
        initial, key = hotel_name_index_key(hotel_name)
        # A key DynamoDB cannot hold would make it refuse the whole document (and park every change of the trip):
        # the document is written without it, served by GET, just not findable by hotel name.
        if len(key.encode("utf-8", "surrogatepass")) <= SORT_KEY_BYTES:
            item[initial_key], item[name_key] = initial, key
    if document.is_tombstone and updated_at is not None:
        # Counted from the last change, not from now: late copies are bounded by the stream's retention.
        item[TTL_ATTRIBUTE] = int(updated_at.timestamp()) + tombstone_ttl_seconds
    return item


def unindexed(item: Mapping[str, Any]) -> tuple[str, ...]:
    """The attributes of a document that `to_item` left out of an index, because their key was too long for it."""
    return ("hotel_name",) if item.get("hotel_name") and HOTEL_NAME_INDEX_KEYS[1] not in item else ()


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
        )
        for entity, r in item.get(VERSIONS, {}).items()
    }
    public.pop(SEARCH_KEY, None)
    public.pop("updated_at", None)
    return SearchDocument(str(item[SEARCH_KEY]), public, revisions, int(item.get(REVISION, Decimal(0))))
