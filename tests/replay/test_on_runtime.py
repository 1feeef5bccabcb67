"""`replay` against the deployed stack on the local runtime, driven the way users drive it.

Trips are booked through the saga (Step Functions), both pipelines project them (the Kinesis copy arrives with
duplicates and out of order), and the tool finds everything from the stack's outputs.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from local_runtime.scenarios import BOOKED, COMPENSATED, statuses, trip_input
from replay.cli import app
from services.trip.projection import content
from tests.local_runtime_session import RunningRuntime, eventually
from tests.replay.conftest import replay_cli

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]

WHOLE_RETENTION = "30d"  # older than the stream's retention: the whole history


@dataclass(frozen=True)
class Booked:
    since: str  # ISO-8601, just before the first saga started
    trip_ids: list[str]


def _search_table(runtime: RunningRuntime, name: str | None = None) -> Any:
    dynamodb = boto3.resource(
        "dynamodb", endpoint_url=runtime.endpoint_url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip
    return dynamodb.Table(name or runtime.outputs["SearchTableName"])


def documents(table: Any, trip_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The documents of these trips, less their delivery bookkeeping (`projection.content`)."""
    items = (table.get_item(Key={"trip_id": trip_id}, ConsistentRead=True).get("Item") for trip_id in trip_ids)
    return {item["trip_id"]: content(item) for item in items if item}


@pytest.fixture(scope="module")
def booked(local_runtime: RunningRuntime) -> Booked:
    """Six trips booked through the saga, every third one compensated, projected by both pipelines."""
    # Earlier tests' changes (late Kinesis duplicates among them) must not fall into this module's window.
    local_runtime.wait_until_idle()
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    trip_ids = [f"replay-{number}-{uuid.uuid4().hex[:6]}" for number in range(6)]
    stepfunctions = local_runtime.client("stepfunctions")
    compensated = {trip_id for number, trip_id in enumerate(trip_ids) if number % 3 == 0}
    executions = [
        stepfunctions.start_execution(
            stateMachineArn=local_runtime.outputs["StateMachineArn"],
            name=trip_id,
            # June: the runtime tests sharing this runtime search March and expect only their own trips;
            # a payment of -1 is rejected and the saga compensates
            input=json.dumps(
                trip_input(trip_id, payment_amount="-1" if trip_id in compensated else "80000", day="2026-06-10")
            ),
        )["executionArn"]
        for trip_id in trip_ids
    ]

    def sagas_finished() -> bool:
        return all(stepfunctions.describe_execution(executionArn=arn)["status"] != "RUNNING" for arn in executions)

    table = _search_table(local_runtime)

    final = {trip_id: COMPENSATED if trip_id in compensated else BOOKED for trip_id in trip_ids}

    def all_projected() -> bool:
        return {trip_id: statuses(document) for trip_id, document in documents(table, trip_ids).items()} == final

    eventually(sagas_finished, timeout=180, interval=0.5)
    eventually(all_projected, timeout=180, interval=0.5)
    # late duplicates of the Kinesis copy are still on their way for a moment: the tests delete documents,
    # and a late change must not bring one back half-made
    local_runtime.wait_until_idle()
    return Booked(since, trip_ids)


@pytest.fixture
def replay(local_runtime: RunningRuntime, tmp_path: Any) -> Any:
    return replay_cli(str(tmp_path / "checkpoints"), "--endpoint-url", local_runtime.endpoint_url)


@pytest.fixture
def deleted(local_runtime: RunningRuntime, booked: Booked) -> Iterator[dict[str, dict[str, Any]]]:
    """Three documents deleted from the live table; what they were. Put back afterwards if still missing."""
    table = _search_table(local_runtime)
    gone = booked.trip_ids[:3]
    before = {trip_id: table.get_item(Key={"trip_id": trip_id}, ConsistentRead=True)["Item"] for trip_id in gone}
    for trip_id in gone:
        table.delete_item(Key={"trip_id": trip_id})
    yield {trip_id: content(item) for trip_id, item in before.items()}
    for trip_id, item in before.items():
        if "Item" not in table.get_item(Key={"trip_id": trip_id}, ConsistentRead=True):
            table.put_item(Item=item)


def test_deleted_documents_come_back_equal_to_before(
    local_runtime: RunningRuntime, booked: Booked, deleted: dict[str, Any], replay: Any
) -> None:
    code, result = replay("run", "--from", booked.since, "--checkpoint-dir", replay.checkpoint_dir)

    assert code == 0, result
    assert documents(_search_table(local_runtime), list(deleted)) == deleted
    assert result["documents_written"] == 3


def test_dry_run_writes_nothing(
    local_runtime: RunningRuntime, booked: Booked, deleted: dict[str, Any], replay: Any
) -> None:
    live_code, live = replay("run", "--from", booked.since, "--dry-run", "--checkpoint-dir", replay.checkpoint_dir)
    rebuild_code, rebuild = replay(
        "run", "--from", booked.since, "--dry-run", "--target-table", "DryRebuild",
        "--checkpoint-dir", replay.checkpoint_dir,
    )  # fmt: skip
    mapping_code, mapping = replay(
        "run", "--from", booked.since, "--dry-run", "--target-table", "DryRebuild", "--via-mapping"
    )

    assert (live_code, rebuild_code, mapping_code) == (0, 0, 0)
    assert documents(_search_table(local_runtime), list(deleted)) == {}
    assert live["documents_written"] == 3  # would restore the three, and nothing else
    assert rebuild["documents_written"] == 6
    assert (mapping["dry_run"], mapping["mapping_uuid"], mapping["removed"]) == (True, None, [])
    assert "DryRebuild" not in local_runtime.client("dynamodb").list_tables()["TableNames"]
    assert _replay_functions(local_runtime) == []


def test_a_mapping_dry_run_with_verify_says_it_will_not_compare_and_did_not(
    local_runtime: RunningRuntime, booked: Booked
) -> None:
    arguments = [
        "run",
        "--from",
        booked.since,
        "--dry-run",
        "--verify",
        "--target-table",
        "DryRebuild",
        "--via-mapping",
    ]

    result = CliRunner().invoke(app, [*arguments, "--endpoint-url", local_runtime.endpoint_url])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "  no compare of DryRebuild with " in "\n".join(lines)
    assert lines[-2:] == [
        "dry run: nothing was created",
        "verify: not run: a dry run writes nothing to compare (run again without --dry-run)",
    ]


@pytest.mark.parametrize("reader", ["local reader", "event source mapping"])
def test_rebuild_into_a_new_table_verifies_without_differences(
    local_runtime: RunningRuntime, booked: Booked, replay: Any, reader: str
) -> None:
    target = f"Rebuild-{uuid.uuid4().hex[:6]}"
    how = ["--via-mapping", "--quiet-for", "5"] if reader == "event source mapping" else []

    code, result = replay(
        "run", "--from", WHOLE_RETENTION, "--target-table", target, "--verify", *how,
        "--checkpoint-dir", replay.checkpoint_dir,
    )  # fmt: skip

    assert code == 0, result
    assert result["created_target"] is True
    assert result["differences"] == []
    rebuilt, live = _search_table(local_runtime, target), _search_table(local_runtime)
    assert documents(rebuilt, booked.trip_ids) == documents(live, booked.trip_ids)
    assert _replay_functions(local_runtime) == []


@pytest.mark.parametrize("keep", [False, True], ids=["queue removed", "queue kept"])
def test_a_mapping_rebuild_parks_the_windows_poison_in_its_own_queue_not_the_live_dlq(
    local_runtime: RunningRuntime, replay: Any, keep: bool
) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    local_runtime.client("kinesis").put_record(
        StreamName=local_runtime.outputs["ChangeStreamName"], Data=b"{not json", PartitionKey="poison"
    )
    target = f"Rebuild-{uuid.uuid4().hex[:6]}"
    sqs = local_runtime.client("sqs")

    code, result = replay(
        "run", "--from", since, "--target-table", target, "--via-mapping", "--quiet-for", "5",
        *(["--keep-queue"] if keep else []),
    )  # fmt: skip

    assert code == 0, result
    assert [(m["kind"], m["reason"][:26]) for m in result["dlq_messages"]] == [
        ("poison-record", "kinesis data is not JSON: ")
    ]
    queue_url = result["queue"]["url"]
    queue_name = queue_url.rsplit("/", 1)[-1]
    assert queue_name.startswith(f"trip-replay-{target}-")
    assert result["queue"]["kept"] is keep
    assert _sent_by_the_copy(sqs, local_runtime.outputs["DlqUrl"], f"trip-replay-{target}") == []
    run_queues = sqs.list_queues(QueueNamePrefix=f"trip-replay-{target}").get("QueueUrls", [])
    if keep:
        assert run_queues == [queue_url]
        [kept] = _sent_by_the_copy(sqs, queue_url, f"trip-replay-{target}")
        assert kept["kind"] == "poison-record"
        sqs.delete_queue(QueueUrl=queue_url)
    else:
        assert run_queues == []
        assert f"queue {queue_name}" in result["removed"]
    assert _replay_functions(local_runtime) == []


def _sent_by_the_copy(sqs: Any, queue_url: str, function_name: str) -> list[dict[str, Any]]:
    """The bodies of the queue's messages sent by the copy (read without hiding them from anyone)."""
    bodies: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            bodies[message["MessageId"]] = json.loads(message["Body"])
    return [
        body
        for body in bodies.values()
        if body.get("functionName") == function_name
        or str(body.get("requestContext", {}).get("functionArn", "")).endswith(f":{function_name}")
    ]


def _replay_functions(runtime: RunningRuntime) -> list[str]:
    """The temporary functions, and the functions of any mapping, of a rebuild: none once a run is over."""
    aws_lambda = runtime.client("lambda")
    functions = [f["FunctionName"] for f in aws_lambda.list_functions()["Functions"]]
    mapped = [m["FunctionArn"].split(":")[6] for m in aws_lambda.list_event_source_mappings()["EventSourceMappings"]]
    return [name for name in functions + mapped if name.startswith("trip-replay-")]


def _stream_arn(runtime: RunningRuntime) -> str:
    summary = runtime.client("kinesis").describe_stream_summary(StreamName=runtime.outputs["ChangeStreamName"])
    return str(summary["StreamDescriptionSummary"]["StreamARN"])


def _dlq_messages(replay: Any) -> dict[str, dict[str, Any]]:
    code, listed = replay("dlq", "list")
    assert code == 0, listed
    return {message["message_id"]: message for message in listed}


def test_a_poison_record_is_listed_shown_and_kept_by_redrive(local_runtime: RunningRuntime, replay: Any) -> None:
    sequence = local_runtime.client("kinesis").put_record(
        StreamName=local_runtime.outputs["ChangeStreamName"], Data=b"{not json", PartitionKey="poison"
    )["SequenceNumber"]

    def parked() -> str | None:
        found = [m for m in _dlq_messages(replay).values() if m["first_sequence"] == sequence]
        return found[0]["message_id"] if found else None

    message_id = eventually(parked, timeout=180, interval=0.5)
    listed = _dlq_messages(replay)[message_id]
    assert (listed["kind"], listed["source"]) == ("poison-record", "kinesis")
    assert listed["reason"].startswith("kinesis data is not JSON")

    code, shown = replay("dlq", "show", message_id)
    assert code == 0, shown
    [record] = shown["records"]
    assert (record["sequence_number"], record["change"]) == (sequence, None)
    assert record["poison"].startswith("kinesis data is not JSON")

    code, [redriven] = replay("dlq", "redrive", message_id)
    assert code == 1
    assert (redriven["handled"], redriven["reason"]) == (False, f"1 record(s) still poison, first at {sequence}: "
                                                                 f"{record['poison']}")  # fmt: skip
    kept = _dlq_messages(replay)
    assert message_id not in kept
    assert (kept[redriven["replaced_by"]]["reason"], kept[redriven["replaced_by"]]["redrive_attempts"]) == (
        redriven["reason"],
        1,
    )


@pytest.fixture
def broken_consumer(local_runtime: RunningRuntime) -> Iterator[str]:
    """A deployment of the Kinesis consumer whose handler does not exist, mapped to the change stream from now on
    with no retries: every batch it gets is given up and pointed to in the DLQ. Its name; removed afterwards."""
    aws_lambda = local_runtime.client("lambda")
    live = next(f for f in aws_lambda.list_functions()["Functions"] if "KinesisConsumer" in f["FunctionName"])
    name = f"broken-consumer-{uuid.uuid4().hex[:6]}"
    aws_lambda.create_function(
        FunctionName=name, Runtime=live["Runtime"], Role=live["Role"], Handler="handler_module_missing.handler",
        Code={"ZipFile": _empty_package()}, Timeout=5, Environment=live["Environment"],
    )  # fmt: skip
    dlq_arn = local_runtime.client("sqs").get_queue_attributes(
        QueueUrl=local_runtime.outputs["DlqUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    uuid_ = aws_lambda.create_event_source_mapping(
        EventSourceArn=_stream_arn(local_runtime), FunctionName=name, StartingPosition="LATEST", BatchSize=100,
        MaximumBatchingWindowInSeconds=2, MaximumRetryAttempts=0, BisectBatchOnFunctionError=False,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )["UUID"]  # fmt: skip
    eventually(lambda: any(m["UUID"] == uuid_ and m["shards"] for m in local_runtime.status()["eventSourceMappings"]))
    yield name
    aws_lambda.delete_event_source_mapping(UUID=uuid_)
    aws_lambda.delete_function(FunctionName=name)


def _empty_package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("README", "no handler here")
    return buffer.getvalue()


def test_an_exhausted_batch_is_listed_shown_and_redriven_once_fixed(
    local_runtime: RunningRuntime, broken_consumer: str, replay: Any
) -> None:
    trip_id = f"replay-pointer-{uuid.uuid4().hex[:6]}"
    trip_table = _search_table(local_runtime, local_runtime.outputs["TripTableName"])
    flight = {
        "PK": f"TRIP#{trip_id}", "SK": f"FLIGHT#flight_for_{trip_id}", "version": 1,
        "created_at": datetime.now(UTC).isoformat(), "flight_number": "NH007", "status": "CONFIRMED",
        "departure_time": "2026-05-01T10:00:00", "arrival_time": "2026-05-01T14:00:00",
    }  # fmt: skip
    trip_table.put_item(Item=flight)
    live_table = _search_table(local_runtime)
    eventually(lambda: documents(live_table, [trip_id]), timeout=180)  # the live pipelines projected it

    def pointed_to() -> str | None:
        pointers = [m for m in _dlq_messages(replay).values() if m["kind"] == "batch-pointer"]
        for pointer in pointers:
            _, shown = replay("dlq", "show", pointer["message_id"])
            if any((r["change"] or {}).get("trip_id") == trip_id for r in shown["records"]):
                return str(pointer["message_id"])
        return None

    message_id = eventually(pointed_to, timeout=180, interval=1.0)
    code, shown = replay("dlq", "show", message_id)
    assert code == 0, shown
    assert shown["message"]["reason"] == "RetryAttemptsExhausted (Unhandled)"
    assert {(c["trip_id"], c["entity"], c["event"], c["version"]) for c in (r["change"] for r in shown["records"])} == {
        (trip_id, "FLIGHT", "INSERT", 1)
    }  # the Kinesis copy may hold the change twice

    before = documents(live_table, [trip_id])
    live_table.delete_item(Key={"trip_id": trip_id})  # lost: only the failed batch still has it
    code, [redriven] = replay("dlq", "redrive", message_id)

    assert code == 0, redriven
    assert (redriven["handled"], redriven["tally"]["applied"]) == (True, 1)
    assert documents(live_table, [trip_id]) == before
    assert message_id not in _dlq_messages(replay)
