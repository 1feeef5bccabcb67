"""Event source mappings behave as Lambda's: partial batch responses, bisection, retries, on-failure pointers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.local_runtime_session import RunningRuntime, eventually
from tests.runtime.conftest import RecorderFunction

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]


def _kinesis_stream_with(runtime: RunningRuntime, behaviours: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """A one-shard stream holding one record per behaviour; returns its ARN and the sequence numbers."""
    kinesis = runtime.client("kinesis")
    name = f"esm-test-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    numbers = [
        kinesis.put_record(StreamARN=arn, Data=json.dumps(behaviour).encode(), PartitionKey="k")["SequenceNumber"]
        for behaviour in behaviours
    ]
    return arn, numbers


def _queue(runtime: RunningRuntime) -> tuple[str, str]:
    sqs = runtime.client("sqs")
    url = sqs.create_queue(QueueName=f"on-failure-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _messages(runtime: RunningRuntime, queue_url: str) -> list[dict[str, Any]]:
    response = runtime.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in response.get("Messages", [])]


def _invocations_until(runtime: RunningRuntime, function: RecorderFunction, count: int) -> list[list[str]]:
    sqs = runtime.client("sqs")
    seen: list[list[str]] = []

    def enough() -> bool:
        seen.extend(function.invocations(sqs))
        return len(seen) >= count

    eventually(enough)
    return seen


def test_partial_batch_failure_resumes_from_the_lowest_failed_record(
    local_runtime: RunningRuntime, test_function: RecorderFunction
) -> None:
    # given five records, the third and fourth reported as failed once
    behaviours = [{}, {}, {"fail_times": 1}, {"fail_times": 1}, {}]
    stream_arn, numbers = _kinesis_stream_with(local_runtime, behaviours)

    # when a mapping with ReportBatchItemFailures delivers them
    local_runtime.client("lambda").create_event_source_mapping(
        FunctionName=test_function.name,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    # then the retry starts at the third record and carries everything after it
    assert _invocations_until(local_runtime, test_function, 2) == [numbers, numbers[2:]]


def test_failing_batch_is_bisected_and_the_failed_record_is_pointed_to(
    local_runtime: RunningRuntime, test_function: RecorderFunction
) -> None:
    # given four records, the third failing every invocation it is part of
    stream_arn, numbers = _kinesis_stream_with(local_runtime, [{}, {}, {"raise": True}, {}])
    queue_url, queue_arn = _queue(local_runtime)

    # when a mapping that bisects on error, retries once, and has an on-failure queue delivers them
    local_runtime.client("lambda").create_event_source_mapping(
        FunctionName=test_function.name,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    # then halves are retried without using up retries; the lone bad record is retried once, then skipped
    first, second, third, fourth = numbers
    expected = [numbers, [first, second], [third, fourth], [third], [third], [fourth]]
    assert _invocations_until(local_runtime, test_function, 6) == expected
    message = eventually(lambda: _messages(local_runtime, queue_url))[0]
    assert message["KinesisBatchInfo"] == {
        "shardId": "shardId-000000000000",
        "startSequenceNumber": third,
        "endSequenceNumber": third,
        "approximateArrivalOfFirstRecord": message["KinesisBatchInfo"]["approximateArrivalOfFirstRecord"],
        "approximateArrivalOfLastRecord": message["KinesisBatchInfo"]["approximateArrivalOfFirstRecord"],
        "batchSize": 1,
        "streamArn": stream_arn,
    }
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["functionArn"] == test_function.arn
    assert message["requestContext"]["approximateInvokeCount"] == 4
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert message["version"] == "1.0"


def test_exhausted_dynamodb_stream_batch_lands_in_the_queue_in_aws_shape(
    local_runtime: RunningRuntime, test_function: RecorderFunction
) -> None:
    # given a table whose stream holds three changes, the second one failing every time
    dynamodb = local_runtime.client("dynamodb")
    table = f"esm-table-{uuid.uuid4().hex[:8]}"
    stream_arn = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    for key, behaviour in (("a", {}), ("b", {"raise": True}), ("c", {})):
        dynamodb.put_item(TableName=table, Item={"id": {"S": key}, "behaviour": {"S": json.dumps(behaviour)}})
    queue_url, queue_arn = _queue(local_runtime)

    # when the mapping retries twice without bisecting
    local_runtime.client("lambda").create_event_source_mapping(
        FunctionName=test_function.name,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    # then the batch is invoked three times, and the pointer names exactly its first and last record
    streams = local_runtime.client("dynamodbstreams")
    shard_id = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    invocations = _invocations_until(local_runtime, test_function, 3)
    assert len(invocations) == 3 and invocations[0] == invocations[1] == invocations[2]
    message = eventually(lambda: _messages(local_runtime, queue_url))[0]
    batch = message["DDBStreamBatchInfo"]
    assert (batch["shardId"], batch["batchSize"], batch["streamArn"]) == (shard_id, 3, stream_arn)
    assert [batch["startSequenceNumber"], batch["endSequenceNumber"]] == [invocations[0][0], invocations[0][-1]]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert sorted(message) == ["DDBStreamBatchInfo", "requestContext", "responseContext", "timestamp", "version"]

    # and reading the stream from the pointer finds the failed records
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn,
        ShardId=shard_id,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["startSequenceNumber"],
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator, Limit=batch["batchSize"])["Records"]
    assert [record["dynamodb"]["Keys"]["id"]["S"] for record in records] == ["a", "b", "c"]


def test_shards_opened_by_a_split_are_read_after_their_parent(
    local_runtime: RunningRuntime, test_function: RecorderFunction
) -> None:
    # given a stream whose only shard is split after two records
    stream_arn, before = _kinesis_stream_with(local_runtime, [{}, {}])
    kinesis = local_runtime.client("kinesis")
    local_runtime.client("lambda").create_event_source_mapping(
        FunctionName=test_function.name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    assert _invocations_until(local_runtime, test_function, 1) == [before]
    kinesis.split_shard(StreamARN=stream_arn, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))

    # when more records arrive, on both halves of the key space
    for key in ("0", str(2**128 - 1)):
        kinesis.put_record(StreamARN=stream_arn, Data=b"{}", PartitionKey="k", ExplicitHashKey=key)

    # then each child's record is delivered once, and the parent's records are not delivered again
    later = _invocations_until(local_runtime, test_function, 2)
    assert sorted(len(batch) for batch in later) == [1, 1]
    shards = kinesis.list_shards(StreamARN=stream_arn)["Shards"]
    assert [shard.get("ParentShardId") for shard in shards] == [None, "shardId-000000000000", "shardId-000000000000"]


def test_deleted_mapping_stops_polling(local_runtime: RunningRuntime, test_function: RecorderFunction) -> None:
    stream_arn, _ = _kinesis_stream_with(local_runtime, [])
    lambda_client = local_runtime.client("lambda")
    uuid_ = lambda_client.create_event_source_mapping(
        FunctionName=test_function.name, EventSourceArn=stream_arn, StartingPosition="LATEST"
    )["UUID"]

    def polled() -> set[str]:
        return {mapping["UUID"] for mapping in local_runtime.status()["eventSourceMappings"]}

    eventually(lambda: uuid_ in polled())
    lambda_client.delete_event_source_mapping(UUID=uuid_)
    eventually(lambda: uuid_ not in polled())
