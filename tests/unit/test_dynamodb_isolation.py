"""The local runtime's DynamoDB keeps AWS's isolation: a refused transaction writes nothing, a transaction that
fails part-way leaves nothing behind, and concurrent requests lose no write nor stream record.

Source: DynamoDB developer guide, "Amazon DynamoDB Transactions: How it works" (all-or-nothing;
"Isolation levels for DynamoDB transactions": serializable with every single-item write).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_runtime.emulator.dynamodb_isolation import dynamodb_isolation
from tests.conftest import REGION, create_trip_table

FENCE = {"PK": {"S": "TRIP#t-1"}, "SK": {"S": "SAGA#execution-a"}}


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws(), dynamodb_isolation():
        client = boto3.client("dynamodb", region_name=REGION)
        create_trip_table(boto3.resource("dynamodb", region_name=REGION))
        yield client


def item(sk: str, **attributes: str) -> dict[str, Any]:
    return {"PK": {"S": "TRIP#t-1"}, "SK": {"S": sk}, **{name: {"S": value} for name, value in attributes.items()}}


def fenced_put(sk: str) -> list[dict[str, Any]]:
    """A forward write as the saga sends it: a check that the fence is absent, and the put."""
    return [
        {"ConditionCheck": {"TableName": "TripTable", "Key": FENCE, "ConditionExpression": "attribute_not_exists(PK)"}},
        {"Put": {"TableName": "TripTable", "Item": item(sk, status="CONFIRMED")}},
    ]


def stream_reader(client: Any) -> Any:
    """A reader of the table's stream from its start, as the projection's pollers read it."""
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = client.describe_table(TableName="TripTable")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")

    def read() -> list[tuple[str, str]]:
        nonlocal iterator
        page = streams.get_records(ShardIterator=iterator["ShardIterator"])
        iterator = {"ShardIterator": page["NextShardIterator"]}
        return [(record["eventName"], record["dynamodb"]["Keys"]["SK"]["S"]) for record in page["Records"]]

    return read


def table_keys(client: Any) -> list[str]:
    return sorted(entry["SK"]["S"] for entry in client.scan(TableName="TripTable")["Items"])


def test_a_refused_transaction_writes_nothing_and_the_stream_goes_on(dynamodb: Any) -> None:
    read = stream_reader(dynamodb)
    dynamodb.put_item(TableName="TripTable", Item=FENCE)

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=fenced_put("FLIGHT"))
    dynamodb.put_item(TableName="TripTable", Item=item("HOTEL", status="CONFIRMED"))

    assert refused.value.response["CancellationReasons"] == [
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
        {"Code": "None"},
    ]
    assert table_keys(dynamodb) == ["HOTEL", "SAGA#execution-a"]
    # the reader that was reading before the refusal sees the write after it
    assert read() == [("INSERT", "SAGA#execution-a"), ("INSERT", "HOTEL")]


def test_a_refusal_returns_the_item_it_saw_when_asked(dynamodb: Any) -> None:
    dynamodb.put_item(TableName="TripTable", Item={**FENCE, "reason": {"S": "compensating"}})
    actions = fenced_put("FLIGHT")
    actions[0]["ConditionCheck"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=actions)

    assert refused.value.response["CancellationReasons"][0] == {
        "Code": "ConditionalCheckFailed",
        "Message": "The conditional request failed",
        "Item": {**FENCE, "reason": {"S": "compensating"}},
    }


def test_a_transaction_failing_part_way_leaves_no_write_and_no_stream_record(dynamodb: Any) -> None:
    read = stream_reader(dynamodb)
    dynamodb.put_item(TableName="TripTable", Item=item("HOTEL", status="CONFIRMED"))
    malformed_update = {
        "Update": {
            "TableName": "TripTable",
            "Key": {"PK": {"S": "TRIP#t-1"}, "SK": {"S": "HOTEL"}},
            "UpdateExpression": "SET #status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":other": {"S": "CANCELLED"}},  # :status is never given
        }
    }

    with pytest.raises(ClientError) as failed:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "TripTable", "Item": item("FLIGHT", status="CONFIRMED")}},
                malformed_update,
            ]
        )

    assert failed.value.response["Error"]["Code"] == "ValidationException"
    assert table_keys(dynamodb) == ["HOTEL"]
    assert dynamodb.get_item(TableName="TripTable", Key={"PK": {"S": "TRIP#t-1"}, "SK": {"S": "HOTEL"}})[
        "Item"
    ] == item("HOTEL", status="CONFIRMED")
    assert read() == [("INSERT", "HOTEL")]


def test_concurrent_writes_beside_refused_transactions_are_all_kept(dynamodb: Any) -> None:
    read = stream_reader(dynamodb)
    dynamodb.put_item(TableName="TripTable", Item=FENCE)
    writers, writes_each = 4, 25
    refusals: list[str] = []

    def write(worker: int) -> None:
        client = boto3.client("dynamodb", region_name=REGION)
        for n in range(writes_each):
            client.put_item(TableName="TripTable", Item=item(f"NOTE#{worker}#{n:02}"))

    def refuse() -> None:
        client = boto3.client("dynamodb", region_name=REGION)
        for _ in range(writes_each):
            try:
                client.transact_write_items(TransactItems=fenced_put("FLIGHT"))
            except ClientError as error:
                refusals.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(writers)]
    threads += [threading.Thread(target=refuse) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    notes = [f"NOTE#{worker}#{n:02}" for worker in range(writers) for n in range(writes_each)]
    assert refusals == ["TransactionCanceledException"] * (writers * writes_each)
    assert table_keys(dynamodb) == sorted([*notes, "SAGA#execution-a"])
    records = read()
    assert sorted(records) == sorted([("INSERT", "SAGA#execution-a"), *(("INSERT", note) for note in notes)])
