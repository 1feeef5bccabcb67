"""Lambda's stream pollers: every event source mapping the Lambda API lists is polled like AWS polls it.

The set of mappings is read again every second, so mappings created later (the replay tool's temporary
``AT_TIMESTAMP`` mapping) start, deleted or disabled ones stop, and a changed mapping restarts where it
was. Within a mapping, each shard has its consumer; a shard opened by a reshard starts once its parents
are read to their end, as on AWS. Progress is reported two ways: the ``IteratorAge`` metric put to
CloudWatch (namespace ``AWS/Lambda``, dimension ``FunctionName``, as AWS publishes it) and ``status()``,
served at ``/_local_runtime/status``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local_runtime.emulator.aws_clients import Endpoint
from local_runtime.stopping import join_within
from local_runtime.streams.batch_delivery import BatchDelivery, DeliveryRules, InvokeResult
from local_runtime.streams.shard_consumer import Batching, ShardConsumer
from local_runtime.streams.sources import (
    DynamoDBStreamSource,
    KinesisSource,
    ShardInfo,
    SourceRecord,
    StartingPoint,
    StreamSource,
)

log = logging.getLogger(__name__)

MAPPINGS_REFRESH_S = 1.0


@dataclass(frozen=True)
class PollIntervals:
    """How often a shard is polled when it has nothing new (AWS: DynamoDB Streams ~4/s, Kinesis ~1/s)."""

    dynamodb_s: float = 0.25
    kinesis_s: float = 1.0


@dataclass(frozen=True)
class MappingSettings:
    uuid: str
    function_name: str
    batch_size: int
    batching_window_s: float
    starting_position: str
    starting_timestamp: datetime | None
    rules: DeliveryRules

    @classmethod
    def from_configuration(cls, mapping: dict[str, Any]) -> MappingSettings:
        stream_arn = mapping["EventSourceArn"]
        on_failure = (mapping.get("DestinationConfig") or {}).get("OnFailure") or {}
        return cls(
            uuid=mapping["UUID"],
            function_name=mapping["FunctionArn"].split(":")[6],
            batch_size=mapping.get("BatchSize") or 100,
            batching_window_s=mapping.get("MaximumBatchingWindowInSeconds") or 0,
            starting_position=mapping.get("StartingPosition") or "TRIM_HORIZON",
            starting_timestamp=mapping.get("StartingPositionTimestamp"),
            rules=DeliveryRules(
                function_arn=mapping["FunctionArn"],
                stream_arn=stream_arn,
                source_kind=stream_arn.split(":")[2],
                report_batch_item_failures="ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []),
                bisect_on_error=bool(mapping.get("BisectBatchOnFunctionError")),
                maximum_retry_attempts=_or_unlimited(mapping.get("MaximumRetryAttempts")),
                maximum_record_age_s=_or_unlimited(mapping.get("MaximumRecordAgeInSeconds")),
                on_failure_arn=on_failure.get("Destination"),
            ),
        )


def _or_unlimited(value: int | None) -> int:
    return -1 if value is None else int(value)


class MappingPoller:
    """Polls the shards of one mapping's stream; resumes from ``checkpoints`` (shard id -> sequence number)."""

    def __init__(self, settings: MappingSettings, endpoint: Endpoint, poll: PollIntervals, checkpoints: dict[str, str]):
        self.settings = settings
        self.checkpoints = checkpoints
        self._endpoint = endpoint
        self._lambda = endpoint.lambda_client()
        self._cloudwatch = endpoint.client("cloudwatch")
        kind = settings.rules.source_kind
        self._source = self._open_source(kind)
        interval = poll.kinesis_s if kind == "kinesis" else poll.dynamodb_s
        self._batching = Batching(settings.batch_size, settings.batching_window_s, interval)
        self._consumers: dict[str, ShardConsumer] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mapping-{settings.uuid[:8]}", daemon=True)

    def _open_source(self, kind: str) -> StreamSource:
        stream_arn = self.settings.rules.stream_arn
        region = self._endpoint.region
        if kind == "kinesis":
            role = self._lambda.get_function_configuration(FunctionName=self.settings.rules.function_arn)["Role"]
            return KinesisSource(self._endpoint.client("kinesis"), stream_arn, region, role)
        return DynamoDBStreamSource(self._endpoint.client("dynamodbstreams"), stream_arn, region)

    def start(self) -> None:
        log.info(
            "polling %s for %s (batch %d, window %ss, from %s)",
            self.settings.rules.stream_arn.split(":", 5)[5],
            self.settings.function_name,
            self.settings.batch_size,
            self.settings.batching_window_s,
            self.settings.starting_position,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        join_within(self._thread)
        for consumer in list(self._consumers.values()):
            consumer.join()
            if consumer.progress.checkpoint is not None:
                self.checkpoints[consumer.shard.shard_id] = consumer.progress.checkpoint

    def status(self) -> dict[str, Any]:
        shards = {
            shard_id: {
                "checkpoint": consumer.progress.checkpoint,
                "recordsDelivered": consumer.progress.records_delivered,
                "iteratorAgeMilliseconds": consumer.progress.iterator_age_ms,
                "caughtUp": consumer.progress.caught_up,
                "finished": consumer.progress.finished,
                **consumer.delivery_stats.as_status(),
            }
            for shard_id, consumer in list(self._consumers.items())
        }
        return {
            "UUID": self.settings.uuid,
            "FunctionName": self.settings.function_name,
            "EventSourceArn": self.settings.rules.stream_arn,
            "caughtUp": bool(shards) and all(s["caughtUp"] or s["finished"] for s in shards.values()),
            "shards": shards,
        }

    def _run(self) -> None:
        first_round = True
        while not self._stopping.is_set():
            try:
                self._follow_shards(self._source.shards(), first_round)
                first_round = False
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("listing the shards of %s failed", self.settings.rules.stream_arn)
            self._stopping.wait(MAPPINGS_REFRESH_S)

    def _follow_shards(self, shards: list[ShardInfo], first_round: bool) -> None:
        listed = {shard.shard_id for shard in shards}
        for shard in shards:
            consumer = self._consumers.get(shard.shard_id)
            if consumer is not None:
                consumer.shard_changed(shard)
                continue
            parents_done = all(
                parent not in listed or (parent in self._consumers and self._consumers[parent].progress.finished)
                for parent in shard.parent_ids
            )
            if parents_done:
                self._start_consumer(shard, self._starting_point(shard, first_round))

    def _starting_point(self, shard: ShardInfo, first_round: bool) -> StartingPoint:
        checkpoint = self.checkpoints.get(shard.shard_id)
        if checkpoint is not None:
            return StartingPoint("AFTER_SEQUENCE_NUMBER", sequence_number=checkpoint)
        if not first_round:  # a shard opened by a reshard while we were polling: read it from its start
            return StartingPoint("TRIM_HORIZON")
        return StartingPoint(self.settings.starting_position, timestamp=self.settings.starting_timestamp)

    def _start_consumer(self, shard: ShardInfo, start: StartingPoint) -> None:
        delivery = BatchDelivery(
            self.settings.rules,
            shard.shard_id,
            invoke=self._invoke,
            send=self._send_to_destination,
            retry_delay_s=self._batching.poll_interval_s,
            stopping=self._stopping,
        )
        consumer = ShardConsumer(self._source, shard, start, self._batching, delivery, self._stopping)
        self._consumers[shard.shard_id] = consumer
        consumer.start()

    def _invoke(self, records: list[SourceRecord]) -> InvokeResult:
        log.info(
            "invoking %s with %d records of %s (%s..%s)",
            self.settings.function_name,
            len(records),
            self.settings.rules.source_kind,
            records[0].sequence_number,
            records[-1].sequence_number,
        )
        self._put_iterator_age(records[-1])
        event = {"Records": [record.event_record for record in records]}
        response = self._lambda.invoke(
            FunctionName=self.settings.rules.function_arn, Payload=json.dumps(event).encode()
        )
        return InvokeResult(function_error=response.get("FunctionError"), payload=response["Payload"].read())

    def _put_iterator_age(self, newest: SourceRecord) -> None:
        self._cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "IteratorAge",
                    "Dimensions": [{"Name": "FunctionName", "Value": self.settings.function_name}],
                    "Value": max(0.0, (time.time() - newest.arrival) * 1000),
                    "Unit": "Milliseconds",
                }
            ],
        )

    def _send_to_destination(self, destination_arn: str, message: dict[str, Any]) -> None:
        service, account, name = (
            destination_arn.split(":")[2],
            destination_arn.split(":")[4],
            destination_arn.split(":")[5],
        )
        body = json.dumps(message)
        if service == "sqs":
            sqs = self._endpoint.client("sqs")
            queue_url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        elif service == "sns":
            self._endpoint.client("sns").publish(TopicArn=destination_arn, Message=body)
        else:
            log.error("on-failure destination %s is not supported locally (SQS and SNS are)", destination_arn)
            return
        log.info("sent a pointer to the failed batch to %s", name)


class EventSourceMappings:
    """Keeps one poller per enabled stream mapping listed by the Lambda API."""

    def __init__(self, endpoint: Endpoint, poll: PollIntervals) -> None:
        self._endpoint = endpoint
        self._poll = poll
        self._lambda = endpoint.lambda_client()
        self._pollers: dict[str, MappingPoller] = {}
        self._checkpoints: dict[str, dict[str, str]] = {}  # mapping UUID -> shard id -> sequence number
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-source-mappings", daemon=True)

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        join_within(self._thread)
        for poller in self._pollers.values():
            poller.stop()

    def status(self) -> list[dict[str, Any]]:
        return [poller.status() for poller in list(self._pollers.values())]

    def refresh(self) -> None:
        wanted = {
            mapping["UUID"]: MappingSettings.from_configuration(mapping)
            for mapping in self._list_mappings()
            if mapping.get("State") == "Enabled" and mapping["EventSourceArn"].split(":")[2] in ("dynamodb", "kinesis")
        }
        for uuid, poller in list(self._pollers.items()):
            if wanted.get(uuid) != poller.settings:
                log.info("mapping %s was %s", uuid, "changed" if uuid in wanted else "deleted or disabled")
                poller.stop()
                self._checkpoints[uuid] = poller.checkpoints
                del self._pollers[uuid]
        for uuid, settings in wanted.items():
            if uuid not in self._pollers:
                poller = MappingPoller(settings, self._endpoint, self._poll, self._checkpoints.pop(uuid, {}))
                self._pollers[uuid] = poller
                poller.start()

    def _list_mappings(self) -> list[dict[str, Any]]:
        mappings: list[dict[str, Any]] = []
        for page in self._lambda.get_paginator("list_event_source_mappings").paginate():
            mappings.extend(page["EventSourceMappings"])
        return mappings

    def _run(self) -> None:
        while not self._stopping.wait(MAPPINGS_REFRESH_S):
            try:
                self.refresh()
            except Exception:
                if not self._stopping.is_set():
                    log.exception("listing the event source mappings failed")
