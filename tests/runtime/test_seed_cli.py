"""The hands-on's section 7, command by command, with the AWS CLI against the local runtime's endpoint.

The only changes to the seed's commands: `--endpoint-url`, no `--cli-binary-format` (the CLI in .venv is v1,
which sends `--payload` raw already) and, for 7.3's API_URL, a query that finds the output (the seed's returns
None on AWS too: see docs/local-runtime.md).
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local_runtime.scenarios import COMPENSATED, SEED_COMPENSATED, SEED_SUCCESS, statuses
from tests import factories as f
from tests.local_runtime_session import RunningRuntime, eventually
from tests.runtime.aws_cli import aws

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]


def flattened(item_json: str) -> dict[str, Any]:
    """jq '.Item | with_entries(.value = .value | to_entries[0].value)', as the seed displays an item."""
    if not item_json:  # the CLI prints nothing for an item that is not there (yet)
        return {}
    return {name: next(iter(value.values())) for name, value in json.loads(item_json)["Item"].items()}


@pytest.mark.usefixtures("unbooked_seed_trips")
def test_seed_section_7_with_the_aws_cli(local_runtime: RunningRuntime, tmp_path: Path) -> None:
    # 7.1
    stream_consumer = aws(
        local_runtime, "lambda", "list-functions", "--query",
        "Functions[?contains(FunctionName, 'StreamConsumer')].FunctionName | [0]", "--output", "text",
    )  # fmt: skip
    search_trips = aws(
        local_runtime, "lambda", "list-functions", "--query",
        "Functions[?contains(FunctionName, 'SearchTrips')].FunctionName | [0]", "--output", "text",
    )  # fmt: skip
    search_table = aws(
        local_runtime, "dynamodb", "list-tables", "--query",
        "TableNames[?contains(@, 'TripSearchTable')] | [0]", "--output", "text",
    )  # fmt: skip
    state_machine = aws(
        local_runtime, "stepfunctions", "list-state-machines", "--query",
        "stateMachines[?contains(name, 'TripSaga')].stateMachineArn | [0]", "--output", "text",
    )  # fmt: skip
    assert "StreamConsumer" in stream_consumer and "SearchTrips" in search_trips
    assert (search_table, state_machine) == (
        local_runtime.outputs["SearchTableName"],
        local_runtime.outputs["StateMachineArn"],
    )

    # 7.2 and 7.4: start the sagas, then read the documents as the seed does
    for saga in (SEED_SUCCESS, SEED_COMPENSATED):
        aws(
            local_runtime, "stepfunctions", "start-execution", "--state-machine-arn", state_machine,
            "--name", f"cli-test-{saga['trip_id']}-{time.time_ns()}", "--input", json.dumps(saga),
        )  # fmt: skip

    def document(trip_id: str) -> dict[str, Any]:
        key = json.dumps({"trip_id": {"S": trip_id}})
        return flattened(aws(local_runtime, "dynamodb", "get-item", "--table-name", search_table, "--key", key))

    success = eventually(lambda: (d := document("trip-streams-001")).get("payment_status") == "COMPLETED" and d)
    assert {k: v for k, v in success.items() if k in SEED_72_FIELDS} == SEED_72_DOCUMENT
    # the refund comes first, the flight's cancellation last: wait for all three
    eventually(lambda: statuses(document("trip-streams-cancel-001")) == COMPENSATED, timeout=180)

    # 7.3
    api_url = aws(
        local_runtime, "cloudformation", "describe-stacks", "--query",
        "Stacks[?contains(StackName, 'TripSaga')] | [0].Outputs[?OutputKey=='ApiUrl'].OutputValue | [0]",
        "--output", "text",
    )  # fmt: skip
    march = "status=CONFIRMED&from=2026-03-01T00:00:00&to=2026-03-31T23:59:59"
    with urllib.request.urlopen(f"{api_url}/trips/search?{march}", timeout=30) as response:
        over_http = json.load(response)
    assert [trip["trip_id"] for trip in over_http["trips"]] == ["trip-streams-001"] and over_http["count"] == 1

    payload = {
        "queryStringParameters": {"status": "CONFIRMED", "from": "2026-03-01T00:00:00", "to": "2026-03-31T23:59:59"}
    }
    out = tmp_path / "search_response.json"
    aws(local_runtime, "lambda", "invoke", "--function-name", search_trips, "--payload", json.dumps(payload), str(out))
    invoked = json.loads(out.read_text())
    assert invoked["statusCode"] == 200 and json.loads(invoked["body"]) == over_http


# The seed's 7.2 expected output as its jq shows it: DynamoDB numbers print as strings.
SEED_72_DOCUMENT = {"trip_id": "trip-streams-001", **{name: str(value) for name, value in f.SEED_72_FIELDS.items()}}
SEED_72_FIELDS = set(SEED_72_DOCUMENT)
