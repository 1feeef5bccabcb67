"""ExecutionEnded: the target of the EventBridge rule on TripSaga's "Step Functions Execution Status Change" events
(TIMED_OUT, ABORTED, FAILED). It fences the ended execution and runs the saga's compensations for what it holds
when the execution ended without them (`ended_executions.release`), and returns what it did (`Release`:
{execution_arn, status, released, [reason], results}).

Environment: `TABLE_NAME` (TripTable), `STATE_MACHINE_ARN` (TripSaga: another state machine's events change
nothing). An error (an unreadable event, a failed write, a failed `DescribeExecution`) fails the invocation:
EventBridge invokes Lambda asynchronously, so Lambda retries it and then sends it to the function's on-failure
destination, the same dead-letter queue as the rule target's (`infra/execution_end.py`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.trip import ended_executions
from services.trip.config import execution_end_settings
from services.trip.handlers.saga_steps import trip_table

logger = Logger()


@cache
def _step_functions() -> Any:
    return boto3.client("stepfunctions")


def _describe(execution_arn: str) -> dict[str, Any]:
    description: dict[str, Any] = _step_functions().describe_execution(executionArn=execution_arn)
    return description


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> ended_executions.Release:
    released = ended_executions.release(
        event,
        state_machine_arn=execution_end_settings().state_machine_arn,
        items=trip_table(),
        describe=_describe,
    )
    logger.info("ExecutionEnded done", extra=dict(released))
    return released
