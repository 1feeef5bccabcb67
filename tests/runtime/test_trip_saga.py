"""The deployed product end to end: sagas through Step Functions, both pipelines, the search API (seed §7)."""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from local_runtime.scenarios import SEED_COMPENSATED, SEED_SUCCESS, trip_input
from tests.local_runtime_session import RunningRuntime, eventually
from tests.runtime.sagas import SEED_DOCUMENT, run_sagas, wait_for_document

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]

COMPENSATED_STATUSES = {"flight_status": "CANCELLED", "hotel_status": "CANCELLED", "payment_status": "REFUNDED"}


def _mapping_of(runtime: RunningRuntime, function_part: str) -> str:
    lambda_client = runtime.client("lambda")
    function = next(
        f["FunctionArn"] for f in lambda_client.list_functions()["Functions"] if function_part in f["FunctionName"]
    )
    mappings = lambda_client.list_event_source_mappings()["EventSourceMappings"]
    return next(str(m["UUID"]) for m in mappings if m["FunctionArn"] == function)


@pytest.fixture
def only_pipeline(request: pytest.FixtureRequest, local_runtime: RunningRuntime) -> Iterator[str]:
    """Disable the other consumer's mapping for the test; enabled again afterwards, it resumes where it was."""
    kept: str = request.param
    other = _mapping_of(local_runtime, "KinesisConsumer" if kept == "StreamConsumer" else "StreamConsumer")
    lambda_client = local_runtime.client("lambda")
    lambda_client.update_event_source_mapping(UUID=other, Enabled=False)
    eventually(lambda: other not in {m["UUID"] for m in local_runtime.status()["eventSourceMappings"]})
    yield kept
    lambda_client.update_event_source_mapping(UUID=other, Enabled=True)


@pytest.mark.parametrize("only_pipeline", ["StreamConsumer", "KinesisConsumer"], indirect=True)
def test_each_pipeline_alone_projects_the_seed_documents(local_runtime: RunningRuntime, only_pipeline: str) -> None:
    # given the seed's two sagas, in June so that the seed's March search stays the seed's
    succeeded, compensated = f"{only_pipeline}-ok-{uuid.uuid4().hex[:6]}", f"{only_pipeline}-ko-{uuid.uuid4().hex[:6]}"
    inputs = [
        trip_input(succeeded, day="2026-06-15", hotel_name="Grand Hotel Tokyo"),
        trip_input(compensated, flight_number="NH999", day="2026-06-01", hotel_name="Test Hotel", payment_amount="-1"),
    ]
    assert run_sagas(local_runtime, inputs) == ["SUCCEEDED", "FAILED"]

    # then one pipeline alone gives the documents of seed 7.2 and 7.4
    june = {"departure_time": "2026-06-15T10:00:00", "arrival_time": "2026-06-15T14:00:00"}
    june |= {"check_in_date": "2026-06-15", "check_out_date": "2026-06-17"}
    wait_for_document(local_runtime, succeeded, SEED_DOCUMENT | june)
    june_compensated = {key: value.replace("-04-", "-06-") for key, value in _compensated_document().items()}
    wait_for_document(local_runtime, compensated, june_compensated | COMPENSATED_STATUSES)


def _compensated_document() -> dict[str, Any]:
    return {
        "flight_number": "NH999",
        "departure_time": "2026-04-01T10:00:00",
        "arrival_time": "2026-04-01T14:00:00",
        "hotel_name": "Test Hotel",
        "check_in_date": "2026-04-01",
        "check_out_date": "2026-04-03",
    }


def _kinesis_changes(runtime: RunningRuntime) -> list[dict[str, Any]]:
    kinesis = runtime.client("kinesis")
    stream = runtime.outputs["ChangeStreamName"]
    changes = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator)["Records"]:
            with contextlib.suppress(ValueError):  # poison records other tests put into the shared stream
                changes.append(json.loads(record["Data"]))
    return changes


def test_duplicated_and_reordered_kinesis_copy_leaves_every_document_converged(local_runtime: RunningRuntime) -> None:
    # given sagas whose changes reach Kinesis duplicated and out of order (the session runtime's settings)
    run = uuid.uuid4().hex[:6]
    trips = [
        trip_input(f"chaos-{run}-{n}", flight_number=f"JL{n:03d}", day=f"2026-05-{n + 1:02d}", payment_amount=amount)
        for n, amount in enumerate(["1200", "-1", "3400", "-1", "5600", "7800"])
    ]
    expected_statuses = ["FAILED" if trip["payment_details"]["amount"] == "-1" else "SUCCEEDED" for trip in trips]
    assert run_sagas(local_runtime, trips) == expected_statuses

    # then every document ends as the in-order history says
    for trip in trips:
        flight, hotel = trip["flight_details"], trip["hotel_details"]
        expected = {
            "flight_number": flight["flight_number"],
            "departure_time": flight["departure_time"],
            "arrival_time": flight["arrival_time"],
            "hotel_name": hotel["hotel_name"],
            "check_in_date": hotel["check_in_date"],
            "check_out_date": hotel["check_out_date"],
        }
        if trip["payment_details"]["amount"] == "-1":
            expected |= COMPENSATED_STATUSES
        else:
            expected |= {"flight_status": "CONFIRMED", "hotel_status": "CONFIRMED", "payment_status": "COMPLETED"}
            expected |= {"total_amount": Decimal(trip["payment_details"]["amount"]), "currency": "JPY"}
        wait_for_document(local_runtime, trip["trip_id"], expected)

    # and the Kinesis copy really held duplicates and changes out of their order
    ours = [c for c in _kinesis_changes(local_runtime) if f"chaos-{run}-" in c["dynamodb"]["Keys"]["PK"]["S"]]
    assert len({change["eventID"] for change in ours}) < len(ours)
    created = [change["dynamodb"]["ApproximateCreationDateTime"] for change in ours]
    assert created != sorted(created)
    assert {change["dynamodb"]["ApproximateCreationDateTimePrecision"] for change in ours} == {"MICROSECOND"}


def _search_over_api(runtime: RunningRuntime, query: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{runtime.outputs['ApiUrl']}/trips/search?{query}", timeout=30) as response:
        result: dict[str, Any] = json.load(response)
    return result


@pytest.mark.usefixtures("unbooked_seed_trips")
def test_seed_section_7_with_boto3(local_runtime: RunningRuntime) -> None:
    # 7.1: the names are found by the seed's queries
    functions = [f["FunctionName"] for f in local_runtime.client("lambda").list_functions()["Functions"]]
    tables = local_runtime.client("dynamodb").list_tables()["TableNames"]
    machines = local_runtime.client("stepfunctions").list_state_machines()["stateMachines"]
    assert [name for name in functions if "StreamConsumer" in name]
    search_trips = next(name for name in functions if "SearchTrips" in name)
    assert next(name for name in tables if "TripSearchTable" in name) == local_runtime.outputs["SearchTableName"]
    state_machine = local_runtime.outputs["StateMachineArn"]
    assert [m["stateMachineArn"] for m in machines if "TripSaga" in m["name"]] == [state_machine]

    # 7.2 and 7.4
    assert run_sagas(local_runtime, [SEED_SUCCESS, SEED_COMPENSATED]) == ["SUCCEEDED", "FAILED"]
    wait_for_document(local_runtime, "trip-streams-001", SEED_DOCUMENT)
    wait_for_document(local_runtime, "trip-streams-cancel-001", {**_compensated_document(), **COMPENSATED_STATUSES})

    # 7.3: through the API at the stack's ApiUrl, and by invoking the function directly
    march = "status=CONFIRMED&from=2026-03-01T00:00:00&to=2026-03-31T23:59:59"
    found = _search_over_api(local_runtime, march)
    assert [trip["trip_id"] for trip in found["trips"]] == ["trip-streams-001"] and found["count"] == 1
    assert found["trips"][0]["total_amount"] == 80000
    assert "trip-streams-001" in {
        trip["trip_id"] for trip in _search_over_api(local_runtime, "status=CONFIRMED")["trips"]
    }
    event = {
        "queryStringParameters": {"status": "CONFIRMED", "from": "2026-03-01T00:00:00", "to": "2026-03-31T23:59:59"}
    }
    response = local_runtime.client("lambda").invoke(FunctionName=search_trips, Payload=json.dumps(event).encode())
    invoked = json.loads(response["Payload"].read())
    assert invoked["statusCode"] == 200 and json.loads(invoked["body"]) == found


def test_unknown_route_is_answered_like_api_gateway(local_runtime: RunningRuntime) -> None:
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{local_runtime.outputs['ApiUrl']}/nowhere", timeout=30)
    assert answer.value.code == 403
    assert json.load(answer.value) == {"message": "Missing Authentication Token"}


def test_poison_record_in_the_change_stream_reaches_the_dlq(local_runtime: RunningRuntime) -> None:
    kinesis = local_runtime.client("kinesis")
    marker = f"not json {uuid.uuid4().hex}"
    sequence = kinesis.put_record(
        StreamName=local_runtime.outputs["ChangeStreamName"], Data=marker.encode(), PartitionKey="poison"
    )["SequenceNumber"]
    sqs = local_runtime.client("sqs")

    def poison_message() -> dict[str, Any] | None:
        for message in sqs.receive_message(QueueUrl=local_runtime.outputs["DlqUrl"], MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            body = json.loads(message["Body"])
            if body.get("kind") == "poison-record" and body.get("sequenceNumber") == sequence:
                return dict(body)
        return None

    message = eventually(poison_message, timeout=180)
    assert message["source"] == "kinesis"
    assert base64.b64decode(message["record"]["kinesis"]["data"]).decode() == marker
