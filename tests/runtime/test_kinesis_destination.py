"""The table's Kinesis streaming destination copies every change, in the Kinesis record format, and loses none
while Kinesis refuses the puts."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local_runtime.emulator.aws_clients import Endpoint
from local_runtime.streams.kinesis_destination import DeliveryFaults, KinesisForwarder, StreamingDestination
from tests.local_runtime_session import REGION, RunningRuntime, eventually

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]


@pytest.fixture
def destination(local_runtime: RunningRuntime) -> StreamingDestination:
    """A table with a stream, and the ARN of a Kinesis stream that does not exist (yet)."""
    dynamodb, kinesis = local_runtime.client("dynamodb"), local_runtime.client("kinesis")
    suffix = uuid.uuid4().hex[:8]
    table = dynamodb.create_table(
        TableName=f"copied-{suffix}",
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in (("PK", "HASH"), ("SK", "RANGE"))],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in ("PK", "SK")],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    kinesis.create_stream(StreamName=f"copy-{suffix}", ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName=f"copy-{suffix}")["StreamDescriptionSummary"]["StreamARN"]
    kinesis.delete_stream(StreamName=f"copy-{suffix}")
    return StreamingDestination(table["TableName"], table["LatestStreamArn"], stream_arn, "MICROSECOND")


@pytest.fixture
def forwarder(local_runtime: RunningRuntime, destination: StreamingDestination) -> Iterator[KinesisForwarder]:
    endpoint = Endpoint(local_runtime.endpoint_url, REGION)
    copying = KinesisForwarder(destination, endpoint, DeliveryFaults(), poll_interval_s=0.1, rng=random.Random(7))
    copying.start()
    yield copying
    copying.stop()


def _records(runtime: RunningRuntime, stream_arn: str) -> list[dict[str, Any]]:
    kinesis = runtime.client("kinesis")
    shard = kinesis.list_shards(StreamARN=stream_arn)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamARN=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    response = kinesis.get_records(StreamARN=stream_arn, ShardIterator=iterator["ShardIterator"])
    return [json.loads(record["Data"]) for record in response["Records"]]


def test_a_change_kinesis_refused_is_held_back_and_put_once_the_stream_accepts(
    local_runtime: RunningRuntime, destination: StreamingDestination, forwarder: KinesisForwarder
) -> None:
    item = {"PK": {"S": "TRIP#copy-1"}, "SK": {"S": "FLIGHT#NH001"}, "version": {"N": "1"}}
    local_runtime.client("dynamodb").put_item(TableName=destination.table_name, Item=item)

    refused = eventually(lambda: (s := forwarder.status())["recordsHeldBack"] == 1 and s)
    stream_name = destination.kinesis_stream_arn.split("/")[-1]
    local_runtime.client("kinesis").create_stream(StreamName=stream_name, ShardCount=1)
    copied = eventually(lambda: (s := forwarder.status())["recordsPut"] == 1 and s)

    assert (refused["recordsPut"], refused["caughtUp"]) == (0, False)
    assert (copied["recordsHeldBack"], copied["StreamARN"]) == (0, destination.kinesis_stream_arn)
    eventually(lambda: forwarder.status()["caughtUp"])
    [record] = _records(local_runtime, destination.kinesis_stream_arn)
    assert (record["eventName"], record["tableName"], record["recordFormat"]) == (
        "INSERT",
        destination.table_name,
        "application/json",
    )
    assert record["dynamodb"]["Keys"] == {"PK": item["PK"], "SK": item["SK"]}
    assert record["dynamodb"]["NewImage"] == item
    assert record["dynamodb"]["ApproximateCreationDateTimePrecision"] == "MICROSECOND"
    assert "SequenceNumber" not in record["dynamodb"]


def test_duplicates_are_put_as_the_same_record_twice_and_counted(
    local_runtime: RunningRuntime, destination: StreamingDestination
) -> None:
    # given a forwarder that duplicates every change (--kinesis-duplicates 1) into a stream that exists
    stream_name = destination.kinesis_stream_arn.split("/")[-1]
    local_runtime.client("kinesis").create_stream(StreamName=stream_name, ShardCount=1)
    endpoint = Endpoint(local_runtime.endpoint_url, REGION)
    faults = DeliveryFaults(duplicate_rate=1.0)
    copying = KinesisForwarder(destination, endpoint, faults, poll_interval_s=0.1, rng=random.Random(7))
    copying.start()
    try:
        # when three changes are made
        for number in range(3):
            item = {"PK": {"S": f"TRIP#dup-{number}"}, "SK": {"S": "FLIGHT#NH001"}, "version": {"N": "1"}}
            local_runtime.client("dynamodb").put_item(TableName=destination.table_name, Item=item)

        # then each is put twice, in order, and the status counts the three second copies
        status = eventually(lambda: (s := copying.status())["recordsPut"] == 6 and s["caughtUp"] and s)
    finally:
        copying.stop()
    assert (status["duplicatesPut"], status["recordsReordered"]) == (3, 0)
    records = _records(local_runtime, destination.kinesis_stream_arn)
    assert [record["dynamodb"]["Keys"]["PK"]["S"] for record in records] == [
        f"TRIP#dup-{number}" for number in range(3) for _ in range(2)
    ]
    assert [record["eventID"] for record in records[::2]] == [record["eventID"] for record in records[1::2]]
