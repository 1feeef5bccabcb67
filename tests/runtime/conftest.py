"""Fixtures of the runtime tests: a function whose handler the test controls (the runtime itself is shared, see
tests/local_runtime_session.py)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_runtime.scenarios import SEED_COMPENSATED, SEED_SUCCESS, STATUS_FIELDS
from tests.local_runtime_session import RunningRuntime, eventually

FUNCTIONS_DIR = Path(__file__).parent / "functions"


@dataclass(frozen=True)
class RecorderFunction:
    name: str
    arn: str
    recording_queue_url: str

    def invocations(self, sqs: Any) -> list[list[str]]:
        """The sequence numbers of each invocation so far, in order."""
        batches: list[list[str]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.recording_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return batches
            for message in messages:
                batches.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.recording_queue_url, ReceiptHandle=message["ReceiptHandle"])


RECORDER_TIMEOUT_S = 60


def _code_package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.write(FUNCTIONS_DIR / "batch_recorder.py", "batch_recorder.py")
    return buffer.getvalue()


@pytest.fixture
def test_function(local_runtime: RunningRuntime) -> RecorderFunction:
    """A fresh function (and recording queue) whose handler the test controls through its records."""
    return deploy_recorder(local_runtime)


def deploy_recorder(
    local_runtime: RunningRuntime, timeout_s: int = RECORDER_TIMEOUT_S, environment: dict[str, str] | None = None
) -> RecorderFunction:
    """Deploy the batch recorder as a new function with a recording queue of its own (and `environment`); its
    timeout is generous (a busy machine's cold start takes seconds) unless a test of timeouts sets a short one."""
    suffix = uuid.uuid4().hex[:8]
    role = local_runtime.client("iam").create_role(
        RoleName=f"batch-recorder-{suffix}", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    queue_url = local_runtime.client("sqs").create_queue(QueueName=f"recording-{suffix}")["QueueUrl"]
    function = local_runtime.client("lambda").create_function(
        FunctionName=f"batch-recorder-{suffix}",
        Runtime="python3.12",
        Role=role,
        Handler="batch_recorder.lambda_handler",
        Code={"ZipFile": _code_package()},
        Timeout=timeout_s,
        Environment={
            "Variables": {
                "RECORDING_QUEUE_URL": queue_url,
                "GREETING": "hello from the function",
                **(environment or {}),
            }
        },
    )
    return RecorderFunction(function["FunctionName"], function["FunctionArn"], queue_url)


@pytest.fixture
def unbooked_seed_trips(local_runtime: RunningRuntime) -> None:
    """The seed's trips as on a fresh stack: their TripTable items deleted and the deletions projected.

    The runtime is shared by the session, and a trip booked by one test's execution is held by it: another
    execution for the same trip would be refused (TripAlreadyBooked), as on AWS.
    """
    trip_table = local_runtime.client("dynamodb")
    for saga in (SEED_SUCCESS, SEED_COMPENSATED):
        trip_id = saga["trip_id"]
        for entity in ("FLIGHT", "HOTEL", "PAYMENT"):
            key = {"PK": {"S": f"TRIP#{trip_id}"}, "SK": {"S": f"{entity}#{entity.lower()}_for_{trip_id}"}}
            trip_table.delete_item(TableName=local_runtime.outputs["TripTableName"], Key=key)

        def unbooked(trip_id: str = trip_id) -> bool:
            item = trip_table.get_item(
                TableName=local_runtime.outputs["SearchTableName"], Key={"trip_id": {"S": trip_id}}, ConsistentRead=True
            ).get("Item", {})
            return not any(field in item for field in STATUS_FIELDS)

        eventually(unbooked, timeout=180)
