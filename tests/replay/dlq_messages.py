"""DLQ messages as AWS and the consumers send them, for resources on moto; and GetRecords' empty pages.

The batch pointers point at real records: `history` writes a trip through TripTable (its DynamoDB stream) and the
Kinesis copy, and the pointer names the first and last sequence numbers of that trip's records in the stream.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from replay.stack import Connection
from tests import factories
from tests.conftest import REGION
from tests.replay.conftest import STREAM_NAME, History

KINESIS_CONSUMER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:TripSagaStack-KinesisConsumer"
STREAM_CONSUMER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:TripSagaStack-StreamConsumer"


def send(dlq_url: str, body: dict[str, Any] | str) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    return str(boto3.client("sqs", region_name=REGION).send_message(QueueUrl=dlq_url, MessageBody=text)["MessageId"])


def kinesis_poison(dlq_url: str, data: bytes = b"{not json") -> str:
    """What the Kinesis consumer sends for a record that is not JSON."""
    record = factories.kinesis_record(data=data)
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


def stream_poison(dlq_url: str) -> str:
    """What the DynamoDB Streams consumer sends for a record without keys: Lambda's stream records name no shard."""
    record = factories.stream_record(factories.insert(factories.flight("trip-poison")))
    del record["dynamodb"]["Keys"]
    return send(
        dlq_url,
        {
            "kind": "poison-record",
            "source": "dynamodb-streams",
            "reason": "the change has no Keys",
            "eventSourceARN": factories.STREAM_ARN,
            "shardId": None,
            "sequenceNumber": record["dynamodb"]["SequenceNumber"],
            "functionName": "TripSagaStack-StreamConsumer",
            "detectedAt": "2026-03-01T09:00:00Z",
            "record": record,
        },
    )


def pointer_body(batch_info_key: str, function_arn: str, **batch_info: Any) -> dict[str, Any]:
    """An event source mapping's on-failure message (docs/CONTRACT.md, "batch pointer", and the AWS pages it cites)."""
    return {
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-4f2a-9f3b-1c2d3e4f5a6b",
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-03-01T09:05:00.000Z",
        batch_info_key: {
            "approximateArrivalOfFirstRecord": "2026-03-01T09:00:00.000Z",
            "approximateArrivalOfLastRecord": "2026-03-01T09:00:02.000Z",
            **batch_info,
        },
    }


def kinesis_pointer(
    dlq_url: str, history: History, trip_id: str, *, past_the_end: int = 0, start: str | None = None
) -> str:
    """The pointer to a failed batch of trip_id's changes in the Kinesis copy (its end `past_the_end` further,
    its start `start` when given)."""
    history.saga(trip_id)
    kinesis = history.kinesis
    shard = kinesis.list_shards(StreamName=STREAM_NAME)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=STREAM_NAME, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"][-3:]
    arn = kinesis.describe_stream_summary(StreamName=STREAM_NAME)["StreamDescriptionSummary"]["StreamARN"]
    return send(
        dlq_url,
        pointer_body(
            "KinesisBatchInfo",
            KINESIS_CONSUMER_ARN,
            shardId=shard,
            startSequenceNumber=start or records[0]["SequenceNumber"],
            endSequenceNumber=str(int(records[-1]["SequenceNumber"]) + past_the_end),
            batchSize=len(records),
            streamArn=arn,
        ),
    )


def stream_pointer(dlq_url: str, history: History, trip_id: str, *, past_the_end: int = 0) -> str:
    """The pointer to a failed batch of trip_id's changes in TripTable's DynamoDB stream."""
    history.saga(trip_id)
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = history.trip_table.latest_stream_arn
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"][-3:]
    sequences = [record["dynamodb"]["SequenceNumber"] for record in records]
    return send(
        dlq_url,
        pointer_body(
            "DDBStreamBatchInfo",
            STREAM_CONSUMER_ARN,
            shardId=shard,
            startSequenceNumber=sequences[0],
            endSequenceNumber=str(int(sequences[-1]) + past_the_end),
            batchSize=len(records),
            streamArn=arn,
        ),
    )


POINTERS: dict[str, Callable[..., str]] = {"kinesis": kinesis_pointer, "dynamodb-streams": stream_pointer}


class GetRecordsAnswers:
    """Replaces GetRecords' answers at the adapter boundary: every client the tool makes for Kinesis or DynamoDB
    Streams answers through `answer(service, request, get_records)`."""

    SERVICES = ("kinesis", "dynamodbstreams")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: Counter[str] = Counter()
        real_client = Connection.client

        def client(connection: Connection, service: str) -> Any:
            made = real_client(connection, service)
            if service in self.SERVICES:
                real = made.get_records

                def get_records(**request: Any) -> dict[str, Any]:
                    self.calls[service] += 1
                    return self.answer(service, request, real)

                made.get_records = get_records
            return made

        monkeypatch.setattr(Connection, "client", client)

    def answer(self, service: str, request: dict[str, Any], get_records: Callable[..., Any]) -> dict[str, Any]:
        raise NotImplementedError


class ClosedShard(GetRecordsAnswers):
    """The shard is closed and read to its end: the records, and no NextShardIterator (AWS's answer there)."""

    def answer(self, service: str, request: dict[str, Any], get_records: Callable[..., Any]) -> dict[str, Any]:
        page = dict(get_records(**request))
        page.pop("NextShardIterator", None)
        return page


class EmptyPages(GetRecordsAnswers):
    """GetRecords as AWS may answer it: no records and a NextShardIterator at the same position, `first` times per
    source (or always, with `first=None`), before the real (moto) stream answers."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, first: int | None) -> None:
        super().__init__(monkeypatch)
        self.first = first

    def answer(self, service: str, request: dict[str, Any], get_records: Callable[..., Any]) -> dict[str, Any]:
        if self.first is None or self.calls[service] <= self.first:
            page: dict[str, Any] = {"Records": [], "NextShardIterator": request["ShardIterator"]}
            if service == "kinesis":
                page["MillisBehindLatest"] = 0  # even "at the tip": the range is not read until its end is
            return page
        return dict(get_records(**request))
