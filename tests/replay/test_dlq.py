"""`replay dlq` on moto in-process: a redrive dry run, an expired pointer, an unknown id.

Listing, showing and redriving a real poison record and a real exhausted batch run on the local runtime
(test_on_runtime.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.replay.conftest import History
from tests.replay.dlq_messages import kinesis_pointer, kinesis_poison, send

pytestmark = pytest.mark.usefixtures("quick_queue_reads")

@pytest.fixture
def dlq(history: History, dlq_url: str) -> dict[str, str]:
    return {"poison": kinesis_poison(dlq_url), "pointer": kinesis_pointer(dlq_url, history, "trip-042")}


def test_redrive_dry_run_changes_nothing(dlq: dict[str, str], search_table: Any, replay: Any) -> None:
    code, results = replay("dlq", "redrive", "--all", "--dry-run")

    assert code == 1  # the poison record would stay
    assert [(r["handled"], r["reason"]) for r in results][1] == (True, "would be projected")
    assert "Item" not in search_table.get_item(Key={"trip_id": "trip-042"})
    _, listed = replay("dlq", "list")
    assert sorted(m["message_id"] for m in listed) == sorted(dlq.values())


def test_an_expired_stream_pointer_says_so_and_offers_the_kinesis_window(stack: Any, dlq_url: str, replay: Any) -> None:
    # moto cannot trim a stream: a stream that no longer exists answers the same way (ResourceNotFound)
    gone_stream = (
        "arn:aws:dynamodb:us-east-1:123456789012:table/TripTable-before-restore/stream/2026-02-01T00:00:00.000"
    )
    pointer = send(
        dlq_url,
        {
            "requestContext": {"condition": "RecordAgeExceeded", "approximateInvokeCount": 1},
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "DDBStreamBatchInfo": {
                "shardId": "shardId-00000001700000000000-gone",
                "startSequenceNumber": "100000000000000000001",
                "endSequenceNumber": "100000000000000000005",
                "approximateArrivalOfFirstRecord": "2026-03-01T09:00:00Z",
                "approximateArrivalOfLastRecord": "2026-03-01T09:10:00Z",
                "batchSize": 5,
                "streamArn": gone_stream,
            },
        },
    )

    code, shown = replay("dlq", "show", pointer)

    assert code == 0, shown
    assert "no longer has these records" in shown["expired"]
    assert shown["kinesis_window"] == "python -m replay run --from 2026-03-01T08:59:00Z --to 2026-03-01T09:11:00Z"


def test_an_unknown_message_id_is_bad_input(dlq: dict[str, str], replay: Any) -> None:
    code, output = replay("dlq", "show", "no-such-id")

    assert code == 2
    assert "no message no-such-id in the DLQ" in output
