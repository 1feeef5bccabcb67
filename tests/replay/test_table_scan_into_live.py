"""`replay run --source table` into the live table: a scanned item never outranks a change the stream delivered after
the scan read it, whatever the operator's clock says (issue 24.5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from replay.window import run, sources
from tests import factories
from tests.replay.conftest import History

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

INSERTED = factories.T0 + timedelta(milliseconds=100)
SCANNED = factories.T0 + timedelta(milliseconds=400)  # the scan reads the hotel
DELETED = factories.T0 + timedelta(milliseconds=600)  # while the scan runs, the hotel is deleted
OPERATOR_CLOCK = SCANNED + timedelta(seconds=1.5)  # 09:00:01.9: the next second, by the operator's machine


class OperatorClock(datetime):
    """The replay machine's clock, 1.5 s ahead of DynamoDB's."""

    @classmethod
    def now(cls, tz: Any = None) -> OperatorClock:
        return cls.fromtimestamp(OPERATOR_CLOCK.timestamp(), tz or UTC)


@pytest.mark.parametrize(
    "projected, delivered, scan_outcome",
    [
        ("projected", "after the replay wrote", "stale"),  # the stream's copy of the insert ranks above the scan's
        ("projected", "before the replay wrote", "stale"),
        ("lost", "after the replay wrote", "applied"),  # the replay repairs the document, then the removal wins
        ("lost", "before the replay wrote", "stale"),  # the removal's tombstone ranks above the scanned item
    ],
)
def test_an_item_deleted_while_the_scan_ran_stays_deleted_in_search(
    history: History, replay: Any, monkeypatch: pytest.MonkeyPatch, projected: str, delivered: str, scan_outcome: str
) -> None:
    hotel = factories.hotel("trip-scan")
    history.write(factories.insert(hotel, INSERTED))
    if projected == "projected":  # else the live document was lost: what a replay into the live table repairs
        history.project_like_the_consumers()
    removal = factories.remove(factories.written(hotel, INSERTED), DELETED)
    scan_table = sources.scan_table

    def scan_then_delete(*args: Any) -> Iterator[sources.ReadBatch]:
        pages = scan_table(*args)
        first = next(pages)  # the scan has read the hotel: TripTable deletes it, the stream carries the REMOVE
        history.write(removal)
        if delivered == "before the replay wrote":
            history.project_like_the_consumers()
        yield first
        yield from pages

    monkeypatch.setattr(sources, "datetime", OperatorClock)
    monkeypatch.setattr(run, "scan_table", scan_then_delete)

    code, result = replay("run", "--source", "table", "--segments", "1")
    history.project_like_the_consumers()  # the live consumer delivers (again) everything, the REMOVE last

    assert code == 0, result
    assert {name: result["total"][name] for name in ("read", "applied", "stale")} == {
        "read": 1,
        "applied": int(scan_outcome == "applied"),
        "stale": int(scan_outcome == "stale"),
    }
    item = history.search_table.get_item(Key={"trip_id": "trip-scan"}, ConsistentRead=True)["Item"]
    assert {key: item[key] for key in ("trip_id", "updated_at")} == {
        "trip_id": "trip-scan",
        "updated_at": "2026-03-01T09:00:00Z",
    }
    assert "hotel_name" not in item and "hotel_status" not in item
    assert item["versions"]["HOTEL"]["removed"] is True
    assert "expires_at" in item  # a tombstone: absent from both indexes and from GET /trips/{trip_id}
