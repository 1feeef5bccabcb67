"""ExecutionEnded on moto: an execution Step Functions ended without its compensations (TIMED_OUT, ABORTED, FAILED
with an uncaught error) is fenced and compensated, so what it booked is released and its late attempts land
nothing; any other status change, or another state machine's, changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from services.trip import bookings, config, ended_executions
from services.trip.handlers import execution_ended, saga_steps
from tests import factories as f
from tests.conftest import REGION
from tests.handlers.test_saga_steps import TRIP_ID, outcome, saga_input, statuses

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

CONTEXT: Any = f.LambdaContext()
ANOTHER = "arn:aws:states:us-east-1:123456789012:execution:TripSaga:another"


@pytest.fixture(autouse=True)
def fresh_settings_and_clients() -> Iterator[None]:
    yield
    for cached in (
        config.saga_settings,
        config.execution_end_settings,
        saga_steps.trip_table,
        execution_ended._step_functions,
    ):
        cached.cache_clear()


@pytest.fixture
def state_machine(trip_table: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    arn: str = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="TripSaga",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/TripSagaRole",
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    return arn


def start(state_machine: str, name: str = "timed-out") -> tuple[str, dict[str, Any]]:
    """An execution of `state_machine` (moto does not run it) with the seed's 7.2 input: its ARN and input."""
    execution_input = {key: value for key, value in saga_input().items() if key != "saga"}
    arn: str = boto3.client("stepfunctions", region_name=REGION).start_execution(
        stateMachineArn=state_machine, name=name, input=json.dumps(execution_input)
    )["executionArn"]
    return arn, execution_input


def status_change(
    execution: str, machine: str, status: str, execution_input: dict[str, Any] | None, **detail: Any
) -> dict[str, Any]:
    """A "Step Functions Execution Status Change" event as AWS documents it (Step Functions Developer Guide,
    "EventBridge (CloudWatch Events) for Step Functions execution status changes"); `execution_input` None: left out
    as when input and output exceed 248 KB."""
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-03-15T10:05:00Z",
        "region": REGION,
        "resources": [execution],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": machine,
            "name": execution.rsplit(":", 1)[1],
            "status": status,
            "startDate": 1773568800000,
            "stopDate": 1773569100000,
            "input": None if execution_input is None else json.dumps(execution_input),
            "inputDetails": {"included": execution_input is not None},
            "output": None,
            "outputDetails": None,
            **detail,
        },
    }


def handle(event: dict[str, Any]) -> dict[str, Any]:
    released: dict[str, Any] = dict(execution_ended.lambda_handler(event, CONTEXT))
    return released


def book_flight_and_hotel(execution: str) -> None:
    for name in ("reserve_flight", "reserve_hotel"):
        getattr(saga_steps, name)(saga_input(execution=execution), CONTEXT)


def fences(table: Any) -> list[str]:
    items = table.query(
        KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": f"TRIP#{TRIP_ID}"}, ConsistentRead=True
    )["Items"]
    return [item["SK"] for item in items if item["SK"].startswith("SAGA#")]


RELEASED_RESULTS = [
    outcome("PAYMENT", "REFUNDED", 1, "recorded"),
    outcome("HOTEL", "CANCELLED", 2, "compensated"),
    outcome("FLIGHT", "CANCELLED", 2, "compensated"),
]


def test_a_timed_out_execution_is_compensated_and_fenced_so_its_late_attempts_land_nothing(
    trip_table: Any, state_machine: str
) -> None:
    execution, execution_input = start(state_machine)
    book_flight_and_hotel(execution)  # then the execution timed out while ProcessPayment was still running

    released = handle(status_change(execution, state_machine, "TIMED_OUT", execution_input))

    assert released == {
        "execution_arn": execution,
        "status": "TIMED_OUT",
        "released": True,
        "results": RELEASED_RESULTS,
    }
    assert fences(trip_table) == [f"SAGA#{execution}"]
    for late in ("reserve_hotel", "process_payment"):  # attempts Step Functions stopped waiting for
        with pytest.raises(bookings.ExecutionCompensated) as refused:
            getattr(saga_steps, late)(saga_input(execution=execution), CONTEXT)
        assert "wrote nothing" in str(refused.value)
    assert statuses(trip_table) == {
        "FLIGHT": ("CANCELLED", 2, execution),
        "HOTEL": ("CANCELLED", 2, execution),
        "PAYMENT": ("REFUNDED", 1, execution),
    }
    # the trip is free again: the next execution books it over the compensated items
    assert saga_steps.reserve_flight(saga_input(execution=ANOTHER), CONTEXT) == outcome(
        "FLIGHT", "CONFIRMED", 3, "rebooked"
    )


def test_a_stopped_execution_whose_input_the_event_left_out_is_released_with_describe_execution(
    trip_table: Any, state_machine: str
) -> None:
    execution, _ = start(state_machine, "stopped")
    book_flight_and_hotel(execution)

    released = handle(status_change(execution, state_machine, "ABORTED", None))

    assert released == {"execution_arn": execution, "status": "ABORTED", "released": True, "results": RELEASED_RESULTS}
    assert statuses(trip_table)["FLIGHT"] == ("CANCELLED", 2, execution)


def test_a_repeated_event_changes_nothing_more(trip_table: Any, state_machine: str) -> None:
    execution, execution_input = start(state_machine)
    book_flight_and_hotel(execution)
    event = status_change(execution, state_machine, "TIMED_OUT", execution_input)
    handle(event)

    again = handle(event)

    assert again["results"] == [
        outcome("PAYMENT", "REFUNDED", 1, "unchanged"),
        outcome("HOTEL", "CANCELLED", 2, "unchanged"),
        outcome("FLIGHT", "CANCELLED", 2, "unchanged"),
    ]
    assert fences(trip_table) == [f"SAGA#{execution}"]


def test_another_executions_booking_is_left_standing(trip_table: Any, state_machine: str) -> None:
    execution, execution_input = start(state_machine)
    saga_steps.reserve_flight(saga_input(execution=ANOTHER), CONTEXT)
    saga_steps.reserve_hotel(saga_input(execution=ANOTHER), CONTEXT)  # the timed-out execution never got the trip

    released = handle(status_change(execution, state_machine, "TIMED_OUT", execution_input))

    held = f"held by {ANOTHER}, not by this execution: left unchanged"
    assert released["results"] == [
        outcome("PAYMENT", "REFUNDED", 1, "recorded"),
        {**outcome("HOTEL", "CONFIRMED", 1, "held_by_another"), "reason": held},
        {**outcome("FLIGHT", "CONFIRMED", 1, "held_by_another"), "reason": held},
    ]
    assert statuses(trip_table) == {
        "FLIGHT": ("CONFIRMED", 1, ANOTHER),
        "HOTEL": ("CONFIRMED", 1, ANOTHER),
        "PAYMENT": ("REFUNDED", 1, execution),
    }


@pytest.mark.parametrize("error", sorted(ended_executions.UNCOMPENSATED_FAILURES))
def test_a_failed_execution_whose_compensations_did_not_all_run_is_released(
    trip_table: Any, state_machine: str, error: str
) -> None:
    execution, execution_input = start(state_machine)
    book_flight_and_hotel(execution)

    released = handle(status_change(execution, state_machine, "FAILED", execution_input, error=error, cause="..."))

    assert released == {"execution_arn": execution, "status": "FAILED", "released": True, "results": RELEASED_RESULTS}


@pytest.mark.parametrize(
    ("machine", "status", "detail", "reason"),
    [
        ("ours", "SUCCEEDED", {}, "SUCCEEDED is no end without compensation"),
        ("ours", "RUNNING", {}, "RUNNING is no end without compensation"),
        (
            "ours",
            "FAILED",
            {"error": "TripAlreadyBooked"},
            "FAILED with TripAlreadyBooked: its Catch ran its compensations, or nothing was written",
        ),
        (
            "ours",
            "FAILED",
            {"error": "States.Timeout"},
            "FAILED with States.Timeout: its Catch ran its compensations, or nothing was written",
        ),
        (
            "another",
            "TIMED_OUT",
            {},
            "an execution of another state machine (arn:aws:states:us-east-1:123456789012:stateMachine:Other)",
        ),
    ],
)
def test_any_other_status_change_changes_nothing(
    trip_table: Any, state_machine: str, machine: str, status: str, detail: dict[str, Any], reason: str
) -> None:
    execution, execution_input = start(state_machine)
    book_flight_and_hotel(execution)
    arn = state_machine if machine == "ours" else "arn:aws:states:us-east-1:123456789012:stateMachine:Other"

    released = handle(status_change(execution, arn, status, execution_input, **detail))

    assert released == {
        "execution_arn": execution,
        "status": status,
        "released": False,
        "reason": reason,
        "results": [],
    }
    assert statuses(trip_table) == {"FLIGHT": ("CONFIRMED", 1, execution), "HOTEL": ("CONFIRMED", 1, execution)}
    assert fences(trip_table) == []


def test_a_failed_event_without_its_error_is_judged_by_describe_execution(trip_table: Any, state_machine: str) -> None:
    execution, execution_input = start(state_machine)
    book_flight_and_hotel(execution)

    released = handle(status_change(execution, state_machine, "FAILED", execution_input))  # no `error` in it

    # moto's execution (never run) has no error: not one whose compensations were skipped
    assert released["reason"] == "FAILED with no error: its Catch ran its compensations, or nothing was written"
    assert fences(trip_table) == []


def test_an_input_that_identifies_no_trip_writes_nothing(trip_table: Any, state_machine: str) -> None:
    execution, _ = start(state_machine)

    released = handle(status_change(execution, state_machine, "ABORTED", {"trip_id": "a/b"}))

    assert released["released"] is False
    assert released["reason"].startswith("its input identifies no trip (trip_id: ")
    assert trip_table.scan()["Items"] == []


def test_an_event_that_is_no_status_change_fails_the_invocation(trip_table: Any, state_machine: str) -> None:
    with pytest.raises(ended_executions.UnreadableStatusChange, match=r"detail\.executionArn is not a string"):
        handle({"detail-type": "Scheduled Event", "detail": {}})
