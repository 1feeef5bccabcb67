"""What search shows of a TripSearchTable item, and the differences between two sets of them, field by field.

Shared by `trip-replay`'s comparisons of two search tables (replay/verify.py, a cutover's live table and shadow) and
the drift audit's comparison of a search table with what TripTable says (services.trip.audit). Pure: no AWS.

What is compared: the public fields of every trip that search can find, and the version each of its live entities
is at. Tombstones (trips whose entities were all removed) are invisible to search and are compared as absent; the
write counter (`revision`) differs by design between a table written change by change and one written whole.
A side rebuilt from TripTable's current items holds no removal: `compare(removals_rebuilt=False)` then reports a
later `updated_at` that a recorded removal explains as `Undecided`, never as a difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.trip.projection import PUBLIC_FIELDS, VERSIONS
from services.trip.schema import TTL_ATTRIBUTE

UPDATED_AT = "updated_at"


@dataclass(frozen=True)
class TripView:
    fields: dict[str, Any]  # public fields, and `versions.<entity>`: (generation, version) of each live entity
    removed_at: dict[str, datetime] = field(default_factory=dict)  # entity -> when the document saw it removed


@dataclass(frozen=True)
class Difference:
    trip_id: str
    field: str  # "document" when the trip is missing from one side
    live: Any
    target: Any


@dataclass(frozen=True)
class Undecided:
    """A field the rebuild cannot confirm or refute, and why."""

    trip_id: str
    field: str
    live: Any
    target: Any
    reason: str


@dataclass
class Verification:
    differences: list[Difference] = field(default_factory=list)
    undecided: list[Undecided] = field(default_factory=list)


def search_view(item: Mapping[str, Any]) -> TripView | None:
    """What search shows of a document, plus its entities' versions and removals; None for a tombstone."""
    if TTL_ATTRIBUTE in item:
        return None
    view = TripView({name: item[name] for name in PUBLIC_FIELDS if name in item})
    for entity, revision in item.get(VERSIONS, {}).items():
        if revision["removed"]:
            view.removed_at[entity] = datetime.fromtimestamp(int(revision["changed_at"]), tz=UTC)
        else:
            view.fields[f"{VERSIONS}.{entity}"] = (int(revision["generation"]), int(revision["version"]))
    return view


def compare(
    live: Mapping[str, TripView], target: Mapping[str, TripView], *, removals_rebuilt: bool = True
) -> Verification:
    """Every difference between the two tables; `removals_rebuilt=False` when the target was rebuilt from
    TripTable's current items, which hold no removal."""
    found = Verification()
    for trip_id in sorted(live.keys() | target.keys()):
        mine, theirs = live.get(trip_id), target.get(trip_id)
        if mine is None or theirs is None:
            found.differences.append(
                Difference(trip_id, "document", "present" if mine else "absent", "present" if theirs else "absent")
            )
            continue
        for name in sorted(mine.fields.keys() | theirs.fields.keys()):
            here, there = mine.fields.get(name), theirs.fields.get(name)
            if here == there:
                continue
            reason = None if removals_rebuilt or name != UPDATED_AT else _removal_explains(mine, theirs)
            if reason is None:
                found.differences.append(Difference(trip_id, name, here, there))
            else:
                found.undecided.append(Undecided(trip_id, name, here, there, reason))
    return found


def _removal_explains(live: TripView, target: TripView) -> str | None:
    """Why the live `updated_at` may rightly be later than TripTable's latest change, if a recorded removal makes it
    exactly that; None when nothing does (then the difference is real)."""
    live_at, target_at = _moment(live.fields.get(UPDATED_AT)), _moment(target.fields.get(UPDATED_AT))
    if live_at is None or target_at is None or not live.removed_at:
        return None
    if live_at != max(target_at, *live.removed_at.values()):
        return None
    removals = ", ".join(
        f"{entity} at {moment.isoformat().replace('+00:00', 'Z')}"
        for entity, moment in sorted(live.removed_at.items())
        if moment > target_at
    )
    return f"removed {removals}: TripTable keeps no removal, only the streams know when"


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
