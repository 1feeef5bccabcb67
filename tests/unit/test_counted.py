"""Counts in the operator tools' summaries read as English: `1 trip`, `4 trips`, `0 documents`."""

from __future__ import annotations

import pytest

from replay.terminal import counted


@pytest.mark.parametrize(
    ("number", "noun", "text"),
    [(0, "document", "0 documents"), (1, "trip", "1 trip"), (4, "trip", "4 trips"), (12_500, "trip", "12,500 trips")],
)
def test_a_count_takes_the_plural_except_for_one(number: int, noun: str, text: str) -> None:
    assert counted(number, noun) == text
