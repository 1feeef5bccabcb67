"""The table's Kinesis streaming destination, which the emulator accepts but ignores.

Reads the table's DynamoDB stream (a second reader, as AWS allows) and puts every change into the Kinesis
stream in the record format of Kinesis Data Streams for DynamoDB: a JSON document with a fresh UUID
``eventID``, ``userIdentity``, ``recordFormat``, ``tableName`` and a ``dynamodb`` part that has no
``SequenceNumber`` nor ``StreamViewType``, and whose ``ApproximateCreationDateTime`` is in microseconds or
milliseconds as the table's ``ApproximateCreationDateTimePrecision`` says. AWS may deliver these records
out of order and more than once; both are switchable here so consumers can be tested against them.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from local_runtime.emulator.aws_clients import Endpoint
from local_runtime.stopping import join_within
from local_runtime.streams.sources import DynamoDBStreamSource, SourceRecord, StartingPoint

log = logging.getLogger(__name__)

REORDER_WINDOW_S = 1.5  # with reordering on, each record is held back up to this long


@dataclass(frozen=True)
class StreamingDestination:
    table_name: str
    table_stream_arn: str
    kinesis_stream_arn: str
    precision: str  # "MICROSECOND" | "MILLISECOND"


@dataclass(frozen=True)
class DeliveryFaults:
    duplicate_rate: float = 0.0  # share of changes put twice
    reorder: bool = False


def kinesis_change_record(destination: StreamingDestination, change: SourceRecord, region: str) -> dict[str, Any]:
    stream_record = change.event_record
    images = {key: value for key, value in stream_record["dynamodb"].items() if key in ("Keys", "NewImage", "OldImage")}
    microseconds = destination.precision == "MICROSECOND"
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(change.arrival * (1_000_000 if microseconds else 1000)),
        **images,
        "SizeBytes": stream_record["dynamodb"]["SizeBytes"],
    }
    if microseconds:
        dynamodb["ApproximateCreationDateTimePrecision"] = "MICROSECOND"
    return {
        "awsRegion": region,
        "eventID": str(uuid.uuid4()),
        "eventName": stream_record["eventName"],
        "userIdentity": stream_record.get("userIdentity"),
        "recordFormat": "application/json",
        "tableName": destination.table_name,
        "dynamodb": dynamodb,
        "eventSource": "aws:dynamodb",
    }


class KinesisForwarder:
    def __init__(
        self,
        destination: StreamingDestination,
        endpoint: Endpoint,
        faults: DeliveryFaults,
        poll_interval_s: float,
        rng: random.Random,
    ) -> None:
        self._destination = destination
        self._region = endpoint.region
        self._table_stream = DynamoDBStreamSource(
            endpoint.client("dynamodbstreams"), destination.table_stream_arn, endpoint.region
        )
        self._kinesis = endpoint.client("kinesis")
        self._faults = faults
        self._poll_interval_s = poll_interval_s
        self._rng = rng
        self._held: list[tuple[float, int, int, str, bytes]] = []  # release time, order, copy, partition key, data
        self._order = itertools.count()
        self._records_put = 0
        self._duplicates_put = 0  # second copies of a change (--kinesis-duplicates)
        self._records_reordered = 0  # put after a change read later than them (--kinesis-reorder)
        self._latest_order_put = -1
        self._caught_up = False  # the last read of the table's stream found nothing, and nothing is held back
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kinesis-destination", daemon=True)

    def start(self) -> None:
        log.info(
            "copying changes of %s into %s (duplicates %.0f%%, reordering %s)",
            self._destination.table_name,
            self._destination.kinesis_stream_arn.split("/")[-1],
            self._faults.duplicate_rate * 100,
            "on" if self._faults.reorder else "off",
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        join_within(self._thread)

    def status(self) -> dict[str, Any]:
        return {
            "TableName": self._destination.table_name,
            "StreamARN": self._destination.kinesis_stream_arn,
            "recordsHeldBack": len(self._held),
            "recordsPut": self._records_put,
            "duplicatesPut": self._duplicates_put,
            "recordsReordered": self._records_reordered,
            "caughtUp": self._caught_up,
        }

    def _run(self) -> None:
        iterators = {
            shard.shard_id: self._table_stream.iterator(shard.shard_id, StartingPoint("TRIM_HORIZON"))
            for shard in self._table_stream.shards()
        }
        while not self._stopping.is_set():
            try:
                found = 0
                for shard_id, iterator in list(iterators.items()):
                    changes, next_iterator = self._table_stream.read(shard_id, iterator, 1000)
                    iterators[shard_id] = next_iterator or iterator
                    found += len(changes)
                    for change in changes:
                        self._hold(change)
                self._release_due()
                self._caught_up = not found and not self._held
            except Exception:
                self._caught_up = False  # a failed round holds what it read: not caught up until a round succeeds
                if self._stopping.is_set():
                    return
                log.exception("copying changes into Kinesis failed; trying again")
            self._stopping.wait(self._poll_interval_s)

    def _hold(self, change: SourceRecord) -> None:
        record = kinesis_change_record(self._destination, change, self._region)
        data = json.dumps(record).encode()
        keys = json.dumps(record["dynamodb"]["Keys"], sort_keys=True).encode()
        partition_key = hashlib.md5(keys).hexdigest().upper()  # opaque, like DynamoDB's
        copies = 2 if self._rng.random() < self._faults.duplicate_rate else 1
        order = next(self._order)  # both copies share the change's place in the table's order
        for copy in range(copies):
            delay = self._rng.uniform(0, REORDER_WINDOW_S) if self._faults.reorder else 0.0
            heapq.heappush(self._held, (time.monotonic() + delay, order, copy, partition_key, data))

    def _release_due(self) -> None:
        """Puts what is due; what Kinesis rejects, or could not be put, stays held and is put on the next round."""
        due = []
        while self._held and self._held[0][0] <= time.monotonic():
            due.append(heapq.heappop(self._held))
        for start in range(0, len(due), 500):
            chunk = due[start : start + 500]
            try:
                response = self._kinesis.put_records(
                    StreamARN=self._destination.kinesis_stream_arn,
                    Records=[{"PartitionKey": partition_key, "Data": data} for *_, partition_key, data in chunk],
                )
            except Exception:
                for held in due[start:]:
                    heapq.heappush(self._held, held)
                raise
            rejected = [held for held, result in zip(chunk, response["Records"], strict=True) if "ErrorCode" in result]
            for held in rejected:
                heapq.heappush(self._held, held)
            self._records_put += len(chunk) - len(rejected)
            for (_, order, copy, _, _), result in zip(chunk, response["Records"], strict=True):
                if "ErrorCode" not in result:
                    self._count_put(order, copy)

    def _count_put(self, order: int, copy: int) -> None:
        self._duplicates_put += copy
        self._records_reordered += order < self._latest_order_put
        self._latest_order_put = max(self._latest_order_put, order)
