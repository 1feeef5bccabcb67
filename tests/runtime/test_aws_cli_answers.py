"""What the project's AWS CLI (v1) gets back from the local endpoint, against AWS's documented answers.

Sources: Step Functions API reference, StartExecution (``name`` optional, "If you don't provide a name, Step
Functions generates a UUID"; errors ExecutionAlreadyExists, InvalidArn, InvalidExecutionInput, InvalidName,
StateMachineDoesNotExist, ValidationException; ``input`` at most 262144 long); Lambda API reference, Invoke
(``ExecutedVersion``; InvalidRequestContentException for a payload that is not JSON); CloudFormation,
``AWS::SQS::Queue`` (``Ref`` is the queue URL); DynamoDB API reference, DescribeKinesisStreamingDestination.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from local_runtime.scenarios import trip_input
from tests.local_runtime_session import RunningRuntime, eventually
from tests.runtime.aws_cli import CLI_V1_ERROR_EXIT, aws, aws_error, run_aws

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]


def _state_machine(runtime: RunningRuntime) -> str:
    return runtime.outputs["StateMachineArn"]


def _saga_input() -> str:
    """A trip of its own, in September: the seed's March searches stay the seed's."""
    return json.dumps(trip_input(f"cli-{uuid.uuid4().hex[:8]}", day="2026-09-07", hotel_name="CLI Hotel"))


def test_execution_started_without_a_name_is_named_with_a_uuid(local_runtime: RunningRuntime) -> None:
    # when the issue's command runs twice, without --name
    start = ["stepfunctions", "start-execution", "--state-machine-arn", _state_machine(local_runtime)]

    def start_without_a_name() -> str:
        return aws(local_runtime, *start, "--input", _saga_input(), "--query", "executionArn", "--output", "text")

    arns = [start_without_a_name(), start_without_a_name()]

    # then each execution has a name of its own, a UUID, and is found under it
    names = [arn.rsplit(":", 1)[1] for arn in arns]
    assert len(set(names)) == 2
    assert [uuid.UUID(name).version for name in names] == [4, 4]
    for arn, name in zip(arns, names, strict=True):
        described = aws(
            local_runtime, "stepfunctions", "describe-execution", "--execution-arn", arn,
            "--query", "name", "--output", "text",
        )  # fmt: skip
        assert described == name


def test_issue_11_input_that_is_not_json_fails_as_on_aws(local_runtime: RunningRuntime) -> None:
    start = ["stepfunctions", "start-execution", "--state-machine-arn", _state_machine(local_runtime)]
    completed = run_aws(local_runtime, *start, "--input", "{not json")
    assert completed.returncode == CLI_V1_ERROR_EXIT
    assert completed.stderr.strip().startswith(
        "An error occurred (InvalidExecutionInput) when calling the StartExecution operation: "
        "Invalid State Machine Execution Input: '"
    )


@pytest.mark.parametrize(
    ("arguments", "error_code"),
    [
        (["--input", '{"trip_id": "t1",}'], "InvalidExecutionInput"),
        (["--input", "{}", "--name", "two words"], "InvalidName"),
        (["--input", "{}", "--name", "slash/in/name"], "InvalidName"),
        (["--input", "{}", "--name", "n" * 81], "ValidationException"),
    ],
    ids=["trailing-comma", "space-in-name", "slash-in-name", "name-of-81"],
)
def test_start_execution_refuses_bad_input_with_aws_error_code(
    local_runtime: RunningRuntime, arguments: list[str], error_code: str
) -> None:
    start = ["stepfunctions", "start-execution", "--state-machine-arn", _state_machine(local_runtime)]
    assert aws_error(local_runtime, *start, *arguments) == error_code


def test_start_execution_refuses_an_input_over_256_kib(local_runtime: RunningRuntime, tmp_path: Path) -> None:
    too_long = tmp_path / "input.json"
    too_long.write_text(json.dumps({"pad": "x" * 262_144}))  # one argument may hold 128 KiB: pass it as a file
    start = ["stepfunctions", "start-execution", "--state-machine-arn", _state_machine(local_runtime)]
    assert aws_error(local_runtime, *start, "--input", f"file://{too_long}") == "ValidationException"


@pytest.mark.parametrize(
    ("state_machine_arn", "error_code"),
    [
        ("arn:aws:states:us-east-1:123456789012:stateMachine:NoSuchSaga", "StateMachineDoesNotExist"),
        ("not-an-arn", "InvalidArn"),
    ],
)
def test_start_execution_of_an_unknown_state_machine_is_refused(
    local_runtime: RunningRuntime, state_machine_arn: str, error_code: str
) -> None:
    start = ["stepfunctions", "start-execution", "--state-machine-arn", state_machine_arn, "--input", "{}"]
    assert aws_error(local_runtime, *start) == error_code


def test_execution_name_cannot_be_reused(local_runtime: RunningRuntime) -> None:
    name, first_input = f"once-{uuid.uuid4().hex[:8]}", _saga_input()
    start = ["stepfunctions", "start-execution", "--state-machine-arn", _state_machine(local_runtime), "--name", name]
    arn = aws(local_runtime, *start, "--input", first_input, "--query", "executionArn", "--output", "text")

    # another input under the same name, at once and after the execution ended
    assert aws_error(local_runtime, *start, "--input", _saga_input()) == "ExecutionAlreadyExists"
    stepfunctions = local_runtime.client("stepfunctions")
    eventually(lambda: stepfunctions.describe_execution(executionArn=arn)["status"] == "SUCCEEDED", timeout=180)
    # "When the original execution is closed, ExecutionAlreadyExists is returned regardless of input"
    assert aws_error(local_runtime, *start, "--input", first_input) == "ExecutionAlreadyExists"


def _search_trips(runtime: RunningRuntime) -> str:
    functions = runtime.client("lambda").list_functions()["Functions"]
    return next(f["FunctionName"] for f in functions if "SearchTrips" in f["FunctionName"])


def test_lambda_invoke_of_seed_7_3_answers_as_aws_does(local_runtime: RunningRuntime, tmp_path: Path) -> None:
    payload = '{"queryStringParameters": {"status": "CONFIRMED"}}'
    out = tmp_path / "search_response.json"
    invoke = ["lambda", "invoke", "--function-name", _search_trips(local_runtime), "--payload", payload, str(out)]
    assert json.loads(aws(local_runtime, *invoke)) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(out.read_text())["statusCode"] == 200


def test_lambda_invoke_with_a_payload_that_is_not_json_is_refused(
    local_runtime: RunningRuntime, tmp_path: Path
) -> None:
    out = tmp_path / "response.json"
    invoke = ["lambda", "invoke", "--function-name", _search_trips(local_runtime), "--payload", "{not json", str(out)]
    assert aws_error(local_runtime, *invoke) == "InvalidRequestContentException"
    assert not out.exists()


def test_queue_urls_are_on_the_local_endpoint(local_runtime: RunningRuntime) -> None:
    # the stack's output, the queue's physical id and the consumers' DLQ_URL all name the local endpoint
    dlq_url = local_runtime.outputs["DlqUrl"]
    queue_name = dlq_url.rsplit("/", 1)[1]
    assert dlq_url == f"{local_runtime.endpoint_url}/123456789012/{queue_name}"
    resources = local_runtime.client("cloudformation").describe_stack_resources(StackName="TripSagaStack")
    queues = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r.get("ResourceType") == "AWS::SQS::Queue"
    }
    [projection_dlq] = [url for logical_id, url in queues.items() if "ProjectionDeadLetterQueue" in logical_id]
    assert projection_dlq == dlq_url
    # ExecutionEnded's dead-letter queue too
    assert len(queues) == 2
    assert all(url.startswith(f"{local_runtime.endpoint_url}/123456789012/") for url in queues.values())
    functions = local_runtime.client("lambda").list_functions()["Functions"]
    consumer_dlq_urls = {
        f["Environment"]["Variables"].get("DLQ_URL") for f in functions if "Consumer" in f["FunctionName"]
    }
    assert consumer_dlq_urls == {dlq_url}
    assert local_runtime.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"] == dlq_url

    # and the alarm runbook's commands reach it (visibility 0: other tests' messages stay visible)
    queue_arn = aws(
        local_runtime, "sqs", "get-queue-attributes", "--queue-url", dlq_url, "--attribute-names", "QueueArn",
        "--query", "Attributes.QueueArn", "--output", "text",
    )  # fmt: skip
    assert queue_arn == f"arn:aws:sqs:us-east-1:123456789012:{queue_name}"
    aws(local_runtime, "sqs", "receive-message", "--queue-url", dlq_url, "--visibility-timeout", "0")


def test_kinesis_streaming_destination_of_trip_table_is_active(local_runtime: RunningRuntime) -> None:
    stream_arn = local_runtime.client("kinesis").describe_stream_summary(
        StreamName=local_runtime.outputs["ChangeStreamName"]
    )["StreamDescriptionSummary"]["StreamARN"]
    table = local_runtime.outputs["TripTableName"]
    described = aws(local_runtime, "dynamodb", "describe-kinesis-streaming-destination", "--table-name", table)
    assert json.loads(described) == {
        "TableName": table,
        "KinesisDataStreamDestinations": [
            {
                "StreamArn": stream_arn,
                "DestinationStatus": "ACTIVE",
                "ApproximateCreationDateTimePrecision": "MICROSECOND",
            }
        ],
    }


@pytest.mark.parametrize(
    "command",
    [
        ["cloudformation", "detect-stack-drift", "--stack-name", "TripSagaStack"],  # an XML (query) service
        [
            "dynamodb",
            "disable-kinesis-streaming-destination",
            "--table-name",
            "T",
            "--stream-arn",
            "arn:aws:kinesis:us-east-1:123456789012:stream/x",
        ],
    ],
    ids=["cloudformation", "dynamodb"],
)
def test_action_the_emulator_lacks_is_named_as_not_implemented(
    local_runtime: RunningRuntime, command: list[str]
) -> None:
    # moto's own answer, a 500, made the CLI retry for half a minute and then print an HTML page
    assert aws_error(local_runtime, *command) == "NotImplemented"


def test_tables_and_stream_describe_the_settings_of_the_template(local_runtime: RunningRuntime) -> None:
    # properties moto's CloudFormation accepts without applying (infra/data.py, infra/change_stream.py)
    outputs = local_runtime.outputs
    ttl = aws(local_runtime, "dynamodb", "describe-time-to-live", "--table-name", outputs["SearchTableName"])
    assert json.loads(ttl) == {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}}
    for table in (outputs["TripTableName"], outputs["SearchTableName"]):
        recovery = aws(
            local_runtime, "dynamodb", "describe-continuous-backups", "--table-name", table, "--query",
            "ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus", "--output", "text",
        )  # fmt: skip
        assert recovery == "ENABLED"
    stream = aws(
        local_runtime, "kinesis", "describe-stream-summary", "--stream-name", outputs["ChangeStreamName"], "--query",
        "StreamDescriptionSummary.[EncryptionType, KeyId, StreamModeDetails.StreamMode]", "--output", "text",
    )  # fmt: skip
    assert stream.split() == ["KMS", "alias/aws/kinesis", "ON_DEMAND"]
