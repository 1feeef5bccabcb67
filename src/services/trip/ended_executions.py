"""An execution Step Functions ended without running its Catch: fenced, and what it holds compensated.

An execution that times out (the state machine's `TimeoutSeconds`, `infra.saga.EXECUTION_TIMEOUT`), is stopped
(`StopExecution`: ABORTED) or fails with an error no `Catch` handles runs none of its compensations: what it booked
stays booked under its name, and a forward attempt of it still in flight (a Lambda invocation Step Functions no longer
waits for) can land later. Step Functions reports every status change of a Standard workflow's execution to the
default EventBridge bus ("Step Functions Execution Status Change", source `aws.states`; AWS Step Functions Developer
Guide, "EventBridge (CloudWatch Events) for Step Functions execution status changes"); the rule in
`infra/execution_end.py` sends this state machine's TIMED_OUT, ABORTED and FAILED ones here.

`release` runs the saga's own compensations (`bookings.COMPENSATIONS`, RefundPayment -> CancelHotel -> CancelFlight),
as the state machine does for a failed step, on the execution's input with `saga.execution_id` = the event's
`executionArn` (the execution's ARN, what StartSaga records from `$$.Execution.Id`, "the ARN of the execution":
Developer Guide, "Accessing execution data from the Context object"). Each compensation first writes the execution's
fence, so no forward attempt of it lands afterwards, then moves only this execution's items to CANCELLED / REFUNDED
and records the compensation where the trip has no such item (`bookings`); another holder's items are left alone.
All of it is idempotent: a repeated event (EventBridge and Lambda's asynchronous queue may deliver one more than
once) changes nothing more.

Which ends are released:

- TIMED_OUT and ABORTED: always; no Catch runs on them ("Step Functions catchers are ... not for top-level state
  machine execution failures", Developer Guide, "Handling errors in Step Functions workflows").
- FAILED only with an error that means its compensations did not all run: `States.Runtime` and
  `States.DataLimitExceeded` (`States.ALL` catches neither, same page) and `CompensationFailed` (the state machine's
  own end when a compensation still failed after its retries). Any other FAILED execution already ran its
  compensations through its Catch, or was refused at ReserveFlight before anything was written; running more of them
  would record compensations of steps it never reached.

The event's `detail` carries `executionArn`, `stateMachineArn`, `status` and the execution's `input` as a JSON
string, except when the escaped input and output together exceed 248 KB: then `input` is left out and
`inputDetails.included` is false (Developer Guide, "EventBridge payloads"); `error` may be absent too. Whatever the
event lacks is read with `DescribeExecution` (`input`, and `error` for FAILED).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NotRequired, TypedDict

from services.trip import bookings

DETAIL_TYPE = "Step Functions Execution Status Change"
EVENT_SOURCE = "aws.states"
# The statuses the rule sends here; the others (RUNNING, SUCCEEDED, PENDING_REDRIVE) are no end to release.
ENDS_WITHOUT_CATCH = ("TIMED_OUT", "ABORTED")
FAILED = "FAILED"
RULE_STATUSES = (*ENDS_WITHOUT_CATCH, FAILED)
# FAILED with one of these: its compensations did not all run.
UNCOMPENSATED_FAILURES = frozenset({"States.Runtime", "States.DataLimitExceeded", "CompensationFailed"})

# DescribeExecution of an execution ARN: its response ({"input": str, "error": str, ...}).
Describe = Callable[[str], Mapping[str, Any]]


class Release(TypedDict):
    """What the handler did for one status change."""

    execution_arn: str
    status: str
    released: bool  # True: the execution is fenced and its compensations ran
    reason: NotRequired[str]  # why nothing was released
    results: list[bookings.StepResult]  # each compensation's result, in the order they ran


class UnreadableStatusChange(ValueError):
    """The event is no Step Functions status change: it lacks `detail.executionArn`, `stateMachineArn` or
    `status`, or its input is not JSON."""


def release(
    change: Mapping[str, Any], *, state_machine_arn: str, items: bookings.TripItems, describe: Describe
) -> Release:
    """Fence the ended execution of `change` and compensate what it holds, if it is one of `state_machine_arn`'s
    executions that ended without its compensations (module docstring); otherwise change nothing.

    Raises `UnreadableStatusChange` for an event it cannot read, and lets a failed write (throttling,
    `BookingContended`) or a failed `DescribeExecution` through: the invocation fails and is retried."""
    detail = change.get("detail")
    if not isinstance(detail, Mapping):
        raise UnreadableStatusChange("the event has no detail object")
    arn, machine, status = (_text(detail, field) for field in ("executionArn", "stateMachineArn", "status"))
    described: dict[str, Mapping[str, Any]] = {}

    def description() -> Mapping[str, Any]:
        if not described:
            described["execution"] = describe(arn)
        return described["execution"]

    def unreleased(reason: str) -> Release:
        return {"execution_arn": arn, "status": status, "released": False, "reason": reason, "results": []}

    if machine != state_machine_arn:
        return unreleased(f"an execution of another state machine ({machine})")
    if status == FAILED:
        error = detail.get("error") or description().get("error")
        if error not in UNCOMPENSATED_FAILURES:
            return unreleased(
                f"FAILED with {error or 'no error'}: its Catch ran its compensations, or nothing was written"
            )
    elif status not in ENDS_WITHOUT_CATCH:
        return unreleased(f"{status} is no end without compensation")
    input_details = detail.get("inputDetails")
    included = isinstance(input_details, Mapping) and input_details.get("included") is True
    included = included and isinstance(detail.get("input"), str)
    execution_input = _json(detail["input"] if included else description()["input"])
    if not isinstance(execution_input, Mapping):
        return unreleased("its input is no JSON object: the first step refused it before writing anything")
    event = {**execution_input, "saga": {"execution_id": arn}}
    try:
        results = [compensation(event, items) for compensation in bookings.COMPENSATIONS]
    except bookings.BookingValidationError as invalid:
        return unreleased(f"its input identifies no trip ({invalid}): the first step refused it before writing")
    return {"execution_arn": arn, "status": status, "released": True, "results": results}


def _text(detail: Mapping[str, Any], field: str) -> str:
    value = detail.get(field)
    if not isinstance(value, str) or not value:
        raise UnreadableStatusChange(f"detail.{field} is not a string")
    return value


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as invalid:
        raise UnreadableStatusChange(f"the execution input is not JSON: {invalid}") from None
