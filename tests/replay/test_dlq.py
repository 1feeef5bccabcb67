"""`replay dlq` on moto in-process: a redrive dry run, an expired pointer, an unknown id, a writer-contract violation.

Listing, showing and redriving a real poison record and a real exhausted batch run on the local runtime
(test_on_runtime.py).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests import factories
from tests.conftest import REGION
from tests.replay.conftest import STREAM_NAME, History

NOT_JSON = b"{not json"


def send(dlq_url: str, body: dict[str, Any]) -> str:
    return str(
        boto3.client("sqs", region_name=REGION).send_message(QueueUrl=dlq_url, MessageBody=json.dumps(body))[
            "MessageId"
        ]
    )


def poison_message(dlq_url: str) -> str:
    """What the Kinesis consumer sends for a record that is not JSON."""
    record = factories.kinesis_record(data=NOT_JSON)
    return send(
        dlq_url,
        {
            "kind": "poison-record",
            "source": "kinesis",
            "reason": "kinesis data is not JSON: Expecting property name enclosed in double quotes",
            "eventSourceARN": factories.KINESIS_ARN,
            "shardId": "shardId-000000000000",
            "sequenceNumber": record["kinesis"]["sequenceNumber"],
            "functionName": "TripSagaStack-KinesisConsumer",
            "detectedAt": "2026-03-01T09:00:00Z",
            "record": record,
        },
    )


def batch_pointer(dlq_url: str, history: History, trip_id: str) -> str:
    """The on-failure destination's message for a batch of trip_id's changes whose retries ran out."""
    history.saga(trip_id)
    shard = history.kinesis.list_shards(StreamName=STREAM_NAME)["Shards"][0]
    iterator = history.kinesis.get_shard_iterator(
        StreamName=STREAM_NAME, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )
    records = history.kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    arn = history.kinesis.describe_stream_summary(StreamName=STREAM_NAME)["StreamDescriptionSummary"]["StreamARN"]
    return send(
        dlq_url,
        {
            "requestContext": {
                "requestId": "c9b8fa9f-5a7f-4f2a-9f3b-1c2d3e4f5a6b",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:TripSagaStack-KinesisConsumer",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 3,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2026-03-01T09:05:00.000Z",
            "KinesisBatchInfo": {
                "shardId": shard["ShardId"],
                "startSequenceNumber": records[0]["SequenceNumber"],
                "endSequenceNumber": records[-1]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": "2026-03-01T09:00:00.000Z",
                "approximateArrivalOfLastRecord": "2026-03-01T09:00:02.000Z",
                "batchSize": len(records),
                "streamArn": arn,
            },
        },
    )


@pytest.fixture
def dlq(history: History, dlq_url: str) -> dict[str, str]:
    return {"poison": poison_message(dlq_url), "pointer": batch_pointer(dlq_url, history, "trip-042")}


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


def test_a_parked_writer_contract_violation_stays_when_redriven(
    history: History, dlq_url: str, search_table: Any, replay: Any
) -> None:
    v1 = factories.written(factories.hotel("trip-043"), factories.later(0))
    v2 = factories.written(factories.hotel("trip-043", 2, "CANCELLED"), factories.later(1))
    for change in (
        factories.Change("INSERT", v1, None, factories.later(0)),
        factories.modify(v1, v2, factories.later(1)),
    ):
        history.write(change)
    history.write(factories.remove(v2, factories.later(2)))
    history.project_like_the_consumers()
    # the consumer parked the export of version 1 put back after the removal of version 2
    record = factories.kinesis_record(factories.Change("INSERT", v1, None, factories.later(9)))
    message_id = send(
        dlq_url,
        {
            "kind": "poison-record",
            "source": "kinesis",
            "reason": "the item went back to an older version",
            "eventSourceARN": factories.KINESIS_ARN,
            "shardId": "shardId-000000000000",
            "sequenceNumber": record["kinesis"]["sequenceNumber"],
            "functionName": "TripSagaStack-KinesisConsumer",
            "detectedAt": "2026-03-01T09:09:00Z",
            "record": record,
        },
    )
    went_back = (
        "1 change(s) could not be projected into TripSearchTable, first: trip trip-043 HOTEL v1: HOTEL INSERT of "
        "version 1 (created_at 2026-03-01T09:00:00+00:00) seen after the removal of version 2 (created_at "
        "2026-03-01T09:00:00+00:00): the item went back to an older version; writer contract: write it with a "
        "version above 2"
    )

    dry_code, dry_results = replay("dlq", "redrive", message_id, "--dry-run")
    code, results = replay("dlq", "redrive", message_id)

    assert (dry_code, [(r["handled"], r["reason"]) for r in dry_results]) == (1, [(False, went_back)])
    assert (code, [(r["handled"], r["reason"]) for r in results]) == (1, [(False, went_back)])
    assert "hotel_name" not in search_table.get_item(Key={"trip_id": "trip-043"})["Item"]
