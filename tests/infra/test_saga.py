"""The saga state machine: the execution id recorded first, forward steps, retries on Lambda service errors only,
reverse compensation, and a failure whose error and cause are the step's own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synthesized
from tests.infra.template_queries import function_id, logical_id, state_machine_definition

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

LAMBDA_SERVICE_ERRORS = [
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
]


@pytest.fixture(scope="module")
def states(synthesized: Synthesized) -> dict[str, Any]:
    definition = state_machine_definition(synthesized.resources)
    assert definition["StartAt"] == "StartSaga"
    states: dict[str, Any] = definition["States"]
    return states


def step_arn(synthesized: Synthesized, handler: str) -> str:
    function = function_id(synthesized.resources, f"services.trip.handlers.saga_steps.{handler}")
    return f"<{function}.Arn>"


@pytest.mark.parametrize(
    ("state", "handler", "result_path", "next_state", "compensation", "first_catches"),
    [
        # Invalid input at the first step: nothing was written for a trip the input may not even identify.
        (
            "ReserveFlight",
            "reserve_flight",
            "$.results.flight",
            "ReserveHotel",
            "CancelFlight",
            [{"ErrorEquals": ["BookingValidationError"], "ResultPath": "$.error", "Next": "DescribeFailure"}],
        ),
        ("ReserveHotel", "reserve_hotel", "$.results.hotel", "ProcessPayment", "CancelHotel", []),
        ("ProcessPayment", "process_payment", "$.results.payment", "Booked", "RefundPayment", []),
    ],
)
def test_forward_step_invokes_its_function_and_compensates_on_any_error(
    states: dict[str, Any],
    synthesized: Synthesized,
    state: str,
    handler: str,
    result_path: str,
    next_state: str,
    compensation: str,
    first_catches: list[dict[str, Any]],
) -> None:
    assert states[state] == {
        "Type": "Task",
        # payload_response_only: the function ARN itself, the state input as payload
        "Resource": step_arn(synthesized, handler),
        "ResultPath": result_path,
        "Next": next_state,
        "Retry": [{"ErrorEquals": LAMBDA_SERVICE_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2}],
        "Catch": [*first_catches, {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": compensation}],
    }


@pytest.mark.parametrize(
    ("state", "handler", "result_path", "next_state"),
    [
        ("RefundPayment", "refund_payment", "$.compensations.payment", "CancelHotel"),
        ("CancelHotel", "cancel_hotel", "$.compensations.hotel", "CancelFlight"),
        ("CancelFlight", "cancel_flight", "$.compensations.flight", "DescribeFailure"),
    ],
)
def test_compensations_run_in_reverse_order_retried_on_any_error_and_never_abandon_the_rest(
    states: dict[str, Any], synthesized: Synthesized, state: str, handler: str, result_path: str, next_state: str
) -> None:
    assert states[state] == {
        "Type": "Task",
        "Resource": step_arn(synthesized, handler),
        "ResultPath": result_path,
        "Next": next_state,
        "Retry": [
            {"ErrorEquals": LAMBDA_SERVICE_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2},
            {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2},
        ],
        # still failing after the retries: the next compensation runs all the same
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.compensation_error", "Next": next_state}],
    }


def test_the_execution_id_comes_from_the_context_object_and_overwrites_any_user_input(states: dict[str, Any]) -> None:
    assert states["StartSaga"] == {
        "Type": "Pass",
        "Comment": "The execution id every step records as the holder of what it books",
        "Parameters": {"execution_id.$": "$$.Execution.Id"},
        "ResultPath": "$.saga",
        "Next": "ReserveFlight",
    }


def test_a_refusal_ends_the_execution_with_the_steps_error_and_message(states: dict[str, Any]) -> None:
    refusals = [
        "BookingValidationError",
        "PaymentValidationError",
        "TripAlreadyBooked",
        "BookingContended",
        "UnreadableBooking",
        "ExecutionCompensated",
    ]
    assert states["DescribeFailure"] == {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.compensation_error", "IsPresent": True, "Next": "CompensationFailed"},
            {
                "Or": [{"Variable": "$.error.Error", "StringEquals": name} for name in refusals],
                "Next": "ReadRefusal",
            },
        ],
        "Default": "BookingFailed",
    }
    assert states["ReadRefusal"] == {
        "Type": "Pass",
        "Parameters": {"Error.$": "$.error.Error", "Cause.$": "States.StringToJson($.error.Cause)"},
        "ResultPath": "$.refusal",
        "Next": "BookingRefused",
    }
    # errorMessage only: the Lambda error's stackTrace never becomes the execution's cause
    assert states["BookingRefused"] == {
        "Type": "Fail",
        "ErrorPath": "$.refusal.Error",
        "CausePath": "$.refusal.Cause.errorMessage",
    }


def test_a_compensation_that_failed_for_good_ends_the_execution_saying_so(states: dict[str, Any]) -> None:
    assert states["CompensationFailed"] == {
        "Type": "Fail",
        "Error": "CompensationFailed",
        "Cause": "A compensation still failed after its retries: this execution may still hold items of the trip. "
        "The execution history holds the errors.",
    }


def test_an_unexpected_error_ends_the_execution_with_its_name_and_a_fixed_cause(states: dict[str, Any]) -> None:
    assert states["BookingFailed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "Cause": "A saga step failed unexpectedly; the steps this execution took were compensated in reverse order. "
        "The step's error is in the execution history.",
    }
    assert states["Booked"] == {"Type": "Succeed"}


def test_state_machine_name_contains_trip_saga_and_is_traced_and_logged(synthesized: Synthesized) -> None:
    machine = logical_id(synthesized.resources, "AWS::StepFunctions::StateMachine", "TripSaga")
    properties = synthesized.resources[machine]["Properties"]
    # CloudFormation names it after the logical id (seed 7.1 looks for 'TripSaga' in the name).
    assert "StateMachineName" not in properties
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    synthesized.template.has_output("StateMachineArn", {"Value": {"Ref": machine}})
