"""`trip-replay audit` on moto: drift injected behind the projection's back is reported field by field (exit 1),
repaired only with --repair, and gone after; a trip, a segment or every trip; mistakes are one error line."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from replay.cli import app
from tests import factories
from tests.replay.conftest import History

SETTLED = ("--settle-seconds", "0")  # nothing in flight on moto: the consumers here are the test's own


@pytest.fixture
def drifted(history: History) -> History:
    """Eight trips projected by the consumers, then four drifted: a document deleted, one altered, one put back for
    a trip removed from TripTable, and a change that never reached the search table."""
    for number in range(1, 9):
        history.saga(f"trip-{number:03d}", minute=number)
    for entity in ("PAYMENT", "HOTEL", "FLIGHT"):
        history.write(factories.remove(item(history, "trip-003", entity), at=factories.later(30)))
    history.project_like_the_consumers()
    search = history.search_table
    search.delete_item(Key={"trip_id": "trip-001"})
    search.put_item(Item={**search.get_item(Key={"trip_id": "trip-002"})["Item"], "hotel_name": "Hotel Nowhere"})
    tombstone = search.get_item(Key={"trip_id": "trip-003"})["Item"]
    alive = search.get_item(Key={"trip_id": "trip-005"})["Item"]
    search.put_item(Item={**alive, "trip_id": "trip-003", "revision": tombstone["revision"]})  # a bad restore
    flight = item(history, "trip-004", "FLIGHT")
    history.trip_table.put_item(Item={**flight, "status": "DELAYED", "version": flight["version"] + 1})
    return history


def item(history: History, trip_id: str, entity: str) -> dict[str, Any]:
    key = {"PK": f"TRIP#{trip_id}", "SK": factories.SORT_KEYS[entity].format(trip_id)}
    return dict(history.trip_table.get_item(Key=key)["Item"])


def test_no_drift_is_exit_0(history: History, replay: Any) -> None:
    for number in range(1, 5):
        history.saga(f"trip-{number:03d}", payment_fails=number == 2, minute=number)
    history.project_like_the_consumers()

    code, report = replay("audit", *SETTLED)

    assert (code, report["trips"], report["drifted"], report["findings"]) == (0, 4, 0, [])


def test_drift_is_reported_field_by_field_and_left_alone_without_repair(drifted: History, replay: Any) -> None:
    code, report = replay("audit", *SETTLED)

    assert (code, report["drifted"], report["repaired"], report["repair"]) == (1, 4, 0, False)
    kinds = {finding["trip_id"]: finding["kind"] for finding in report["findings"]}
    assert kinds == {"trip-001": "missing", "trip-002": "altered", "trip-003": "resurrected", "trip-004": "behind"}
    altered = next(finding for finding in report["findings"] if finding["trip_id"] == "trip-002")
    assert altered["differences"] == [
        {"field": "hotel_name", "search": "Hotel Nowhere", "trip_table": "Grand Hotel Tokyo"}
    ]
    assert "Item" not in drifted.search_table.get_item(Key={"trip_id": "trip-001"})


def test_repair_re_projects_each_drifted_trip_and_a_second_audit_finds_nothing(drifted: History, replay: Any) -> None:
    code, report = replay("audit", "--repair", *SETTLED)

    assert (code, report["drifted"], report["repaired"]) == (1, 4, 4)
    assert replay("audit", *SETTLED)[1]["drifted"] == 0
    search = drifted.search_table
    assert search.get_item(Key={"trip_id": "trip-002"})["Item"]["hotel_name"] == "Grand Hotel Tokyo"
    assert search.get_item(Key={"trip_id": "trip-004"})["Item"]["flight_status"] == "DELAYED"
    assert "expires_at" in search.get_item(Key={"trip_id": "trip-003"})["Item"]


def test_a_trip_or_the_segments_of_a_cut_audit_what_they_name(drifted: History, replay: Any) -> None:
    code, report = replay("audit", "--trip-id", "trip-002", "--trip-id", "trip-006", *SETTLED)

    assert (code, report["trips"], report["scope"]) == (1, 2, "2 trips named")
    assert [finding["trip_id"] for finding in report["findings"]] == ["trip-002"]
    found = set()
    for segment in range(3):
        segment_report = replay("audit", "--segment", str(segment), "--segments", "3", *SETTLED)[1]
        assert segment_report["scope"] == f"segment {segment} of 3"
        found |= {finding["trip_id"] for finding in segment_report["findings"]}
    assert found == {"trip-001", "trip-002", "trip-003", "trip-004"}


def test_the_text_report_names_each_field_and_says_it_only_reported(drifted: History) -> None:
    result = CliRunner().invoke(app, ["audit", "--trip-id", "trip-002", *SETTLED])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "drifted trip-002: altered, not repaired",
        "  hotel_name: search 'Hotel Nowhere', TripTable 'Grand Hotel Tokyo'",
        "audit of TripSearchTable: 1 trip named",
        "1 trip read: 1 drifted, 0 repaired, 0 in flight (3.0 read units)",
        "report only: run again with --repair to re-project the drifted trips from TripTable",
    ]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--segment", "1"), "--segment N and --segments M go together"),
        (("--segments", "4"), "--segment N and --segments M go together"),
        (("--segment", "4", "--segments", "4"), "--segment 4 is not one of --segments 4 (0 to 3)"),
        (("--trip-id", "trip-001", "--segment", "0", "--segments", "2"), "leave out --segment and --segments"),
        (("--segments", "0"), "--segments"),
        (("--settle-seconds", "-1"), "--settle-seconds"),
        (("--trip-id", " "), "--trip-id"),
    ],
)
def test_a_mistake_is_one_error_line_and_exit_2(stack: Any, args: tuple[str, ...], fragment: str) -> None:
    result = CliRunner().invoke(app, ["audit", *args])

    assert (result.exit_code, result.stdout) == (2, "")
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and fragment in line
