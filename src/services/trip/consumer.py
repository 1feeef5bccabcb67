"""The projection's Lambda entrypoint, shared by the DynamoDB Streams and the Kinesis consumers.

A batch is decoded record by record, projected as a whole (coalesced per trip), and then handed to Powertools'
`BatchProcessor`, which turns the records that must be retried into `batchItemFailures`. Every record ends in one
of: applied, coalesced, stale, irrelevant (all counted), parked in the DLQ with its reason (poison; writer-contract
violations are counted apart too), or reported as a batch item failure so Lambda delivers it again, even when every
record of the batch fails. What the fold found it could not order (`projection.Finding`) is logged as a WARNING and
counted (`ChangesAmbiguous`, `WriterContractViolations`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.trip import search_tables
from services.trip.adapters.dead_letters import DeadLetters, PoisonMessage
from services.trip.adapters.search_documents import SearchDocuments, TransientStoreError
from services.trip.changes import (
    PoisonRecord,
    Source,
    SourcePosition,
    TripChange,
    WriterContractViolation,
    decode_kinesis_record,
    decode_stream_record,
)
from services.trip.config import projector_settings
from services.trip.findings import FoldReport
from services.trip.projection import Finding, Outcome
from services.trip.projector import BatchProjection, ProjectionFailure, Projector, project_into
from services.trip.schema import Layout

logger = Logger()
metrics = Metrics()

IRRELEVANT = "irrelevant"
POISON = "poison"
CONTRACT_VIOLATION = "contract-violation"  # poison too: parked, and counted apart (WriterContractViolations)


class RecordNotProjected(RuntimeError):
    """Raised for a record Lambda must deliver again (BatchProcessor reports it as a batch item failure)."""


@dataclass(frozen=True)
class SourceBinding:
    source: Source
    event_type: EventType
    decode: Callable[[Mapping[str, Any]], TripChange | None]


BINDINGS = {
    Source.DYNAMODB_STREAMS: SourceBinding(Source.DYNAMODB_STREAMS, EventType.DynamoDBStreams, decode_stream_record),
    Source.KINESIS: SourceBinding(Source.KINESIS, EventType.KinesisDataStreams, decode_kinesis_record),
}


@cache
def _projector(table_name: str, layout: Layout) -> Projector:
    """The projector of one search table, kept for the life of the execution environment."""
    # Eventually consistent reads: the conditional write catches a stale one (SearchDocuments)
    documents = SearchDocuments(table_name, consistent_reads=False, layout=layout)
    return Projector(documents, projector_settings().tombstone_ttl_seconds)


@cache
def _dead_letters() -> DeadLetters:
    return DeadLetters(projector_settings().dlq_url)


def clear_caches() -> None:
    """Forget the settings and adapters built for this execution environment (tests and benches that switch the
    AWS endpoint or the tables between invocations)."""
    for cached in (projector_settings, _projector, _dead_letters):
        cached.cache_clear()


def consume(event: Mapping[str, Any], context: LambdaContext, binding: SourceBinding) -> PartialItemFailureResponse:
    # The live table and, during a cutover, its shadow (search_tables): read once a batch, from a short cache
    tables = search_tables.current()
    projectors = [_projector(table, tables.layout_of(table)) for table in tables.written]
    dead_letters = _dead_letters()
    records: list[Mapping[str, Any]] = list(event.get("Records") or [])
    verdicts: dict[int, str] = {}  # id(raw record) -> outcome name, or the reason it must be retried
    retry: set[int] = set()
    changes: list[tuple[Mapping[str, Any], TripChange]] = []

    for record in records:
        try:
            change = binding.decode(record)
        except PoisonRecord as poison:
            verdict = _park(dead_letters, binding, record, poison.reason, context, retry)
            verdicts[id(record)] = _poison_kind(verdict, isinstance(poison, WriterContractViolation))
            continue
        if change is None:
            verdicts[id(record)] = IRRELEVANT
        else:
            changes.append((record, change))

    projection = project_into(projectors, [change for _, change in changes])
    findings: dict[int, Finding] = {}  # id(raw record) -> what the fold reported about it
    for index, ((record, change), result) in enumerate(zip(changes, projection.results, strict=True)):
        if isinstance(result, ProjectionFailure) and not result.retryable:
            verdict = _park(dead_letters, binding, record, result.reason, context, retry, change)
            verdicts[id(record)] = _poison_kind(verdict, result.contract_violation)
        elif isinstance(result, ProjectionFailure):
            retry.add(id(record))
            verdicts[id(record)] = result.reason
            _log_record("warning", "change will be retried", binding, change.position, change.trip_id, result.reason)
        elif index in projection.findings:
            report = FoldReport(projection.findings[index], result, change)
            verdicts[id(record)], findings[id(record)] = result.value, report.finding
            _log_record("warning", report.message, binding, change.position, change.trip_id, report.reason)
        else:
            verdicts[id(record)] = result.value
            _log_record("debug", f"change {result.value}", binding, change.position, change.trip_id)

    now = _now()
    ages_ms = [
        (now - change.approximate_time).total_seconds() * 1000
        for (_, change), result in zip(changes, projection.results, strict=True)
        if result is Outcome.APPLIED
    ]
    _count(binding, verdicts, retry, list(findings.values()), projection, ages_ms)

    def settle(record: Any) -> None:
        if id(record.raw_event) in retry:
            raise RecordNotProjected(verdicts[id(record.raw_event)])

    # Not raising when every record failed: a BatchProcessingError is a function error (Errors alarm, bisection of
    # a batch that only needs redelivery), while the item failures alone make Lambda retry from the first of them.
    return process_partial_response(
        event=dict(event),
        record_handler=settle,
        processor=BatchProcessor(binding.event_type, raise_on_entire_batch_failure=False),
        context=context,
    )


def _park(
    dead_letters: DeadLetters,
    binding: SourceBinding,
    record: Mapping[str, Any],
    reason: str,
    context: LambdaContext,
    retry: set[int],
    change: TripChange | None = None,
) -> str:
    position = change.position if change else _position_of(binding, record)
    trip_id = change.trip_id if change else None
    message = PoisonMessage(
        source=binding.source.value,
        reason=reason,
        event_source_arn=record.get("eventSourceARN"),
        shard_id=position.shard_id,
        sequence_number=position.sequence_number,
        function_name=getattr(context, "function_name", None),
        detected_at=_now().isoformat(),
        record=dict(record),
    )
    try:
        message_id = dead_letters.send(message)
    except TransientStoreError as error:
        retry.add(id(record))
        _log_record("error", "poison record could not be parked", binding, position, trip_id, str(error))
        return str(error)
    _log_record("error", f"poison record parked in the DLQ as {message_id}", binding, position, trip_id, reason)
    return POISON


def _poison_kind(verdict: str, contract_violation: bool) -> str:
    return CONTRACT_VIOLATION if contract_violation and verdict == POISON else verdict


def _now() -> datetime:
    return datetime.now(UTC)


def _position_of(binding: SourceBinding, record: Mapping[str, Any]) -> SourcePosition:
    """Best-effort position of a record that did not decode."""
    inner = record.get("kinesis") if binding.source is Source.KINESIS else record.get("dynamodb")
    inner = inner if isinstance(inner, Mapping) else {}
    sequence = inner.get("sequenceNumber") or inner.get("SequenceNumber")
    event_id = str(record.get("eventID", ""))
    shard = event_id.partition(":")[0] if binding.source is Source.KINESIS and ":" in event_id else None
    return SourcePosition(binding.source, record.get("eventSourceARN"), shard, sequence)


def _log_record(
    level: str,
    message: str,
    binding: SourceBinding,
    position: SourcePosition,
    trip_id: str | None,
    reason: str | None = None,
) -> None:
    getattr(logger, level)(
        message,
        extra={
            "trip_id": trip_id,
            "source": binding.source.value,
            "shard_id": position.shard_id,
            "sequence_number": position.sequence_number,
            **({"reason": reason} if reason else {}),
        },
    )


def _count(
    binding: SourceBinding,
    verdicts: dict[int, str],
    retry: set[int],
    findings: list[Finding],
    projection: BatchProjection,
    ages_ms: list[float],
) -> None:
    """The batch's metrics, per source. `ChangeAge` (ms, one value per applied change): how long after the stream
    saw a change it became searchable (now - ApproximateCreationDateTime; Streams round that down to the second)."""
    metrics.add_dimension(name="source", value=binding.source.value)
    for age_ms in ages_ms:  # Powertools publishes every 100 values of a metric, the dimensions kept
        metrics.add_metric(name="ChangeAge", unit=MetricUnit.Milliseconds, value=max(age_ms, 0.0))
    tally: dict[str, int] = {}
    for key, verdict in verdicts.items():
        name = "retried" if key in retry else verdict
        tally[name] = tally.get(name, 0) + 1
    ambiguous = findings.count(Finding.AMBIGUOUS)
    parked_violations = tally.pop(CONTRACT_VIOLATION, 0)  # parked like any poison record, and counted apart
    if parked_violations:
        tally[POISON] = tally.get(POISON, 0) + parked_violations
    # and the changes applied over an older version the stream saw later (that one broke the contract)
    violations = parked_violations + findings.count(Finding.WENT_BACK)
    for name in ("applied", "coalesced", "stale", IRRELEVANT, POISON, "retried"):
        metrics.add_metric(name=f"Changes{name.capitalize()}", unit=MetricUnit.Count, value=tally.get(name, 0))
    metrics.add_metric(name="ChangesAmbiguous", unit=MetricUnit.Count, value=ambiguous)
    metrics.add_metric(name="WriterContractViolations", unit=MetricUnit.Count, value=violations)
    metrics.add_metric(name="DocumentWrites", unit=MetricUnit.Count, value=projection.writes)
    metrics.add_metric(name="WriteConflicts", unit=MetricUnit.Count, value=projection.conflicts)
    logger.info(
        "batch projected",
        extra={
            "source": binding.source.value,
            "records": len(verdicts),
            "writer_contract_violations": violations,
            Finding.AMBIGUOUS.value: ambiguous,
            **tally,
        },
    )


def lambda_handler_for(source: Source) -> Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]:
    """The decorated Lambda handler of one source: the two handler modules differ only in this argument."""
    binding = BINDINGS[source]

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return consume(event, context, binding)

    return traced(lambda_handler)


Handler = Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse]


def traced(handler: Handler) -> Handler:
    """The handler with Powertools' Tracer around it, unless POWERTOOLS_TRACE_DISABLED is true.

    Lambda's active tracing (set on every function by the stack) records each invocation in X-Ray without any
    SDK. The Tracer adds a subsegment per AWS call, but building it imports the X-Ray SDK: about 120 ms of every
    cold start, even when disabled. So it is built only when asked for (stack context `detailedTracing`).
    """
    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return handler
    wrapped: Handler = Tracer().capture_lambda_handler(handler)
    return wrapped
