"""`run --verify` tells the truth: no difference when the live table is right, and what the rebuild cannot know is
reported as undecided, never as a divergence (moto in-process)."""

from __future__ import annotations

from typing import Any

import pytest

from tests import factories
from tests.replay.conftest import History

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

REBUILD = "TripSearchRebuild"


def booked(history: History, *trip_ids: str) -> None:
    for minute, trip_id in enumerate(trip_ids):
        history.saga(trip_id, minute=minute)


def current(history: History, trip_id: str, entity: str) -> dict[str, Any]:
    key = {"PK": f"TRIP#{trip_id}", "SK": factories.SORT_KEYS[entity].format(trip_id)}
    return dict(history.trip_table.get_item(Key=key)["Item"])


def test_a_removal_after_the_trips_last_change_is_undecided_not_a_difference(history: History, replay: Any) -> None:
    booked(history, "trip-001", "trip-002")
    history.write(factories.remove(current(history, "trip-001", "HOTEL"), at=factories.later(60)))
    history.project_like_the_consumers()

    code, result = replay("run", "--source", "table", "--target-table", REBUILD, "--verify")

    assert code == 0, result
    assert result["differences"] == []
    assert result["undecided"] == [
        {
            "trip_id": "trip-001",
            "field": "updated_at",
            "live": "2026-03-01T10:00:00Z",
            "target": "2026-03-01T09:00:02Z",
            "reason": "removed HOTEL at 2026-03-01T10:00:00Z: TripTable keeps no removal, only the streams know when",
        }
    ]


def test_a_removal_before_the_trips_last_change_leaves_nothing_undecided(history: History, replay: Any) -> None:
    booked(history, "trip-001")
    history.write(factories.remove(current(history, "trip-001", "HOTEL"), at=factories.later(30)))
    flight = current(history, "trip-001", "FLIGHT")
    delayed = {**flight, "status": "DELAYED", "version": flight["version"] + 1}
    history.write(factories.modify(flight, delayed, at=factories.later(45)))
    history.project_like_the_consumers()

    code, result = replay("run", "--source", "table", "--target-table", REBUILD, "--verify")

    assert code == 0, result
    assert (result["differences"], result["undecided"]) == ([], [])


def test_a_trip_whose_entities_were_all_removed_is_absent_from_both(history: History, replay: Any) -> None:
    booked(history, "trip-001", "trip-002")
    for entity in ("PAYMENT", "HOTEL", "FLIGHT"):
        history.write(factories.remove(current(history, "trip-002", entity), at=factories.later(20)))
    history.project_like_the_consumers()

    code, result = replay("run", "--source", "table", "--target-table", REBUILD, "--verify")

    assert code == 0, result
    assert (result["differences"], result["undecided"]) == ([], [])


def test_a_live_updated_at_no_removal_explains_is_a_difference(
    history: History, search_table: Any, replay: Any
) -> None:
    booked(history, "trip-001", "trip-002")
    history.write(factories.remove(current(history, "trip-001", "HOTEL"), at=factories.later(60)))
    history.project_like_the_consumers()
    for trip_id, wrong in (("trip-001", "2026-03-01T11:00:00Z"), ("trip-002", "2026-03-01T08:00:00Z")):
        search_table.update_item(
            Key={"trip_id": trip_id},
            UpdateExpression="SET updated_at = :at",
            ExpressionAttributeValues={":at": wrong},
        )

    code, result = replay("run", "--source", "table", "--target-table", REBUILD, "--verify")

    assert code == 1
    assert [(d["trip_id"], d["field"], d["live"], d["target"]) for d in result["differences"]] == [
        ("trip-001", "updated_at", "2026-03-01T11:00:00Z", "2026-03-01T09:00:02Z"),
        ("trip-002", "updated_at", "2026-03-01T08:00:00Z", "2026-03-01T09:01:02Z"),
    ]
    assert result["undecided"] == []


def test_a_rebuild_from_the_stream_knows_removals_and_matches(history: History, replay: Any) -> None:
    booked(history, "trip-001")
    history.write(factories.remove(current(history, "trip-001", "HOTEL"), at=factories.later(60)))
    history.project_like_the_consumers()

    code, result = replay(
        "run", "--from", "1h", "--target-table", REBUILD, "--verify", "--checkpoint-dir", replay.checkpoint_dir
    )

    assert code == 0, result
    assert (result["differences"], result["undecided"]) == ([], [])
