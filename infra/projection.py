"""The projection: one consumer per change source, both keeping TripSearchTable up to date, and their DLQ.

Mapping settings follow AWS Solutions Constructs (aws-dynamodbstreams-lambda, aws-kinesisstreams-lambda) and go
further: partial batch responses, so one bad record neither blocks its shard nor replays the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.dead_letters import dead_letter_queue
from infra.lambda_function import FunctionFactory
from infra.search_tables import SearchTableAccess
from infra.settings import BATCH_SIZE, StackSettings
from services.trip.changes import Source

PROJECTION_SERVICE = "trip-projection"  # POWERTOOLS_SERVICE_NAME: the consumers' `service` metric dimension
BATCHING_WINDOW = Duration.seconds(1)
# Retries are bounded by the records' age, not by a count: MaximumRetryAttempts is left unset, which Lambda reads
# as -1, "retried until the record expires" (AWS Lambda Developer Guide, Kinesis and DynamoDB Streams event source
# mapping parameters). A throttled or unreachable search table is transient: a small count would park whole batches
# in the DLQ within seconds of a throttling storm. Poison records never retry: the consumer parks them itself.
# 12 h leaves the other 12 h of DynamoDB Streams' 24 h retention (Amazon DynamoDB Developer Guide, "Change data
# capture for DynamoDB Streams") to read back the records a DLQ pointer names (docs/DLQ-RUNBOOK.md); the Kinesis
# stream keeps them at least a day (changeStreamRetentionDays). The iterator-age alarm fires after 5 minutes.
MAX_RECORD_AGE = Duration.hours(12)


@dataclass(frozen=True)
class Pipeline:
    """One wired change source: what monitoring shows side by side."""

    title: str
    consumer: lambda_.Function
    source: str  # the consumers' `source` metric dimension (services.trip.changes.Source)


class Projection(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        functions: FunctionFactory,
        trip_table: dynamodb.ITable,
        change_stream: kinesis.IStream,
        search_tables: SearchTableAccess,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dlq = dead_letter_queue(
            self,
            "DeadLetterQueue",
            receives="the mappings' on-failure destination and the consumers' poison-record sink",
        )
        self._functions = functions
        self._settings = settings
        self._search_tables = search_tables
        self._environment = {
            **search_tables.environment,
            "DLQ_URL": self.dlq.queue_url,
            "TOMBSTONE_TTL_SECONDS": str(settings.tombstone_ttl_seconds),
            # Powertools' Tracer (and the X-Ray SDK it imports) only on request: see consumer.traced.
            "POWERTOOLS_TRACE_DISABLED": str(not settings.detailed_tracing).lower(),
        }
        # The same safe settings for both sources: one bad record neither blocks a shard nor is lost.
        mapping_settings: dict[str, Any] = {
            "starting_position": lambda_.StartingPosition.TRIM_HORIZON,
            "batch_size": BATCH_SIZE,
            "max_batching_window": BATCHING_WINDOW,
            "bisect_batch_on_error": True,
            "max_record_age": MAX_RECORD_AGE,
            "parallelization_factor": settings.parallelization_factor,
            "report_batch_item_failures": True,
            "on_failure": sources.SqsDlq(self.dlq),
        }

        self.pipelines: list[Pipeline] = []
        if settings.dynamodb_streams_pipeline:
            consumer = self._consumer(
                "StreamConsumer",
                "services.trip.handlers.stream_consumer.lambda_handler",
                "Projects TripTable's DynamoDB Streams records into TripSearchTable",
            )
            consumer.add_event_source(sources.DynamoEventSource(trip_table, **mapping_settings))
            self.pipelines.append(Pipeline("DynamoDB Streams pipeline", consumer, Source.DYNAMODB_STREAMS.value))
        if settings.kinesis_pipeline:
            consumer = self._consumer(
                "KinesisConsumer",
                "services.trip.handlers.kinesis_consumer.lambda_handler",
                "Projects TripTable's changes from the Kinesis change stream into TripSearchTable",
            )
            consumer.add_event_source(sources.KinesisEventSource(change_stream, **mapping_settings))
            self.pipelines.append(Pipeline("Kinesis pipeline", consumer, Source.KINESIS.value))

    def _consumer(self, construct_id: str, handler: str, description: str) -> lambda_.Function:
        consumer = self._functions.function(
            self,
            construct_id,
            handler=handler,
            description=description,
            service=PROJECTION_SERVICE,
            environment=self._environment,
            # One consumer keeps up with a saturated shard (infra.settings.CONSUMER_MEMORY_MB); the reservation
            # keeps the saga and the search API from starving it.
            memory_mb=self._settings.consumer_memory_mb,
            reserved_concurrency=self._settings.consumer_reserved_concurrency,
        )
        # Read as well as write: a conditional update first reads the current document's versions.
        self._search_tables.grant_read_write(consumer)
        # Poison records go to the DLQ whole, sent by the function itself (the mapping sends only batch pointers).
        self.dlq.grant_send_messages(consumer)
        return consumer
