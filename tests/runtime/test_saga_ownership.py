"""TripSaga through Step Functions on the local runtime: an execution changes only what it booked (semantic lock),
a compensated trip can be booked again, and a failed execution says why in words a user can read."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from local_runtime.scenarios import BOOKED, COMPENSATED, STATUS_FIELDS, statuses, trip_input
from services.trip.adapters.trip_table import TRIP_FENCE_PREFIX
from tests.local_runtime_session import RunningRuntime
from tests.runtime.sagas import finished, run_sagas, search_document, start_sagas, wait_for_document

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]

BOOKED_FIELDS = dict(zip(STATUS_FIELDS, BOOKED, strict=True))
COMPENSATED_FIELDS = dict(zip(STATUS_FIELDS, COMPENSATED, strict=True))


def saga_for(trip_id: str, **details: Any) -> dict[str, Any]:
    """The seed's input for a trip in July: the seed's March searches on the shared runtime stay the seed's."""
    return trip_input(trip_id, day="2026-07-20", **details)


def new_trip() -> str:
    return f"owned-{uuid.uuid4().hex[:8]}"


def trip_items(runtime: RunningRuntime, trip_id: str) -> dict[str, tuple[str, int | None, str | None]]:
    """(status, version, holder) of the trip's TripTable items, by entity (version None where it has none)."""
    items = runtime.client("dynamodb").query(
        TableName=runtime.outputs["TripTableName"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TRIP#{trip_id}"}},
        ConsistentRead=True,
    )["Items"]
    return {
        item["SK"]["S"].split("#")[0]: (
            item["status"]["S"],
            int(item["version"]["N"]) if "version" in item else None,
            item.get("held_by", {}).get("S"),
        )
        for item in items
        if not item["SK"]["S"].startswith(TRIP_FENCE_PREFIX)  # an execution's fence: bookkeeping, no booking
    }


def entered_states(runtime: RunningRuntime, execution_arn: str) -> list[str]:
    events = runtime.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]


def book(runtime: RunningRuntime, saga: dict[str, Any]) -> str:
    """Run one execution to success; its ARN."""
    [arn] = start_sagas(runtime, [saga])
    assert [execution["status"] for execution in finished(runtime, [arn])] == ["SUCCEEDED"]
    return arn


def held_by(arn: str) -> dict[str, tuple[str, int | None, str | None]]:
    return {"FLIGHT": ("CONFIRMED", 1, arn), "HOTEL": ("CONFIRMED", 1, arn), "PAYMENT": ("COMPLETED", 1, arn)}


def test_failing_executions_for_a_booked_trip_leave_the_booking_standing(local_runtime: RunningRuntime) -> None:
    # given a trip booked by one execution
    trip_id = new_trip()
    first = book(local_runtime, saga_for(trip_id))

    # when three more executions try the same trip: a bad payment, an impossible hotel date, another flight,
    # one of them claiming to be the first execution
    bad_date = saga_for(trip_id)
    bad_date["hotel_details"]["check_in_date"] = "2026-02-30"
    impostor = saga_for(trip_id, payment_amount="-1") | {"saga": {"execution_id": first}}
    seconds = [saga_for(trip_id, payment_amount="-1"), bad_date, saga_for(trip_id, flight_number="JL1"), impostor]
    executions = finished(local_runtime, start_sagas(local_runtime, seconds))

    # then each fails at its first step, refused, naming the trip, the entity and the holder
    for execution in executions:
        assert (execution["status"], execution["error"], execution["cause"]) == (
            "FAILED",
            "TripAlreadyBooked",
            f"ReserveFlight: trip {trip_id}: its flight is booked (CONFIRMED) by execution {first}",
        )
    # and the first booking stands, in TripTable and in search
    assert trip_items(local_runtime, trip_id) == held_by(first)
    wait_for_document(local_runtime, trip_id, BOOKED_FIELDS | {"flight_number": "NH001"})
    local_runtime.wait_until_idle()
    assert statuses(search_document(local_runtime, trip_id)) == BOOKED


def test_two_executions_racing_for_a_new_trip_leave_it_to_one_of_them(local_runtime: RunningRuntime) -> None:
    trip_id = new_trip()

    executions = finished(
        local_runtime, start_sagas(local_runtime, [saga_for(trip_id), saga_for(trip_id, flight_number="JL1")])
    )

    [winner] = [e for e in executions if e["status"] == "SUCCEEDED"]
    [loser] = [e for e in executions if e["status"] == "FAILED"]
    assert loser["error"] == "TripAlreadyBooked"
    assert loser["cause"].endswith(f"by execution {winner['executionArn']}")
    assert trip_items(local_runtime, trip_id) == held_by(winner["executionArn"])
    flight_number = "NH001" if winner["executionArn"] == executions[0]["executionArn"] else "JL1"
    wait_for_document(local_runtime, trip_id, BOOKED_FIELDS | {"flight_number": flight_number})


def test_a_compensated_trip_is_booked_again_by_a_new_execution(local_runtime: RunningRuntime) -> None:
    # given the seed's 7.4 on a trip: the payment refused, everything compensated
    trip_id = new_trip()
    [refused] = finished(local_runtime, start_sagas(local_runtime, [saga_for(trip_id, payment_amount="-1")]))
    assert (refused["status"], refused["error"], refused["cause"]) == (
        "FAILED",
        "PaymentValidationError",
        "ProcessPayment: payment_details.amount: Input should be greater than 0",
    )
    assert statuses(_items_as_document(trip_items(local_runtime, trip_id))) == COMPENSATED

    # when a new execution books it with another flight and amount
    second = book(local_runtime, saga_for(trip_id, flight_number="JL5", payment_amount="90000"))

    # then it holds the items, versions continuing, and search shows the new booking
    assert trip_items(local_runtime, trip_id) == {
        "FLIGHT": ("CONFIRMED", 3, second),
        "HOTEL": ("CONFIRMED", 3, second),
        "PAYMENT": ("COMPLETED", 2, second),
    }
    wait_for_document(
        local_runtime, trip_id, BOOKED_FIELDS | {"flight_number": "JL5", "total_amount": Decimal("90000")}
    )


def test_an_impossible_hotel_date_fails_naming_the_step_and_the_field(local_runtime: RunningRuntime) -> None:
    trip_id = new_trip()
    saga = saga_for(trip_id)
    saga["hotel_details"]["check_in_date"] = "2026-02-30"

    [arn] = start_sagas(local_runtime, [saga])
    [execution] = finished(local_runtime, [arn])

    assert (execution["status"], execution["error"], execution["cause"]) == (
        "FAILED",
        "BookingValidationError",
        "ReserveHotel: hotel_details.check_in_date: day is out of range for month",
    )
    # the flight this execution reserved is cancelled, the hotel it never reserved recorded as cancelled
    assert trip_items(local_runtime, trip_id) == {"FLIGHT": ("CANCELLED", 2, arn), "HOTEL": ("CANCELLED", 1, arn)}


def test_an_item_that_breaks_the_writer_contract_is_refused_and_the_rest_compensated(
    local_runtime: RunningRuntime,
) -> None:
    # given another writer's hotel item without a version
    trip_id = new_trip()
    hotel_key = {"PK": {"S": f"TRIP#{trip_id}"}, "SK": {"S": f"HOTEL#hotel_for_{trip_id}"}}
    trip_table = local_runtime.client("dynamodb")
    trip_table.put_item(
        TableName=local_runtime.outputs["TripTableName"], Item={**hotel_key, "status": {"S": "CONFIRMED"}}
    )

    [arn] = start_sagas(local_runtime, [saga_for(trip_id)])
    [execution] = finished(local_runtime, [arn])

    assert (execution["status"], execution["error"], execution["cause"]) == (
        "FAILED",
        "UnreadableBooking",
        f"ReserveHotel: trip {trip_id}: its hotel item breaks the writer contract (version must be a whole number, "
        "status a string): it cannot be booked over",
    )
    # this execution's flight is cancelled; the other writer's hotel is left as it was
    items = trip_items(local_runtime, trip_id)
    assert items["FLIGHT"] == ("CANCELLED", 2, arn)
    item = trip_table.get_item(TableName=local_runtime.outputs["TripTableName"], Key=hotel_key)["Item"]
    assert item == {**hotel_key, "status": {"S": "CONFIRMED"}}


def test_input_without_a_trip_id_fails_at_the_first_step_and_compensates_nothing(
    local_runtime: RunningRuntime,
) -> None:
    saga = {key: value for key, value in saga_for(new_trip()).items() if key != "trip_id"}

    [arn] = start_sagas(local_runtime, [saga])
    [execution] = finished(local_runtime, [arn])

    assert (execution["status"], execution["error"], execution["cause"]) == (
        "FAILED",
        "BookingValidationError",
        "ReserveFlight: trip_id: Field required",
    )
    assert entered_states(local_runtime, arn) == [
        "StartSaga",
        "ReserveFlight",
        "DescribeFailure",
        "ReadRefusal",
        "BookingRefused",
    ]


def test_the_seed_flows_still_end_booked_and_compensated(local_runtime: RunningRuntime) -> None:
    booked, compensated = new_trip(), new_trip()

    assert run_sagas(local_runtime, [saga_for(booked), saga_for(compensated, payment_amount="-1")]) == [
        "SUCCEEDED",
        "FAILED",
    ]

    assert statuses(_items_as_document(trip_items(local_runtime, booked))) == BOOKED
    assert statuses(_items_as_document(trip_items(local_runtime, compensated))) == COMPENSATED


def _items_as_document(items: dict[str, tuple[str, int | None, str | None]]) -> dict[str, str]:
    return {f"{entity.lower()}_status": status for entity, (status, _, _) in items.items()}


def test_the_deployed_execution_ended_releases_an_execution_given_its_status_change(
    local_runtime: RunningRuntime,
) -> None:
    # The local runtime emits no status-change events (docs/local-runtime.md): the test sends the deployed
    # function the event AWS sends when an execution is stopped, without its input (as when input and output
    # exceed 248 KB), so the function reads it with DescribeExecution from the runtime's Step Functions.
    trip_id = new_trip()
    arn = book(local_runtime, saga_for(trip_id))
    machine = local_runtime.outputs["StateMachineArn"]
    detail = {"executionArn": arn, "stateMachineArn": machine, "status": "ABORTED", "inputDetails": {"included": False}}
    event = {"detail-type": "Step Functions Execution Status Change", "source": "aws.states", "detail": detail}
    lambda_client = local_runtime.client("lambda")
    [function] = [
        f["FunctionName"] for f in lambda_client.list_functions()["Functions"] if "ExecutionEnded" in f["FunctionName"]
    ]

    answer = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())

    assert "FunctionError" not in answer
    released = json.loads(answer["Payload"].read())
    assert (released["released"], [r["outcome"] for r in released["results"]]) == (True, ["compensated"] * 3)
    assert trip_items(local_runtime, trip_id) == {
        "FLIGHT": ("CANCELLED", 2, arn),
        "HOTEL": ("CANCELLED", 2, arn),
        "PAYMENT": ("REFUNDED", 2, arn),
    }
    wait_for_document(local_runtime, trip_id, COMPENSATED_FIELDS)
