"""Where moto and DynamoDB Local answer the same request differently, each answer pinned on its engine.

docs/local-runtime.md ("DynamoDB: moto and DynamoDB Local") lists these with the engine whose answer is AWS's
documented one, and how the product copes with both. A failure here means an engine changed: update that list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests import factories as f
from tests.dynamodb_engines import DYNAMODB_LOCAL, Engine

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local


def _number_as_answered(search_table: Any, sent: str) -> str:
    client = boto3.client("dynamodb", region_name=f.REGION)
    key = {"trip_id": {"S": f"trip-{sent}"}}
    client.put_item(TableName=search_table.name, Item={**key, "total_amount": {"N": sent}})
    answered: str = client.get_item(TableName=search_table.name, Key=key)["Item"]["total_amount"]["N"]
    return answered


@pytest.mark.parametrize(
    ("sent", "normalised"),
    [("1E+40", "1" + "0" * 40), ("1.500", "1.5"), ("00012", "12"), ("-0", "0"), ("1e-5", "0.00001")],
)
def test_a_number_comes_back_normalised_from_dynamodb_local_and_as_sent_from_moto(
    engine: Engine, search_table: Any, sent: str, normalised: str
) -> None:
    expected = normalised if engine.name == DYNAMODB_LOCAL else sent

    assert _number_as_answered(search_table, sent) == expected


def _answer_or_refusal(call: Callable[[], str]) -> str:
    """`call`'s account of what the engine answered, or the error the engine refused the request with."""
    try:
        return call()
    except ClientError as refused:
        return f"{refused.response['Error']['Code']}: {refused.response['Error']['Message']}"


def test_a_batch_write_of_26_puts_is_refused_by_dynamodb_local_and_written_by_moto(
    engine: Engine, search_table: Any
) -> None:
    puts = [{"PutRequest": {"Item": {"trip_id": {"S": f"trip-{n:02d}"}}}} for n in range(26)]

    def write() -> str:
        boto3.client("dynamodb", region_name=f.REGION).batch_write_item(RequestItems={search_table.name: puts})
        return f"written: {search_table.scan(Select='COUNT')['Count']}"

    assert _answer_or_refusal(write) == (
        "ValidationException: Too many items requested for the BatchWriteItem call"
        if engine.name == DYNAMODB_LOCAL
        else "written: 26"
    )


def test_a_start_key_that_is_no_key_of_the_table_is_refused_by_dynamodb_local_and_taken_by_moto(
    engine: Engine, search_table: Any
) -> None:
    search_table.put_item(Item={"trip_id": "trip-1"})
    start = {"trip_id": {"S": "trip-0"}, "not_a_key": {"S": "x"}}

    def scan() -> str:
        page = boto3.client("dynamodb", region_name=f.REGION).scan(TableName=search_table.name, ExclusiveStartKey=start)
        return f"items: {len(page['Items'])}"

    assert _answer_or_refusal(scan) == (
        "ValidationException: Exclusive Start Key must have same size as table's key schema"
        if engine.name == DYNAMODB_LOCAL
        else "items: 1"
    )


def _first_stream_record_time(trip_table: Any) -> datetime:
    streams = boto3.client("dynamodbstreams", region_name=f.REGION)
    shard = streams.describe_stream(StreamArn=trip_table.latest_stream_arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=trip_table.latest_stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    created: datetime = streams.get_records(ShardIterator=iterator)["Records"][0]["dynamodb"][
        "ApproximateCreationDateTime"
    ]
    return created


def test_a_stream_records_time_is_whole_minutes_on_dynamodb_local_and_milliseconds_on_moto(
    engine: Engine, trip_table: Any
) -> None:
    trip_table.put_item(Item=f.flight("trip-1"))

    created = _first_stream_record_time(trip_table)

    if engine.name == DYNAMODB_LOCAL:
        assert (created.second, created.microsecond) == (0, 0)
    else:
        assert created.microsecond % 1000 == 0
