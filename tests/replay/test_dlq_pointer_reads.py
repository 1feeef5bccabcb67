"""A batch pointer's records are read back whole, or its message stays: both sources, `dlq show` and `dlq redrive`.

GetRecords may answer with empty pages while the shard still holds the records (AWS: "it might take multiple
calls"); the stream underneath is moto's, the empty pages are GetRecords answers at the adapter boundary.
"""

from __future__ import annotations

from typing import Any

import pytest

from replay.dlq import range_read
from tests.replay.conftest import History
from tests.replay.dlq_messages import POINTERS, ClosedShard, EmptyPages, kinesis_pointer, pointer_body, send

SOURCES = list(POINTERS)
pytestmark = [pytest.mark.usefixtures("quick_queue_reads"), pytest.mark.dynamodb_conformance]  # on both engines


@pytest.fixture(autouse=True)
def no_pause_between_empty_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pause only spares the shard's read limit on AWS."""
    monkeypatch.setattr(range_read, "EMPTY_PAGE_PAUSE_S", 0.0)


@pytest.fixture
def fast_empty_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tip declared after 5 empty pages in a row (20 on AWS)."""
    monkeypatch.setattr(range_read, "MAX_EMPTY_PAGES", 5)


def listed_ids(replay: Any) -> list[str]:
    code, listed = replay("dlq", "list")
    assert code == 0, listed
    return [message["message_id"] for message in listed]


@pytest.mark.parametrize("source", SOURCES)
def test_a_pointer_behind_empty_pages_is_read_whole_and_redriven(
    source: str, history: History, dlq_url: str, search_table: Any, replay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pointer = POINTERS[source](dlq_url, history, "trip-042")
    empty = EmptyPages(monkeypatch, first=3)

    code, [redriven] = replay("dlq", "redrive", pointer)

    assert code == 0, redriven
    assert (redriven["handled"], redriven["reason"]) == (True, "projected")
    assert (redriven["tally"]["read"], redriven["tally"]["applied"]) == (3, 3)
    assert sum(empty.calls.values()) == 4  # three empty pages, then the records
    assert search_table.get_item(Key={"trip_id": "trip-042"})["Item"]["payment_status"] == "COMPLETED"
    assert pointer not in listed_ids(replay)


@pytest.mark.parametrize("source", SOURCES)
def test_show_reads_a_pointer_through_empty_pages(
    source: str, history: History, dlq_url: str, replay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pointer = POINTERS[source](dlq_url, history, "trip-042")
    EmptyPages(monkeypatch, first=2)

    code, shown = replay("dlq", "show", pointer)

    assert code == 0, shown
    assert (shown["expired"], shown["incomplete"]) == (None, None)
    assert [(r["change"]["entity"], r["change"]["event"]) for r in shown["records"]] == [
        ("FLIGHT", "INSERT"),
        ("HOTEL", "INSERT"),
        ("PAYMENT", "INSERT"),
    ]


@pytest.mark.parametrize("source", SOURCES)
def test_a_pointer_whose_records_never_come_is_kept(
    source: str,
    history: History,
    dlq_url: str,
    search_table: Any,
    replay: Any,
    monkeypatch: pytest.MonkeyPatch,
    fast_empty_pages: None,
) -> None:
    pointer = POINTERS[source](dlq_url, history, "trip-042")
    EmptyPages(monkeypatch, first=None)

    code, [redriven] = replay("dlq", "redrive", pointer)

    assert code == 1
    assert redriven["handled"] is False
    assert redriven["tally"]["read"] == 0
    assert redriven["reason"].startswith("read 0 record(s) in 5 GetRecords call(s), the last 5 empty")
    assert "Item" not in search_table.get_item(Key={"trip_id": "trip-042"})
    assert listed_ids(replay) == [redriven["replaced_by"]]


@pytest.mark.parametrize("source", SOURCES)
def test_a_pointer_whose_end_is_not_in_the_shard_is_kept_and_shown_incomplete(
    source: str, history: History, dlq_url: str, search_table: Any, replay: Any, fast_empty_pages: None
) -> None:
    # the shard (moto's, open) holds the first records of the range, then nothing up to its tip
    pointer = POINTERS[source](dlq_url, history, "trip-042", past_the_end=5)

    show_code, shown = replay("dlq", "show", pointer)
    code, [redriven] = replay("dlq", "redrive", pointer)

    assert show_code == 0, shown
    assert len(shown["records"]) == 3
    assert "without reaching the range's end" in shown["incomplete"]
    assert code == 1
    assert (redriven["handled"], redriven["tally"]["read"]) == (False, 3)
    assert redriven["reason"] == shown["incomplete"]
    assert "Item" not in search_table.get_item(Key={"trip_id": "trip-042"})
    assert listed_ids(replay) == [redriven["replaced_by"]]


@pytest.mark.parametrize("source", SOURCES)
def test_a_closed_shard_that_ends_before_the_range_does_keeps_the_message(
    source: str, history: History, dlq_url: str, search_table: Any, replay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pointer = POINTERS[source](dlq_url, history, "trip-042", past_the_end=2)
    ClosedShard(monkeypatch)

    code, [redriven] = replay("dlq", "redrive", pointer)

    assert code == 1
    assert (redriven["handled"], redriven["tally"]["read"]) == (False, 3)
    assert redriven["reason"].endswith("the shard ended before the range's end: the range cannot be shown complete")
    assert "Item" not in search_table.get_item(Key={"trip_id": "trip-042"})


def test_a_kinesis_range_whose_start_is_gone_is_expired_and_kept(
    history: History, dlq_url: str, search_table: Any, replay: Any
) -> None:
    # the shard's oldest record now comes after the pointer's start: the records before it passed the retention
    pointer = kinesis_pointer(dlq_url, history, "trip-042", start="0")

    show_code, shown = replay("dlq", "show", pointer)
    code, [redriven] = replay("dlq", "redrive", pointer)

    assert show_code == 0, shown
    assert shown["records"] == []
    assert shown["expired"].endswith(": the records from 0 to before 1 are gone")
    assert (code, redriven["handled"], redriven["reason"]) == (1, False, shown["expired"])
    assert "Item" not in search_table.get_item(Key={"trip_id": "trip-042"})


@pytest.mark.parametrize(
    ("key", "batch_info"),
    [
        ("KinesisBatchInfo", {}),  # no range at all
        ("DDBStreamBatchInfo", {"shardId": "shardId-000000000000", "startSequenceNumber": "5"}),  # no end
        ("KinesisBatchInfo", {"shardId": "shardId-0", "startSequenceNumber": "9", "endSequenceNumber": "5"}),
        ("DDBStreamBatchInfo", {"shardId": "shardId-0", "startSequenceNumber": "one", "endSequenceNumber": "5"}),
        ("KinesisBatchInfo", {"shardId": "shardId-0", "startSequenceNumber": 1, "endSequenceNumber": 5}),
        ("DDBStreamBatchInfo", {"startSequenceNumber": "1", "endSequenceNumber": "5"}),  # no shard
    ],
)
def test_a_pointer_without_a_readable_range_is_kept(
    key: str, batch_info: dict[str, Any], stack: Any, dlq_url: str, replay: Any
) -> None:
    stream = "arn:aws:kinesis:us-east-1:123456789012:stream/TripChangeStream"
    pointer = send(dlq_url, pointer_body(key, "arn:aws:lambda:us-east-1:1:function:f", streamArn=stream, **batch_info))

    code, [redriven] = replay("dlq", "redrive", pointer)

    assert code == 1
    assert redriven["handled"] is False
    assert redriven["reason"].startswith("the pointer names no readable range")
    assert listed_ids(replay) == [redriven["replaced_by"]]
