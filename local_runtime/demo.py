"""``make demo``: the hands-on's section 7 on a fresh local runtime, each result checked and printed as it goes."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from local_runtime.functions.lambda_worker import json_number
from local_runtime.runtime import LocalRuntime, RuntimeOptions
from local_runtime.scenarios import BOOKED, COMPENSATED, SEED_COMPENSATED, SEED_SUCCESS, statuses, trip_input

MORE_TRIPS = [
    trip_input(
        "trip-demo-002", flight_number="JL005", day="2026-04-20", hotel_name="Hotel Okura", payment_amount="64000"
    ),
    trip_input(
        "trip-demo-003", flight_number="NH203", day="2026-04-10", hotel_name="Kyoto Inn", payment_amount="42000"
    ),
    trip_input("trip-demo-004", flight_number="JL917", day="2026-05-02", hotel_name="Naha Resort", payment_amount="0"),
    trip_input(
        "trip-demo-005", flight_number="NH071", day="2026-05-21", hotel_name="Sapporo View", payment_amount="51000"
    ),
]


class Checks:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.failed = 0

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        mark = "[green]✔[/]" if ok else "[red]✘[/]"
        self.console.print(f"{mark} {what}" + (f"  [dim]{detail}[/]" if detail else ""))
        self.failed += not ok
        return ok


def _wait(condition: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return result


def run_demo(options: RuntimeOptions, console: Console) -> int:
    runtime = LocalRuntime(options)
    checks = Checks(console)
    try:
        runtime.start()
        _scenarios(runtime, checks)
    finally:
        runtime.stop()
    console.rule("[green]all checks passed" if not checks.failed else f"[red]{checks.failed} checks failed")
    return 1 if checks.failed else 0


def _scenarios(runtime: LocalRuntime, checks: Checks) -> None:
    endpoint, console = runtime.endpoint, checks.console
    outputs = runtime.stacks[0].outputs
    lambda_client, stepfunctions = endpoint.lambda_client(), endpoint.client("stepfunctions")

    console.rule("7.1 names, found as the hands-on finds them")
    functions = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
    search_fn = next((name for name in functions if "SearchTrips" in name), "")
    machine = next(m for m in stepfunctions.list_state_machines()["stateMachines"] if "TripSaga" in m["name"])
    checks.check(
        "StreamConsumer and SearchTrips functions", any("StreamConsumer" in n for n in functions) and bool(search_fn)
    )
    checks.check("TripSaga state machine", machine["stateMachineArn"] == outputs["StateMachineArn"], machine["name"])

    console.rule("7.2 / 7.4 sagas through Step Functions")
    trips = [SEED_SUCCESS, SEED_COMPENSATED, *MORE_TRIPS]
    executions = {
        trip["trip_id"]: stepfunctions.start_execution(
            stateMachineArn=machine["stateMachineArn"], name=f"demo-{uuid.uuid4().hex[:8]}", input=json.dumps(trip)
        )["executionArn"]
        for trip in trips
    }

    def finished() -> dict[str, str] | None:
        found = {trip: stepfunctions.describe_execution(executionArn=arn)["status"] for trip, arn in executions.items()}
        return None if "RUNNING" in found.values() else found

    outcomes = _wait(finished, 120) or {}
    for trip in trips:
        rejected = float(trip["payment_details"]["amount"]) <= 0
        expected = "FAILED" if rejected else "SUCCEEDED"
        checks.check(f"saga {trip['trip_id']} {expected}", outcomes.get(trip["trip_id"]) == expected)

    console.rule("both pipelines project")

    def caught_up() -> bool:
        status = runtime.status()
        return all(part["caughtUp"] for part in status["kinesisDestinations"] + status["eventSourceMappings"])

    checks.check("Kinesis copy, DynamoDB Streams and Kinesis mappings caught up", bool(_wait(caught_up, 60)))
    search_table = outputs["SearchTableName"]
    dynamodb = endpoint.client("dynamodb")

    def document(trip_id: str) -> dict[str, Any]:
        item = dynamodb.get_item(TableName=search_table, Key={"trip_id": {"S": trip_id}}).get("Item", {})
        return {key: TypeDeserializer().deserialize(value) for key, value in item.items()}

    seed = _wait(lambda: (d := document("trip-streams-001")).get("payment_status") == "COMPLETED" and d, 30) or {}
    public = ["trip_id", "flight_number", "departure_time", "arrival_time", "flight_status", "hotel_name"]
    public += [
        "check_in_date",
        "check_out_date",
        "hotel_status",
        "total_amount",
        "currency",
        "payment_status",
        "updated_at",
    ]
    shown = {key: seed[key] for key in public if key in seed}  # a number as the API shows it: 80000, not "80000"
    _print_json(console, shown)
    checks.check("7.2 document", statuses(seed) == BOOKED and seed.get("total_amount") == 80000)
    # each pipeline applies the three compensations in its own time: wait for all of them, not the first

    def compensated() -> dict[str, Any] | None:
        cancelled = document("trip-streams-cancel-001")
        return cancelled if statuses(cancelled) == COMPENSATED else None

    statuses_74 = statuses(_wait(compensated, 30) or document("trip-streams-cancel-001"))
    checks.check("7.4 compensated", statuses_74 == COMPENSATED, str(statuses_74))

    console.rule("7.3 search: the API at the stack's ApiUrl, and a direct invocation")
    query = "status=CONFIRMED&from=2026-03-01T00:00:00&to=2026-03-31T23:59:59"
    with urllib.request.urlopen(f"{outputs['ApiUrl']}/trips/search?{query}", timeout=30) as response:
        found = json.load(response)
    _print_json(console, found)
    ids = sorted(trip["trip_id"] for trip in found.get("trips", []))
    checks.check("GET $API_URL/trips/search (March, CONFIRMED)", ids == ["trip-streams-001"], str(ids))
    event = {
        "queryStringParameters": {"status": "CONFIRMED", "from": "2026-03-01T00:00:00", "to": "2026-03-31T23:59:59"}
    }
    invoked = json.loads(
        lambda_client.invoke(FunctionName=search_fn, Payload=json.dumps(event).encode())["Payload"].read()
    )
    checks.check(
        "aws lambda invoke SearchTrips", invoked.get("statusCode") == 200 and json.loads(invoked["body"]) == found
    )

    _kinesis_and_dlq(runtime, checks)


def _kinesis_and_dlq(runtime: LocalRuntime, checks: Checks) -> None:
    endpoint, console, outputs = runtime.endpoint, checks.console, runtime.stacks[0].outputs
    kinesis, stream = endpoint.client("kinesis"), outputs["ChangeStreamName"]
    console.rule("the Kinesis copy of TripTable (DynamoDB's record format)")
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=5)["Records"]
    console.print(_change_records(records))
    first = json.loads(records[0]["Data"]) if records else {}
    console.print("the first record's data, as DynamoDB writes it:")
    _print_json(console, first)
    checks.check(
        "change records in the stream, in DynamoDB's Kinesis format",
        len(records) == 5
        and first.get("recordFormat") == "application/json"
        and "SequenceNumber" not in first.get("dynamodb", {}),
    )

    console.rule("a poison record, put straight into the stream, ends in the DLQ")
    sequence = kinesis.put_record(StreamName=stream, Data=b"this is not JSON", PartitionKey="poison")["SequenceNumber"]
    sqs = endpoint.client("sqs")

    def poison_message() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=outputs["DlqUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0)
        for message in messages.get("Messages", []):
            body: dict[str, Any] = json.loads(message["Body"])
            if body.get("sequenceNumber") == sequence:
                return body
        return None

    message = _wait(poison_message, 30)
    if message:
        _print_json(console, message)
    checks.check("poison record in the DLQ", bool(message) and message.get("kind") == "poison-record")


def _print_json(console: Console, document: Any) -> None:
    """Highlighted on a terminal (long lines wrap, never cut); piped, each line whole and unpadded."""
    console.print_json(json.dumps(document, ensure_ascii=False, default=_json_value), indent=2)


def _json_value(value: object) -> object:
    """A DynamoDB number (Decimal) as a JSON number; anything else JSON has no type for as its text."""
    return json_number(value) if isinstance(value, Decimal) else str(value)


def _change_records(records: list[dict[str, Any]]) -> Group:
    """The records as a table readable at 80 columns (no word or number cut), their sequence numbers (56 digits on
    AWS) each on a line of its own below it."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for header in ("#", "trip", "event", "entity", "v", "status", "created"):
        table.add_column(header, no_wrap=True)
    sequences = []
    for number, record in enumerate(records, start=1):
        change = json.loads(record["Data"])
        body = change["dynamodb"]
        image = body.get("NewImage") or body.get("OldImage") or {}
        keys = body["Keys"]
        table.add_row(
            str(number),
            keys["PK"]["S"].removeprefix("TRIP#"),
            change["eventName"],
            keys["SK"]["S"].partition("#")[0],
            image.get("version", {}).get("N", ""),
            image.get("status", {}).get("S", ""),
            str(body["ApproximateCreationDateTime"]),
        )
        sequences.append(Text(f"#{number} sequence number {record['SequenceNumber']}", overflow="fold"))
    precision = records[0] and json.loads(records[0]["Data"])["dynamodb"].get("ApproximateCreationDateTimePrecision")
    unit = "microseconds" if precision == "MICROSECOND" else "milliseconds"
    legend = Text(f"v: the item's version; created: ApproximateCreationDateTime, in {unit} since the epoch")
    return Group(table, legend, *sequences)
