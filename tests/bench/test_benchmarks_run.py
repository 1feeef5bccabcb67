"""Each benchmark runs once, small, for correctness only: `make bench` gives the figures."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.console import Console

from bench import cold_import, consumer_throughput, decode, freshness, rebuild, search_load
from bench.batch_latency import kinesis_batch, measure, streams_batch
from bench.parts import run_parts
from infra.settings import StackSettings
from tests.local_runtime_session import RunningRuntime


def test_batch_latency_benchmark_reads_once_and_writes_each_trip_once() -> None:
    figure = measure(streams_batch(8), latency_s=0.001, rounds=1)

    assert (figure.records, figure.trips, figure.requests) == (8, 2, 3)  # one BatchGetItem, one PutItem per trip
    assert figure.floor_s > 0.002 and figure.duration_s > 0.002  # at least the two round trips


def test_kinesis_batch_is_drawn_from_many_trips() -> None:
    workload = kinesis_batch(100)

    assert (len(workload.records), workload.trips) == (100, 94)


def test_cold_import_benchmark_times_both_imports() -> None:
    figure = cold_import.measure(rounds=1)

    assert figure.floor_s > 0 and figure.consumer_s > 0


def test_decode_benchmark_decodes_every_record_both_ways() -> None:
    records = kinesis_batch(20).records

    figure = decode.measure(records, rounds=1)

    assert (figure.records, decode.plain_decode(records), decode.our_decode(records)) == (20, 20, 20)


def test_rebuild_benchmark_writes_25_documents_a_request_and_the_baseline_one_a_change() -> None:
    figure = rebuild.measure(changes=400, latency_s=0.001, rounds=1, per_record_rounds=1)

    assert (figure.changes, figure.trips) == (400, 75)
    assert figure.per_record.requests == 400  # one UpdateItem per change
    assert figure.rebuild.requests == 3  # 75 documents, 25 per BatchWriteItem, nothing read from a new table
    assert figure.fewer_requests == 400 / 3
    assert figure.per_record.seconds > 400 * 0.001  # at least its round trips, one after another


@pytest.mark.runtime
@pytest.mark.xdist_group("runtime")
def test_freshness_benchmark_times_each_pipeline_alone_and_enables_both_again(local_runtime: RunningRuntime) -> None:
    figures = freshness.measure_on(local_runtime, changes=3, gap_s=0.05)

    assert [(figure.pipeline, figure.changes, figure.floor_s) for figure in figures] == [
        ("DynamoDB Streams", 3, 1.0),
        ("Kinesis", 3, 1.0),
    ]
    assert all(0 < figure.p50_s <= figure.p99_s for figure in figures)
    # both of the projection's mappings poll again (other tests' mappings on the shared runtime may too)
    projection = {mapping["UUID"]: service for service, mapping in freshness.projection_mappings(local_runtime).items()}
    polled = [mapping["UUID"] for mapping in local_runtime.status()["eventSourceMappings"]]
    assert sorted(service for uuid, service in projection.items() if uuid in polled) == ["dynamodb", "kinesis"]


def test_index_writes_are_charged_as_dynamodb_charges_them() -> None:
    index = search_load.SHARDED_INDEXES[0]  # the flight-status index
    document = {"trip_id": "t", "flight_status_shard": "CONFIRMED#001", "departure_order": "2026-03-15\x00t"}
    shown = {**document, "flight_status": "CONFIRMED", "revision": 1}
    load = search_load.IndexLoad()

    search_load.charge(index, load, None, {"trip_id": "t", "revision": 1})  # not in the index before or after
    assert (load.writes, dict(load.wcu)) == (0, {})
    search_load.charge(index, load, None, shown)  # enters it: one write
    search_load.charge(index, load, shown, {**shown, "revision": 2})  # bookkeeping only: nothing
    search_load.charge(index, load, shown, {**shown, "hotel_name": "x" * 1500})  # a projected attribute: one write
    assert (load.writes, dict(load.wcu)) == (2, {"CONFIRMED#001": 1 + 2})  # the second entry is over 1 KB
    moved = {**shown, "flight_status_shard": "CANCELLED#001", "flight_status": "CANCELLED"}
    search_load.charge(index, load, shown, moved)  # a key changes: the old entry deleted, the new one put
    search_load.charge(index, load, moved, {"trip_id": "t"})  # leaves it: one write
    assert (load.writes, dict(load.wcu)) == (5, {"CONFIRMED#001": 4, "CANCELLED#001": 2})


def test_search_load_charges_both_layouts_and_walks_each_search() -> None:
    load = search_load.measure(trips=60, pages=2)

    assert (load.trips, load.changes) == (60, 309)
    writes = {(f.layout, f.index.searched_by): round(f.writes_per_change * load.changes) for f in load.layouts}
    assert writes == {
        ("today", "flight status"): 142,
        ("today", "hotel name"): 134,
        ("sharded", "flight status"): 72,  # the second pipeline's copy moves only bookkeeping: no index write
        ("sharded", "hotel name"): 67,
    }
    hottest = {(f.layout, f.index.searched_by): f.hottest_key for f in load.layouts}
    assert (hottest["today", "flight status"], hottest["today", "hotel name"]) == ("CONFIRMED", "h")
    assert [page.search for page in load.pages] == [name for name, _ in search_load.SEARCHES]
    # 60 trips over 64 shards: each shard's first read (3 items) holds all it has, so one round settles a page
    assert {page.max_queries for page in load.pages} == {64}


def test_consumer_throughput_benchmark_runs_the_handler_and_counts_one_vcpu_at_most() -> None:
    figure = consumer_throughput.measure(
        kinesis_batch(10), StackSettings(consumer_memory_mb=3538, parallelization_factor=3), rounds=1
    )

    assert (figure.workload, figure.records, figure.memory_mb, figure.parallelization_factor) == (
        "Kinesis, 10",
        10,
        3538,
        3,
    )
    assert figure.cpu_s_per_record > 0
    assert figure.vcpu_share == 1.0  # 3,538 MB is two vCPUs' worth, but the handler's CPU work holds one GIL
    assert figure.records_per_s == 1 / figure.cpu_s_per_record
    assert figure.shard_records_per_s == 3 * figure.records_per_s


def test_consumer_throughput_below_one_vcpu_is_its_memorys_share() -> None:
    figure = consumer_throughput.ThroughputFigure("Kinesis, 100", 100, 0.001, 884, 2)

    assert figure.vcpu_share == 884 / 1769
    assert figure.records_per_s == 884 / 1769 / 0.001
    assert figure.shard_ratio == figure.records_per_s / 1000


def test_a_part_that_fails_is_one_line_and_the_others_still_print() -> None:
    # given three parts, the second failing as the local runtime's stop did (a multi-line assertion)
    printed = io.StringIO()

    def part(name: str) -> Callable[[Console], None]:
        return lambda console: console.print(f"{name} table")

    def fails(console: Console) -> None:
        raise AssertionError("the local runtime did not stop:\n...4 KB of its log...")

    parts = [("first", part("first")), ("freshness", fails), ("last", part("last"))]

    # when the bench runs them, then it prints every other part and one line for the failure, and names it
    failed = run_parts(Console(file=printed, width=80, no_color=True), parts)

    assert failed == ["freshness"]
    assert printed.getvalue().splitlines() == [
        "first table",
        "✘ freshness failed: AssertionError: the local runtime did not stop:",
        "last table",
        "1 of 3 parts failed: freshness",
    ]
