"""Compare a rebuilt search table with the live one, trip by trip, as search sees them.

What is compared: the public fields of every trip that search can find, and the version each of its live entities
is at. Tombstones (trips whose entities were all removed) are invisible to search and are compared as absent; the
write counter (`revision`) differs by design between a table written change by change and one written whole.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from replay.errors import aws_errors
from services.trip.projection import PUBLIC_FIELDS, VERSIONS
from services.trip.schema import SEARCH_KEY, TTL_ATTRIBUTE

View = dict[str, Any]


@dataclass(frozen=True)
class Difference:
    trip_id: str
    field: str  # "document" when the trip is missing from one side
    live: Any
    target: Any


def search_view(item: Mapping[str, Any]) -> View | None:
    """What search shows of a document, plus its live entities' versions; None for a tombstone."""
    if TTL_ATTRIBUTE in item:
        return None
    view: View = {name: item[name] for name in PUBLIC_FIELDS if name in item}
    for entity, revision in item.get(VERSIONS, {}).items():
        if not revision["removed"]:
            view[f"{VERSIONS}.{entity}"] = (int(revision["generation"]), int(revision["version"]))
    return view


def compare(live: Mapping[str, View], target: Mapping[str, View]) -> list[Difference]:
    differences: list[Difference] = []
    for trip_id in sorted(live.keys() | target.keys()):
        mine, theirs = live.get(trip_id), target.get(trip_id)
        if mine is None or theirs is None:
            differences.append(
                Difference(trip_id, "document", "present" if mine else "absent", "present" if theirs else "absent")
            )
            continue
        for name in sorted(mine.keys() | theirs.keys()):
            if mine.get(name) != theirs.get(name):
                differences.append(Difference(trip_id, name, mine.get(name), theirs.get(name)))
    return differences


def scan_views(table: Any, trip_ids: Collection[str]) -> dict[str, View]:
    """Every visible document of the table (or only those of `trip_ids`, when given)."""
    views: dict[str, View] = {}
    for item in _scan(table):
        trip_id = str(item[SEARCH_KEY])
        if trip_ids and trip_id not in trip_ids:
            continue
        view = search_view(item)
        if view is not None:
            views[trip_id] = view
    return views


def _scan(table: Any) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"ConsistentRead": True}
    with aws_errors(f"scanning {table.name}"):
        while True:
            response = table.scan(**request)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
