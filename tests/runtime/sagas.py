"""Driving TripSaga on the local runtime: start executions, wait for their end, read what they left."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from tests import factories as f
from tests.local_runtime_session import RunningRuntime, eventually

SEED_DOCUMENT = f.SEED_72_FIELDS  # seed 7.2, numbers as DynamoDB numbers


def start_sagas(runtime: RunningRuntime, inputs: list[dict[str, Any]]) -> list[str]:
    """Start one execution per input, at once; their ARNs."""
    stepfunctions = runtime.client("stepfunctions")
    return [
        stepfunctions.start_execution(
            stateMachineArn=runtime.outputs["StateMachineArn"],
            name=f"test-{uuid.uuid4().hex[:12]}",
            input=json.dumps(item),
        )["executionArn"]
        for item in inputs
    ]


def finished(runtime: RunningRuntime, arns: list[str]) -> list[dict[str, Any]]:
    """Wait for every execution to end; their describe-execution answers."""
    stepfunctions = runtime.client("stepfunctions")

    def described() -> list[dict[str, Any]] | None:
        found = [stepfunctions.describe_execution(executionArn=arn) for arn in arns]
        return None if any(execution["status"] == "RUNNING" for execution in found) else found

    result: list[dict[str, Any]] = eventually(described, timeout=180, interval=0.5)
    return result


def run_sagas(runtime: RunningRuntime, inputs: list[dict[str, Any]]) -> list[str]:
    """Start one execution per input, wait for all of them, return their final statuses."""
    return [execution["status"] for execution in finished(runtime, start_sagas(runtime, inputs))]


def search_document(runtime: RunningRuntime, trip_id: str) -> dict[str, Any]:
    """The trip's search document, the seed's 7.2 fields only."""
    item = (
        runtime.client("dynamodb")
        .get_item(TableName=runtime.outputs["SearchTableName"], Key={"trip_id": {"S": trip_id}})
        .get("Item", {})
    )
    document = {key: TypeDeserializer().deserialize(value) for key, value in item.items()}
    return {key: document[key] for key in SEED_DOCUMENT if key in document}


def wait_for_document(runtime: RunningRuntime, trip_id: str, expected: dict[str, Any]) -> None:
    """Wait until the document's fields named in ``expected`` hold the expected values (7.4 names only some)."""

    def named_fields() -> dict[str, Any]:
        document = search_document(runtime, trip_id)
        return {key: document.get(key) for key in expected}

    deadline = time.monotonic() + 60
    while named_fields() != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert named_fields() == expected
