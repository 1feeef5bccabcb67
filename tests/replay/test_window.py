"""The Kinesis window reader: lineage order, and backing off when the shard's read limit is reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from replay.errors import Throttled
from replay.window.reader import Pacing, Window, WindowReader
from replay.window.shards import Shard, lineage_order
from tests.replay.kinesis_reads import FakeClock

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

SHARD = Shard("shardId-000000000000", (), None)
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_parents_come_before_their_children_whatever_the_listing_order() -> None:
    merged = Shard("shardId-000000000005", ("shardId-000000000003", "shardId-000000000004"), None)
    split = [Shard(f"shardId-00000000000{n}", ("shardId-000000000001",), "9") for n in (3, 4)]
    listing = [
        merged,
        *reversed(split),
        Shard("shardId-000000000001", (), "5"),
        Shard("shardId-000000000002", (), None),
    ]

    order = [shard.shard_id for shard in lineage_order(listing)]

    assert order == [f"shardId-00000000000{n}" for n in (1, 2, 3, 4, 5)]


def test_a_parent_past_retention_is_not_waited_for() -> None:
    orphan = Shard("shardId-000000000007", ("shardId-000000000001",), None)

    assert lineage_order([orphan]) == [orphan]


@pytest.fixture
def stubbed() -> Any:
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    with Stubber(kinesis) as stubber:
        stubber.add_response("get_shard_iterator", {"ShardIterator": "it-0"})
        yield kinesis, stubber


def test_throttled_reads_back_off_doubling_and_then_go_on(stubbed: Any) -> None:
    kinesis, stubber = stubbed
    for _ in range(2):
        stubber.add_client_error("get_records", "ProvisionedThroughputExceededException")
    record = {"SequenceNumber": "1", "ApproximateArrivalTimestamp": NOW, "Data": b"{}", "PartitionKey": "k"}
    stubber.add_response("get_records", {"Records": [record], "NextShardIterator": "it-1", "MillisBehindLatest": 0})
    stubber.add_response("get_records", {"Records": [], "NextShardIterator": "it-2", "MillisBehindLatest": 0})
    clock = FakeClock()
    pacing = Pacing(clock=clock.now, sleep=clock.sleep)

    pages = list(WindowReader(kinesis, "TripChangeStream", Window(None, NOW), pacing).read(SHARD))

    assert [len(page.records) for page in pages] == [1, 0]
    assert pages[-1].last
    assert clock.slept == [0.5, 1.0, 3 / (1 << 20)]  # two backoffs, then the pause for the page's 3 bytes
    assert pacing.throttled == 2


def test_a_shard_that_stays_throttled_stops_the_run_with_advice(stubbed: Any) -> None:
    kinesis, stubber = stubbed
    for _ in range(3):
        stubber.add_client_error("get_records", "ProvisionedThroughputExceededException")
    clock = FakeClock()
    pacing = Pacing(max_throttled_attempts=3, clock=clock.now, sleep=clock.sleep)

    with pytest.raises(Throttled, match="resumes from its checkpoint"):
        list(WindowReader(kinesis, "TripChangeStream", Window(None, NOW), pacing).read(SHARD))


def test_records_after_the_window_end_are_not_read(stubbed: Any) -> None:
    kinesis, stubber = stubbed
    records = [
        {
            "SequenceNumber": str(n),
            "ApproximateArrivalTimestamp": NOW + timedelta(minutes=n),
            "Data": b"{}",
            "PartitionKey": "k",
        }
        for n in (0, 1, 2)
    ]
    stubber.add_response("get_records", {"Records": records, "NextShardIterator": "it-1", "MillisBehindLatest": 0})

    [page] = WindowReader(kinesis, "s", Window(None, NOW + timedelta(minutes=1)), Pacing()).read(SHARD)

    assert [r.sequence_number for r in page.records] == ["0", "1"]
    assert page.last
