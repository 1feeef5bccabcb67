"""Shards read at once (issue 19.5): every record read once, parents before children, each shard within its share
of the read limits (3 GetRecords a second, 1 MiB/s), and a run stopped by a throttled shard resumed without
reading anything twice or losing anything. On moto, each shard's time on a `FakeClock`: nothing waits for it."""

from __future__ import annotations

import io
import itertools
import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from rich.console import Console
from rich.text import Text

from replay.errors import Throttled
from replay.stack import Connection, find_stack_resources
from replay.tally import Tally
from replay.window.reader import Pacing, Window, WindowReader
from replay.window.report import Silent, TerminalProgress
from replay.window.run import RunRequest, replay_run
from replay.window.shards import lineage_order, list_shards
from replay.window.sources import ReadBatch, read_window, scan_table
from tests import factories
from tests.conftest import REGION
from tests.replay.conftest import STACK_NAME, STREAM_NAME, History, documents
from tests.replay.kinesis_reads import FakeClock, GetRecordsLog

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

STREAM = "ConcurrentStream"
QUARTER = 2**128 // 4  # four shards split the hash key space evenly


def shard_id(number: int) -> str:
    return f"shardId-{number:012d}"


def put(kinesis: Any, stream: str, shard: int, data: bytes, quarter: int = QUARTER) -> None:
    """A record into the shard whose hash key range starts at `shard * quarter`."""
    kinesis.put_record(StreamName=stream, Data=data, PartitionKey="k", ExplicitHashKey=str(shard * quarter))


def change_data(number: int) -> bytes:
    return json.dumps(factories.kinesis_payload(factories.insert(factories.flight(f"trip-{number:03d}")))).encode()


def read_all(kinesis: Any, stream: str, pacing: Pacing, concurrency: int) -> list[ReadBatch]:
    shards = lineage_order(list_shards(kinesis, stream))
    reader = WindowReader(kinesis, stream, Window(None, datetime.now(UTC) + timedelta(minutes=1)), pacing)
    return list(
        read_window(reader, f"arn:aws:kinesis:{REGION}:123456789012:stream/{stream}", shards, {}, set(), concurrency)
    )


@pytest.fixture
def kinesis(aws: None) -> Any:
    return boto3.client("kinesis", region_name=REGION)


def test_a_shard_is_called_at_most_three_times_in_any_second(kinesis: Any) -> None:
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    for number in range(20):
        put(kinesis, STREAM, 0, change_data(number))
    clock = FakeClock()
    log = GetRecordsLog(kinesis.meta.events, clock)

    batches = read_all(kinesis, STREAM, Pacing(records_per_call=2, clock=clock.now, sleep=clock.sleep), 1)

    calls = log.calls[shard_id(0)]
    assert [len(call.data) for call in calls] == [2] * 10 + [0]  # the last one finds the tip
    assert all(later.at - earlier.at >= 1.0 for earlier, later in zip(calls, calls[3:], strict=False))
    assert log.most_calls_in_a_second(shard_id(0)) == 3
    assert sum(len(batch.changes) for batch in batches) == 20


def test_a_shard_is_read_at_a_mebibyte_a_second_at_most_in_pages_of_a_third_of_it(kinesis: Any) -> None:
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    for number in range(400):
        put(kinesis, STREAM, 0, bytes([number % 256]) * 5120)  # 5,121 bytes a record with its partition key
    clock = FakeClock()
    log = GetRecordsLog(kinesis.meta.events, clock)

    read_all(kinesis, STREAM, Pacing(clock=clock.now, sleep=clock.sleep), 1)

    calls = log.calls[shard_id(0)]
    # 100 records before the size is known; then 68: 1 MiB/s over 3 calls a second, of 5,121-byte records
    assert [call.limit for call in calls] == [100, 68, 68, 68, 68, 68, 68]
    assert [len(call.data) for call in calls] == [100, 68, 68, 68, 68, 28, 0]
    assert all(later.at - earlier.at >= earlier.size / 2**20 for earlier, later in itertools.pairwise(calls))
    assert sum(call.size for call in calls[:-1]) / (calls[-1].at - calls[0].at) <= 2**20
    assert len(log.read()) == 400


def test_shards_are_read_at_once_and_every_record_once(kinesis: Any) -> None:
    kinesis.create_stream(StreamName=STREAM, ShardCount=4)
    written = [change_data(number) for number in range(40)]
    for number, data in enumerate(written):
        put(kinesis, STREAM, number % 4, data)
    clock = FakeClock()
    all_four = threading.Barrier(4, timeout=10)  # a shard's first call waits for the other three: all at once

    def first_calls_meet(shard: str, call: int) -> bool:
        if call == 1:
            all_four.wait()
        return False

    log = GetRecordsLog(kinesis.meta.events, clock, throttle=first_calls_meet)

    batches = read_all(kinesis, STREAM, Pacing(records_per_call=3, clock=clock.now, sleep=clock.sleep), 4)

    assert sorted(log.read()) == sorted(written)
    assert sum(batch.records for batch in batches) == 40
    assert Counter(change.trip_id for batch in batches for change in batch.changes) == Counter(
        {f"trip-{number:03d}": 1 for number in range(40)}
    )
    for number in range(4):
        shard = shard_id(number)
        sequences = [int(n) for batch in batches if batch.part == shard for n in [batch.last_sequence_number] if n]
        assert sequences == sorted(sequences)  # each shard's batches in its order
        assert [batch.last for batch in batches if batch.part == shard][-1]
        assert log.most_calls_in_a_second(shard) == 3


def test_children_start_after_their_parent_while_other_shards_are_read_beside_it(
    kinesis: Any, aws_like_split: None
) -> None:
    kinesis.create_stream(StreamName=STREAM, ShardCount=2)
    half = 2**128 // 2
    for number in range(6):
        put(kinesis, STREAM, number % 2, change_data(number), half)
    kinesis.split_shard(StreamName=STREAM, ShardToSplit=shard_id(0), NewStartingHashKey=str(half // 2))
    for number in range(6, 10):
        put(kinesis, STREAM, 0, change_data(number), half)  # into the first child
        put(kinesis, STREAM, 1, change_data(number + 10), half // 2)  # into the second
    clock = FakeClock()
    parent_and_other = threading.Barrier(2, timeout=10)

    def first_calls_meet(shard: str, call: int) -> bool:
        if call == 1 and shard in (shard_id(0), shard_id(1)):
            parent_and_other.wait()
        return False

    log = GetRecordsLog(kinesis.meta.events, clock, throttle=first_calls_meet)

    batches = read_all(kinesis, STREAM, Pacing(records_per_call=2, clock=clock.now, sleep=clock.sleep), 4)

    parts = [batch.part for batch in batches]
    children = (shard_id(2), shard_id(3))
    assert max(i for i, part in enumerate(parts) if part == shard_id(0)) < min(
        i for i, part in enumerate(parts) if part in children
    )
    last_parent_call = max(i for i, entry in enumerate(log.order) if entry == ("GetRecords", shard_id(0)))
    assert all(log.order.index(("GetShardIterator", child)) > last_parent_call for child in children)
    assert sum(batch.records for batch in batches) == 14
    assert {part: sum(b.records for b in batches if b.part == part) for part in set(parts)} == {
        shard_id(0): 3, shard_id(1): 3, shard_id(2): 4, shard_id(3): 4
    }  # fmt: skip


REBUILD = "TripSearchRebuild"


def run_request(checkpoint_dir: Path, pacing: Pacing, verify: bool = False) -> RunRequest:
    return RunRequest(
        source="kinesis",
        start=datetime.now(UTC) - timedelta(hours=1),
        end=None,
        trip_ids=frozenset(),
        target_table=REBUILD,
        verify=verify,
        dry_run=False,
        restart=False,
        checkpoint_dir=checkpoint_dir,
        shard_concurrency=4,
        pacing=pacing,
    )


def test_a_run_stopped_by_a_throttled_shard_resumes_reading_nothing_twice_and_losing_nothing(
    history: History, tmp_path: Path
) -> None:
    history.kinesis.delete_stream(StreamName=STREAM_NAME)
    history.kinesis.create_stream(StreamName=STREAM_NAME, ShardCount=4)
    for number in range(12):
        history.saga(f"trip-{number:03d}", payment_fails=number % 3 == 0, minute=number)
    history.project_like_the_consumers()
    clock = FakeClock()
    stopped = Connection(region=REGION)
    throttled_from_its_second_call = GetRecordsLog(
        stopped.session.events, clock, throttle=lambda shard, call: shard == shard_id(1) and call >= 2
    )
    resources = find_stack_resources(stopped, STACK_NAME)
    pacing = Pacing(records_per_call=2, max_throttled_attempts=3, clock=clock.now, sleep=clock.sleep)

    with pytest.raises(Throttled, match="resumes from its checkpoint"):
        replay_run(stopped, resources, run_request(tmp_path, pacing), Silent())
    resumed = Connection(region=REGION)
    resumed_reads = GetRecordsLog(resumed.session.events, clock)
    result = replay_run(
        resumed,
        resources,
        run_request(tmp_path, Pacing(records_per_call=2, clock=clock.now, sleep=clock.sleep), True),
        Silent(),
    )

    reads = Counter(throttled_from_its_second_call.read() + resumed_reads.read())
    assert sorted(reads.values()) == [1] * len(history.changes)
    assert throttled_from_its_second_call.read(shard_id(1))  # its first page was read, and not read again
    assert result.plan.resumed_shards  # the second run did resume
    assert result.differences == []
    assert set(documents(boto3.resource("dynamodb", region_name=REGION).Table(REBUILD))) == {
        f"trip-{number:03d}" for number in range(12)
    }
    assert not list(tmp_path.iterdir())  # the finished run removed its checkpoint


def reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(("read-shardId", "scan-"))]


def test_a_run_that_stops_taking_batches_stops_its_shard_readers(kinesis: Any) -> None:
    kinesis.create_stream(StreamName=STREAM, ShardCount=4)
    for number in range(200):
        put(kinesis, STREAM, number % 4, change_data(number))
    clock = FakeClock()
    shards = lineage_order(list_shards(kinesis, STREAM))
    reader = WindowReader(
        kinesis, STREAM, Window(None, datetime.now(UTC)), Pacing(records_per_call=1, clock=clock.now, sleep=clock.sleep)
    )
    log = GetRecordsLog(kinesis.meta.events, clock)
    batches = read_window(reader, STREAM, shards, {}, set(), 4)

    next(batches)
    batches.close()  # as when the writer fails, or Ctrl-C
    calls_when_closed = sum(len(calls) for calls in list(log.calls.values()))

    for thread in reader_threads():
        thread.join(timeout=10)
    assert reader_threads() == []
    assert sum(len(calls) for calls in log.calls.values()) <= calls_when_closed + 4  # at most the calls in flight


def test_a_table_scan_that_is_no_longer_taken_stops_its_segments(history: History) -> None:
    for number in range(40):
        history.write(factories.insert(factories.flight(f"trip-{number:03d}")))
    scanner = boto3.client("dynamodb", region_name=REGION)
    pages = scan_table(PagedScan(scanner), history.trip_table.name, 2)

    next(pages)
    pages.close()

    for thread in reader_threads():
        thread.join(timeout=10)
    assert reader_threads() == []


class PagedScan:
    """A DynamoDB client whose Scan pages hold one item: many pages, so the scan is stopped halfway."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def scan(self, **request: Any) -> Any:
        return self.client.scan(**request, Limit=1)


def test_the_progress_shows_the_shards_being_read_and_prints_each_finished_one_once() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    progress = TerminalProgress(console)
    progress.progress.start()
    tally = {"shardId-1": Tally(), "shardId-2": Tally()}

    for part, records, last in (("shardId-1", 2, False), ("shardId-2", 3, False), ("shardId-1", 4, True)):
        tally[part].read += records
        progress.progressed(ReadBatch(part, records=records, millis_behind_tip=0, last=last), tally[part])
    progress.stop()

    assert [task.description for task in progress.progress.tasks] == ["shardId-2"]
    printed = [Text.from_ansi(line).plain.strip() for line in console.file.getvalue().splitlines()]  # type: ignore[attr-defined]
    assert [line.split(",")[0] for line in printed if line.endswith("done")] == ["shardId-1: 6 read"]
