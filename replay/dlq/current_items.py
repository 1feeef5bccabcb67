"""What TripTable holds now, read before a redrive applies a parked change: a redrive never brings back what
TripTable no longer holds.

A parked write is applied only when TripTable's current item of its entity (a strongly consistent read) is that
very write: the same `(generation, version)`. When TripTable holds no item of the entity (deleted since, its
tombstone in search perhaps expired) or another revision of it (written since, or put back), the parked write is
*gone*: not applied, counted and reported. Removals are applied as they are (a removal brings nothing back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from replay.errors import aws_errors
from services.trip import dynamodb_values
from services.trip.changes import ChangeKind, Entity, PoisonRecord, TripChange, item_revision
from services.trip.schema import TRIP_PK, TRIP_PK_PREFIX, TRIP_SK

Revision = tuple[int, int]  # (generation, version)


@dataclass(frozen=True)
class GoneChange:
    """A parked write TripTable no longer holds. `holds`: TripTable's revision of the entity, None when absent."""

    change: TripChange
    holds: Revision | None

    def describe(self) -> str:
        change = self.change
        now = f"no {change.entity} item" if self.holds is None else f"{change.entity} version {self.holds[1]}"
        if self.holds is not None and self.holds[0] != change.generation:
            now += " of another generation (created_at)"
        return f"trip {change.trip_id} {change.entity} {change.kind} v{change.version} (TripTable holds {now})"


def gone_changes(dynamodb: Any, trip_table: str, changes: Sequence[TripChange]) -> list[GoneChange]:
    """The writes of `changes` TripTable no longer holds, in their order. One consistent Query per trip with a
    write (`dynamodb` a low-level client); raises `ReplayError` when TripTable cannot be read."""
    writes = [change for change in changes if change.kind is not ChangeKind.REMOVE]
    held = {trip_id: _revisions(dynamodb, trip_table, trip_id) for trip_id in {c.trip_id for c in writes}}
    gone = []
    for change in writes:
        holds = held[change.trip_id].get(change.entity)
        if holds != (change.generation, change.version):
            gone.append(GoneChange(change, holds))
    return gone


def _revisions(dynamodb: Any, trip_table: str, trip_id: str) -> dict[Entity, Revision]:
    """Each entity's highest revision among the trip's current items (the projection folds an entity's items as
    one history); an item whose revision cannot be read counts as holding no parked write."""
    request: dict[str, Any] = {
        "TableName": trip_table,
        "ConsistentRead": True,
        "KeyConditionExpression": "#pk = :pk",
        "ProjectionExpression": "#sk, version, created_at",
        "ExpressionAttributeNames": {"#pk": TRIP_PK, "#sk": TRIP_SK},
        "ExpressionAttributeValues": {":pk": {"S": f"{TRIP_PK_PREFIX}{trip_id}"}},
    }
    revisions: dict[Entity, Revision] = {}
    with aws_errors(f"reading trip {trip_id} from {trip_table}"):
        pages = dynamodb.get_paginator("query").paginate(**request)
        for item in (item for page in pages for item in page.get("Items", [])):
            entity, revision = Entity.of_sort_key(str(item.get(TRIP_SK, {}).get("S", ""))), _revision(item)
            if entity is not None and revision is not None:
                revisions[entity] = max(revisions.get(entity, revision), revision)
    return revisions


def _revision(item: dict[str, Any]) -> Revision | None:
    try:
        return item_revision(dynamodb_values.deserialize_item({k: v for k, v in item.items() if k != TRIP_SK}))
    except (PoisonRecord, TypeError, ValueError):
        return None
