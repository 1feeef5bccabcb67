"""A TripSagaStack in miniature on moto: the stack's outputs, the change stream, and a saga history written
through it the way AWS does (TripTable item, Kinesis copy in DynamoDB's format, consumers projecting the copy)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.kinesis.models import Stream
from typer.testing import CliRunner

from replay.cli import app
from replay.dlq import queue as dlq_queue
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.changes import PoisonRecord, Source, SourcePosition, decode_kinesis_payload
from services.trip.projection import content
from services.trip.projector import Projector
from services.trip.schema import Layout
from services.trip.search_tables import SearchTables
from tests import factories
from tests.conftest import REGION

STACK_NAME = "TripSagaStack"
STREAM_NAME = "TripChangeStream"
TTL = 8 * 24 * 3600


@dataclass
class History:
    """Writes trip changes as the product does, and lets the 'consumers' project the Kinesis copy."""

    trip_table: Any
    search_table: Any
    kinesis: Any = field(default_factory=lambda: boto3.client("kinesis", region_name=REGION))
    changes: list[factories.Change] = field(default_factory=list)
    layout: Layout = Layout.SHARDED  # the search table's (schema.Layout)

    def write(self, change: factories.Change) -> None:
        if change.new is not None:
            self.trip_table.put_item(Item=change.new)
        else:
            self.trip_table.delete_item(Key=change.keys)
        payload = json.dumps(factories.kinesis_payload(change)).encode()
        # DynamoDB picks an opaque partition key: one trip's changes may land on any shard
        self.kinesis.put_record(StreamName=STREAM_NAME, Data=payload, PartitionKey=uuid.uuid4().hex)
        self.changes.append(change)

    def saga(self, trip_id: str, *, payment_fails: bool = False, minute: int = 0) -> None:
        at = factories.later(minute)
        flight, hotel = factories.flight(trip_id), factories.hotel(trip_id)
        self.write(factories.insert(flight, at))
        self.write(factories.insert(hotel, at + timedelta(seconds=1)))
        payment = factories.payment(trip_id, status="FAILED" if payment_fails else "COMPLETED")
        self.write(factories.insert(payment, at + timedelta(seconds=2)))
        if payment_fails:  # the compensations, in reverse (seed 7.4)
            compensations = [
                (payment, "REFUNDED"),
                (hotel, "CANCELLED"),
                (flight, "CANCELLED"),
            ]
            for step, (old, status) in enumerate(compensations, start=3):
                new = {**old, "status": status, "version": old["version"] + 1}
                self.write(factories.modify(old, new, at + timedelta(seconds=step)))

    def project_like_the_consumers(self) -> None:
        """What the live Kinesis consumer does with the copy: decode every record (a poison one is parked), project in
        batches of 100."""
        records = []
        for shard in self.kinesis.list_shards(StreamName=STREAM_NAME)["Shards"]:
            iterator = self.kinesis.get_shard_iterator(
                StreamName=STREAM_NAME, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for raw in self.kinesis.get_records(ShardIterator=iterator)["Records"]:
                position = SourcePosition(Source.KINESIS, STREAM_NAME, shard["ShardId"], raw["SequenceNumber"])
                with contextlib.suppress(PoisonRecord):
                    records.append(decode_kinesis_payload(raw["Data"], position))
        documents = SearchDocuments(self.search_table.name, boto3.resource("dynamodb"), layout=self.layout)
        projector = Projector(documents, TTL)
        for start in range(0, len(records), 100):
            projector.project([r for r in records[start : start + 100] if r is not None])


def documents(table: Any) -> dict[str, dict[str, Any]]:
    """The table's items by trip, less their delivery bookkeeping (`projection.content`)."""
    items = table.scan(ConsistentRead=True)["Items"]
    return {item["trip_id"]: content(item) for item in items}


@pytest.fixture
def stack(trip_table: Any, search_table: Any, dlq_url: str) -> dict[str, str]:
    """The stack outputs the tool reads, for resources created on moto."""
    boto3.client("kinesis", region_name=REGION).create_stream(StreamName=STREAM_NAME, ShardCount=1)
    parameter = f"/{STACK_NAME}/search-tables"
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=parameter, Type="String", Value=SearchTables(search_table.name).to_json()
    )
    outputs = {
        "TripTableName": trip_table.name,
        "SearchTableName": search_table.name,
        "SearchTablesParameter": parameter,
        "ChangeStreamName": STREAM_NAME,
        "DlqUrl": dlq_url,
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:TripSaga",
    }
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=STACK_NAME, TemplateBody=json.dumps(template)
    )
    return outputs


@pytest.fixture
def history(stack: dict[str, str], trip_table: Any, search_table: Any) -> History:
    return History(trip_table, search_table)


def replay_cli(checkpoint_dir: str, *common: str) -> Any:
    """Run `python -m replay ARGS --json` in-process; returns (exit code, parsed stdout or raw output)."""
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, Any]:
        result = runner.invoke(app, [*args, *common, *(() if "--json" in args else ("--json",))])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a crash is a bug of the tool, never an answer
        try:
            return result.exit_code, json.loads(result.stdout)
        except ValueError:
            return result.exit_code, result.output

    invoke.checkpoint_dir = checkpoint_dir  # type: ignore[attr-defined]
    return invoke


@pytest.fixture
def quick_queue_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's SQS answers every receive from all its messages: no long poll needed to see them all."""
    monkeypatch.setattr(dlq_queue, "RECEIVE_WAIT_SECONDS", 0)


@pytest.fixture
def replay(tmp_path: Any) -> Any:
    return replay_cli(str(tmp_path / "checkpoints"))


@pytest.fixture
def aws_like_split(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's SplitShard moves the parent's records into the children and keeps routing new records to the
    closed parent. AWS keeps the parent's records where they are and routes new ones to the children."""

    def split_shard(self: Stream, shard_to_split: str, new_starting_hash_key: str) -> None:
        parent = self.shards[shard_to_split]
        kept = parent.records
        original(self, shard_to_split, new_starting_hash_key)
        for child in self.shards.values():
            if child.parent == shard_to_split:
                child.records.clear()
        parent.records = kept

    def get_shard_for_key(self: Stream, partition_key: str, explicit_hash_key: str | None = None) -> Any:
        for shard in self.shards.values():
            if shard.is_open and shard.starting_hash <= _hash(partition_key, explicit_hash_key) <= shard.ending_hash:
                return shard
        return None

    original = Stream.split_shard
    monkeypatch.setattr(Stream, "split_shard", split_shard)
    monkeypatch.setattr(Stream, "get_shard_for_key", get_shard_for_key)
    yield


def _hash(partition_key: str, explicit_hash_key: str | None) -> int:
    if explicit_hash_key:
        return int(explicit_hash_key)
    return int(hashlib.md5(partition_key.encode()).hexdigest(), 16)
