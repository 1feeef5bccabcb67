"""`trip-replay audit` prints the data as it is: a value holding rich markup (`[/]`, `[bold]`) is shown, not read."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from replay.cli import app
from tests.replay.conftest import History

SETTLED = ("--settle-seconds", "0")


@pytest.mark.parametrize("hotel_name", ["[/] Nowhere", "Hotel [/bold]", "[link=x]Inn"])
def test_the_text_report_prints_a_differing_value_as_it_is(history: History, hotel_name: str) -> None:
    """A hotel name is any text (WRITER-CONTRACT.md), and the report prints each differing value (`{value!r}`)
    through rich's `console.print`, which reads `[...]` as markup: `[/]` raises MarkupError after the audit (and
    after --repair wrote), with a traceback instead of the report; `[link=x]` is silently dropped from the value."""
    history.saga("trip-001", minute=1)
    history.project_like_the_consumers()
    search = history.search_table
    search.put_item(Item={**search.get_item(Key={"trip_id": "trip-001"})["Item"], "hotel_name": hotel_name})

    result = CliRunner().invoke(app, ["audit", "--trip-id", "trip-001", *SETTLED])

    assert result.exit_code == 1
    assert result.stdout.splitlines()[:2] == [
        "drifted trip-001: altered, not repaired",
        f"  hotel_name: search {hotel_name!r}, TripTable 'Grand Hotel Tokyo'",
    ]
