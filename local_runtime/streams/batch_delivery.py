"""Delivering one batch of stream records to a function the way an event source mapping does.

Lambda's rules for streams, applied in order until every record of the batch is handled:
- records older than ``MaximumRecordAgeInSeconds`` are not sent; they go to the on-failure destination;
- with ``ReportBatchItemFailures``, the function's ``batchItemFailures`` checkpoint the batch at the lowest
  failed sequence number and the records from there on are retried; a malformed, empty or unknown
  identifier fails the whole batch;
- a failed batch is split in two with ``BisectBatchOnFunctionError`` (splits do not use up retries);
- after ``MaximumRetryAttempts`` retries (-1: until the records expire) the records are skipped and a
  pointer to them (never the records) goes to the on-failure destination, in AWS's message shape.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_runtime.streams.sources import SourceRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryRules:
    function_arn: str
    stream_arn: str
    source_kind: str  # "dynamodb" | "kinesis"
    report_batch_item_failures: bool
    bisect_on_error: bool
    maximum_retry_attempts: int  # -1: no limit
    maximum_record_age_s: int  # -1: no limit
    on_failure_arn: str | None


@dataclass(frozen=True)
class InvokeResult:
    function_error: str | None
    payload: bytes


@dataclass(frozen=True)
class Outcome:
    """What an invocation means for the batch: all done, retry from an index, or a function error."""

    retry_from: int | None  # None: every record succeeded
    function_error: str | None


@dataclass
class DeliveryStats:
    """What happened to the batches of one shard, for the status report; written by its consumer thread only."""

    invocations: int = 0
    function_errors: int = 0  # invocations that failed as a whole (an exception, a crash, a timeout)
    item_failures: int = 0  # invocations that answered with batchItemFailures
    retries: int = 0  # failed records delivered again (splits of a bisection not counted)
    bisections: int = 0
    records_given_up: int = 0  # sent to the on-failure destination (as a pointer) or dropped

    def as_status(self) -> dict[str, int]:
        return {
            "invocations": self.invocations,
            "functionErrors": self.function_errors,
            "itemFailures": self.item_failures,
            "retries": self.retries,
            "bisections": self.bisections,
            "recordsGivenUp": self.records_given_up,
        }


Invoke = Callable[[list[SourceRecord]], InvokeResult]
SendToDestination = Callable[[str, dict[str, Any]], None]  # destination ARN, message


def judge(records: list[SourceRecord], result: InvokeResult, report_batch_item_failures: bool) -> Outcome:
    if result.function_error:
        return Outcome(retry_from=0, function_error=result.function_error)
    if not report_batch_item_failures:
        return Outcome(retry_from=None, function_error=None)
    try:
        response = json.loads(result.payload or b"null")
    except ValueError:
        return Outcome(retry_from=0, function_error=None)
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return Outcome(retry_from=None, function_error=None)
    positions = {record.sequence_number: index for index, record in enumerate(records)}
    identifiers = [failure.get("itemIdentifier") if isinstance(failure, dict) else None for failure in failures]
    failed = [
        positions[identifier] for identifier in identifiers if isinstance(identifier, str) and identifier in positions
    ]
    if len(failed) < len(identifiers):
        return Outcome(retry_from=0, function_error=None)  # AWS: the whole batch failed
    return Outcome(retry_from=min(failed), function_error=None)


class BatchDelivery:
    def __init__(
        self,
        rules: DeliveryRules,
        shard_id: str,
        invoke: Invoke,
        send: SendToDestination,
        retry_delay_s: float,
        stopping: threading.Event,
    ) -> None:
        self._rules = rules
        self._shard_id = shard_id
        self._invoke = invoke
        self._send = send
        self._retry_delay_s = retry_delay_s
        self._stopping = stopping
        self.stats = DeliveryStats()

    def deliver(self, batch: list[SourceRecord]) -> bool:
        """Hand the batch to the function until each record succeeded or was given up; False if stopped first."""
        # Each entry: records still to deliver, retries used on them, invocations that carried them.
        work: list[tuple[list[SourceRecord], int, int]] = [(batch, 0, 0)]
        while work:
            if self._stopping.is_set():
                return False
            records, retries, invoked = work.pop(0)
            records = self._without_expired(records, invoked)
            if not records:
                continue
            result = self._invoke(records)
            self.stats.invocations += 1
            outcome = judge(records, result, self._rules.report_batch_item_failures)
            if outcome.retry_from is None:
                continue
            if outcome.function_error:
                self.stats.function_errors += 1
            else:
                self.stats.item_failures += 1
            failed = records[outcome.retry_from :]
            if outcome.function_error and self._rules.bisect_on_error and len(failed) > 1:
                middle = len(failed) // 2
                work[:0] = [(failed[:middle], retries, invoked + 1), (failed[middle:], retries, invoked + 1)]
                self.stats.bisections += 1
                log.info("%s: bisecting a failed batch of %d records", self._shard_id, len(failed))
            elif self._rules.maximum_retry_attempts != -1 and retries >= self._rules.maximum_retry_attempts:
                self._give_up(failed, "RetryAttemptsExhausted", invoked + 1, result)
            else:
                self.stats.retries += 1
                work.insert(0, (failed, retries + 1, invoked + 1))
                self._stopping.wait(self._retry_delay_s)
        return True

    def _without_expired(self, records: list[SourceRecord], invoked: int) -> list[SourceRecord]:
        if self._rules.maximum_record_age_s == -1:
            return records
        oldest_allowed = time.time() - self._rules.maximum_record_age_s
        fresh = [record for record in records if record.arrival >= oldest_allowed]
        if len(fresh) < len(records):
            # Records arrive in order within a shard, so the expired ones are a prefix of the batch.
            self._give_up(records[: len(records) - len(fresh)], "RecordAgeExceeded", invoked, None)
        return fresh

    def _give_up(
        self, records: list[SourceRecord], condition: str, invoke_count: int, result: InvokeResult | None
    ) -> None:
        first, last = records[0], records[-1]
        self.stats.records_given_up += len(records)
        log.warning(
            "%s: giving up on %d records (%s..%s): %s",
            self._shard_id,
            len(records),
            first.sequence_number,
            last.sequence_number,
            condition,
        )
        if self._rules.on_failure_arn is None:
            return
        message = on_failure_message(self._rules, self._shard_id, records, condition, invoke_count, result)
        self._send(self._rules.on_failure_arn, message)


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def on_failure_message(
    rules: DeliveryRules,
    shard_id: str,
    records: list[SourceRecord],
    condition: str,
    invoke_count: int,
    result: InvokeResult | None,
) -> dict[str, Any]:
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if result is not None and result.function_error:
        response_context["functionError"] = result.function_error
    batch_info_key = "KinesisBatchInfo" if rules.source_kind == "kinesis" else "DDBStreamBatchInfo"
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": rules.function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": _iso(time.time()),
        batch_info_key: {
            "shardId": shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": _iso(records[0].arrival),
            "approximateArrivalOfLastRecord": _iso(records[-1].arrival),
            "batchSize": len(records),
            "streamArn": rules.stream_arn,
        },
    }
