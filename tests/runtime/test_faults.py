"""The fault switches of `python -m local_runtime up`: throttled search-table requests, consumer invocations that
crash or time out after their first write, all counted in the status document.

A runtime of its own: every search-table write and BatchGetItem is throttled, and every consumer invocation that
writes either crashes or times out (one draw decides between them, half and half).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_runtime.faults.injection import THROTTLE_MESSAGE
from tests.local_runtime_session import RunningRuntime, eventually, running_runtime
from tests.runtime.conftest import RecorderFunction, deploy_recorder

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("faults")]

# Every faulted invocation ends its sandbox: the next one starts cold, and a cold start past Lambda's 10 s of Init
# eats into the timeout. Long enough that a busy machine's cold start and first write fit, so that only an injected
# timeout times out; each injected one costs this long.
RECORDER_TIMEOUT_S = 20
FAULTS = ("--fault-throttle", "1", "--fault-crash", "0.5", "--fault-timeout", "0.5", "--seed", "3")


@pytest.fixture(scope="module")
def faulty_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    with running_runtime(tmp_path_factory.mktemp("faulty-runtime"), *FAULTS) as runtime:
        yield runtime


@pytest.fixture
def recorder(faulty_runtime: RunningRuntime) -> RecorderFunction:
    return deploy_recorder(faulty_runtime, timeout_s=RECORDER_TIMEOUT_S)


@pytest.fixture
def plain_table(faulty_runtime: RunningRuntime) -> str:
    """A table that is not the search table: never throttled."""
    name = f"fault-test-{uuid.uuid4().hex[:8]}"
    faulty_runtime.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=60)  # each faulted answer seen as it came


def _error(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    response: dict[str, Any] = raised.value.response
    return {
        "code": response["Error"]["Code"],
        "message": response["Error"]["Message"],
        "http": response["ResponseMetadata"]["HTTPStatusCode"],
    }


def _kinesis_batch(*behaviours: dict[str, Any]) -> dict[str, Any]:
    """A Kinesis event as an event source mapping sends it, one record per behaviour of the recorder."""
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "kinesis": {
                    "sequenceNumber": f"{index + 1}",
                    "data": base64.b64encode(json.dumps(b).encode()).decode(),
                },
            }
            for index, b in enumerate(behaviours)
        ]
    }


def _items(runtime: RunningRuntime, table: str) -> list[str]:
    items = runtime.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(item["id"]["S"] for item in items)


def test_search_table_writes_and_batch_reads_are_throttled_as_dynamodb_does(
    faulty_runtime: RunningRuntime, plain_table: str
) -> None:
    # given a runtime throttling every request of the search table (--fault-throttle 1)
    dynamodb = faulty_runtime.client("dynamodb", NO_RETRIES)
    search_table = faulty_runtime.outputs["SearchTableName"]
    key = {"trip_id": {"S": "trip-throttled"}}
    before = faulty_runtime.status()["faults"]["throttle"]

    # when writes and a BatchGetItem go to the search table
    throttled = [
        _error(lambda: dynamodb.put_item(TableName=search_table, Item=key)),
        _error(lambda: dynamodb.update_item(TableName=search_table, Key=key)),
        _error(lambda: dynamodb.delete_item(TableName=search_table, Key=key)),
        _error(lambda: dynamodb.batch_write_item(RequestItems={search_table: [{"PutRequest": {"Item": key}}]})),
        _error(lambda: dynamodb.batch_get_item(RequestItems={search_table: {"Keys": [key]}})),
    ]

    # then each is answered with ProvisionedThroughputExceededException, and counted
    expected = {"code": "ProvisionedThroughputExceededException", "message": THROTTLE_MESSAGE, "http": 400}
    assert throttled == [expected] * 5
    after = faulty_runtime.status()["faults"]["throttle"]
    assert after == {"rate": 1.0, "requests": before["requests"] + 5, "injected": before["injected"] + 5}

    # and reads of the search table, and writes of other tables, are not throttled
    assert "Item" not in dynamodb.get_item(TableName=search_table, Key=key)
    dynamodb.put_item(TableName=plain_table, Item={"id": {"S": "not-throttled"}})
    assert faulty_runtime.status()["faults"]["throttle"] == after


def test_consumer_invocation_crashes_or_times_out_after_its_first_write(
    faulty_runtime: RunningRuntime, recorder: RecorderFunction, plain_table: str
) -> None:
    lambda_client = faulty_runtime.client("lambda", NO_RETRIES)
    before = faulty_runtime.status()["faults"]
    outcomes = []
    for attempt in range(4):
        # given a batch of two records, each writing an item
        event = _kinesis_batch({"put_into": plain_table}, {"put_into": plain_table})
        written_before = _items(faulty_runtime, plain_table)

        # when the function is invoked with it as an event source mapping invokes it
        response = lambda_client.invoke(FunctionName=recorder.name, Payload=json.dumps(event).encode())
        error = json.loads(response["Payload"].read())
        landed = [item for item in _items(faulty_runtime, plain_table) if item not in written_before]

        # then it crashes after the first write landed, or hangs on it until the function's timeout
        assert response["FunctionError"] == "Unhandled", attempt
        if error["errorType"] == "Runtime.ExitError":
            assert error["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
            assert landed == ["1"]
        else:
            assert error["errorType"] == "Sandbox.Timedout"
            assert error["errorMessage"].endswith(f"Error: Task timed out after {RECORDER_TIMEOUT_S}.00 seconds")
            assert landed == []
        outcomes.append(error["errorType"])
        faulty_runtime.client("dynamodb").delete_item(TableName=plain_table, Key={"id": {"S": "1"}})

    # and every injection is counted
    after = faulty_runtime.status()["faults"]
    assert after["crash"]["invocations"] == before["crash"]["invocations"] + 4
    assert after["crash"]["injected"] == before["crash"]["injected"] + outcomes.count("Runtime.ExitError")
    assert after["timeout"]["injected"] == before["timeout"]["injected"] + outcomes.count("Sandbox.Timedout")
    assert (after["invocationsInProgress"], after["requestsHeld"]) == (0, 0)


def test_consumer_invocation_that_writes_nothing_is_not_faulted(
    faulty_runtime: RunningRuntime, recorder: RecorderFunction
) -> None:
    before = faulty_runtime.status()["faults"]
    response = faulty_runtime.client("lambda", NO_RETRIES).invoke(
        FunctionName=recorder.name, Payload=json.dumps(_kinesis_batch({}, {})).encode()
    )
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"batchItemFailures": []}
    after = faulty_runtime.status()["faults"]
    assert [after[kind] for kind in ("crash", "timeout")] == [before[kind] for kind in ("crash", "timeout")]


def test_mapping_retries_a_batch_whose_invocation_crashed_or_timed_out(
    faulty_runtime: RunningRuntime, recorder: RecorderFunction, plain_table: str
) -> None:
    # given a stream with two records that write, mapped with one retry and an on-failure queue
    kinesis, sqs = faulty_runtime.client("kinesis"), faulty_runtime.client("sqs")
    stream = f"fault-stream-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    for _ in range(2):
        kinesis.put_record(StreamARN=stream_arn, Data=json.dumps({"put_into": plain_table}).encode(), PartitionKey="k")
    queue_url = sqs.create_queue(QueueName=f"fault-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    # when the mapping delivers them (every invocation that writes is faulted here)
    mapping = faulty_runtime.client("lambda").create_event_source_mapping(
        FunctionName=recorder.name,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    # then the failed batch is retried once as a function error, then pointed to
    def pointer() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    message = eventually(pointer, timeout=180)[0]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 2
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert message["KinesisBatchInfo"]["batchSize"] == 2
    shard = next(m for m in faulty_runtime.status()["eventSourceMappings"] if m["UUID"] == mapping["UUID"])
    counts = shard["shards"]["shardId-000000000000"]
    assert {key: counts[key] for key in ("invocations", "functionErrors", "retries", "recordsGivenUp")} == {
        "invocations": 2,
        "functionErrors": 2,
        "retries": 1,
        "recordsGivenUp": 2,
    }
