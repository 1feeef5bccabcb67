"""`make bench`: every figure as a ratio to its baseline, measured in this run on this machine."""

from __future__ import annotations

import os
import platform
import sys
import warnings

os.environ.update(
    {
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_NAMESPACE": "TripSearchBench",
        "POWERTOOLS_SERVICE_NAME": "trip-bench",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)

from rich.console import Console
from rich.table import Table

from bench import cold_import, consumer_throughput, decode, freshness, rebuild, replay_read, search_load
from bench.batch_latency import kinesis_batch, measure, streams_batch
from bench.parts import Part, run_parts
from infra.api import SEARCH_MEMORY_MB
from infra.settings import BATCH_SIZE, LAMBDA_MB_PER_VCPU, StackSettings

LATENCY_S = 0.005  # an in-region round trip
REBUILD_CHANGES = 20_000
SEARCH_LOAD_TRIPS = 2_000
REPLAY_LATENCY_S = 0.020  # a GetRecords or Scan round trip
SLOW_SCAN_PAGE_S = 0.100  # a Scan page of 1 MB read from a busy table


def main() -> None:
    """Every part in turn; a part that fails says so in one line and the others still run (exit 1 if one failed)."""
    # Each round re-adds the consumer's metric dimension; the bench publishes no metrics.
    warnings.filterwarnings("ignore", message="Dimension 'source' has already been added")
    console = Console()
    console.print(f"machine: {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}")
    if run_parts(console, PARTS):
        sys.exit(1)


def print_batch_durations(console: Console) -> None:
    table = Table(title=f"Batch duration, every DynamoDB call taking {LATENCY_S * 1000:.0f} ms")
    for column in ("batch", "trips", "calls", "floor ms", "duration ms", "ratio", "goal"):
        table.add_column(column, justify="left" if column == "batch" else "right")
    for workload, goal in ((streams_batch(100), 1.5), (kinesis_batch(100), 1.5), (kinesis_batch(1000), 3.0)):
        figure = measure(workload, LATENCY_S)
        table.add_row(
            figure.workload,
            str(figure.trips),
            str(figure.requests),
            f"{figure.floor_s * 1000:.0f}",
            f"{figure.duration_s * 1000:.0f}",
            f"{figure.ratio:.2f}x",
            f"<= {goal}x",
        )
    console.print(table)


def print_decode(console: Console) -> None:
    decoding = decode.measure(kinesis_batch(10_000).records)
    decodes = Table(title=f"Decode CPU, a Kinesis batch of {decoding.records:,} records")
    for column in ("plain decode ms", "consumer's decoder ms", "speed", "goal"):
        decodes.add_column(column, justify="right")
    decodes.add_row(
        f"{decoding.plain_s * 1000:.0f}", f"{decoding.ours_s * 1000:.0f}", f"{decoding.speed:.2f}x", ">= 0.8x"
    )
    console.print(decodes)


def print_throughput(console: Console) -> None:
    deployed = StackSettings()
    shard = consumer_throughput.SHARD_RECORDS_PER_S
    throughput = Table(
        title=f"Consumer throughput at the deployed memory ({deployed.consumer_memory_mb:,} MB) against a saturated "
        f"shard's {shard:,} records/s (goal: ratio >= 1.0x, per shard x ParallelizationFactor >= 1.5x)"
    )
    for column in ("batch", "ms/rec", "vCPU", "rec/s", "ratio", "PF", "per shard"):
        throughput.add_column(column, justify="left" if column == "batch" else "right")
    for workload in (kinesis_batch(BATCH_SIZE), streams_batch(BATCH_SIZE)):
        consumed = consumer_throughput.measure(workload, deployed)
        throughput.add_row(
            consumed.workload,
            f"{consumed.cpu_s_per_record * 1000:.2f}",
            f"{consumed.vcpu_share:.2f}",
            f"{consumed.records_per_s:,.0f}",
            f"{consumed.shard_ratio:.2f}x",
            str(consumed.parallelization_factor),
            f"{consumed.shard_records_per_s / shard:.2f}x",
        )
    console.print(throughput)


def print_cold_imports(console: Console) -> None:
    imports = Table(title="Cold import of a consumer handler, against boto3 + Powertools")
    for column in ("tracing", "floor ms", "consumer ms", "ratio", "goal"):
        imports.add_column(column, justify="left" if column == "tracing" else "right")
    for tracing, environment in (("stack default", {}), ("detailedTracing", cold_import.DETAILED_TRACING)):
        imported = cold_import.measure(environment=environment)
        imports.add_row(
            tracing,
            f"{imported.floor_s * 1000:.0f}",
            f"{imported.consumer_s * 1000:.0f}",
            f"{imported.ratio:.2f}x",
            "-" if environment else "<= 1.3x",
        )
    console.print(imports)


def print_rebuilds(console: Console) -> None:
    # at 5 ms the per-record replay sleeps 100 s a round: one round of it (its spread is small beside that)
    figures = [
        (rebuild.measure(REBUILD_CHANGES, latency_s, rounds=3, per_record_rounds=per_record_rounds), goal)
        for latency_s, per_record_rounds, goal in ((0.0, 3, 5), (LATENCY_S, 1, 20))
    ]
    first = figures[0][0]
    rebuilds = Table(
        title=f"Rebuild (replay run --target-table) against a per-record replay: {first.changes:,} saga "
        f"changes of {first.trips:,} trips"
    )
    for column in ("call", "per-record", "rebuild", "faster", "goal", "requests", "fewer", "goal"):
        rebuilds.add_column(column, justify="right")
    for rebuilt, goal in figures:
        rebuilds.add_row(
            f"{rebuilt.latency_s * 1000:.0f} ms",
            f"{rebuilt.per_record.seconds:.1f} s",
            f"{rebuilt.rebuild.seconds:.2f} s",
            f"{rebuilt.speedup:.1f}x",
            f">= {goal}x",
            f"{rebuilt.per_record.requests:,}/{rebuilt.rebuild.requests:,}",
            f"{rebuilt.fewer_requests:.0f}x",
            ">= 20x",
        )
    console.print(rebuilds)


def print_freshness(console: Console) -> None:
    fresh = Table(title="Freshness on the local runtime (make up): TripTable write -> searchable")
    for column in ("pipeline", "changes", "p50 s", "p99 s", "window s", "p50/window", "p99/window"):
        fresh.add_column(column, justify="left" if column == "pipeline" else "right")
    for pipeline in freshness.measure():
        fresh.add_row(
            pipeline.pipeline,
            str(pipeline.changes),
            f"{pipeline.p50_s:.2f}",
            f"{pipeline.p99_s:.2f}",
            f"{pipeline.floor_s:.0f}",
            f"{pipeline.p50_ratio:.2f}x",
            f"{pipeline.p99_ratio:.2f}x",
        )
    console.print(fresh)


def print_search_load(console: Console) -> None:
    load = search_load.measure(SEARCH_LOAD_TRIPS, pages=2)
    indexes = Table(
        title=f"TripSearchTable's indexes at {search_load.CHANGES_PER_SECOND:,} changes/s ({load.changes:,} changes of "
        f"{load.trips:,} trips, both consumers): the hottest key's WCU/s, goal <= {search_load.PARTITION_WCU:,}"
    )
    for column in ("keys", "index", "writes/change", "hottest key", "its share", "WCU/s"):
        indexes.add_column(column, justify="left" if column in ("keys", "index", "hottest key") else "right")
    for figure in load.layouts:
        indexes.add_row(
            figure.layout,
            figure.index.searched_by,
            f"{figure.writes_per_change:.2f}",
            figure.hottest_key,
            f"{figure.hottest_share:.1%}",
            f"{figure.hottest_wcu_per_s:,.0f}",
        )
    console.print(indexes)
    for layout in ("today", "sharded"):
        console.print(f"{layout}: " + ", ".join(f.index.name for f in load.layouts if f.layout == layout))
    today, sharded = load.writes_per_change("today"), load.writes_per_change("sharded")
    console.print(
        f"index writes per change, both indexes: today {today:.2f}, sharded {sharded:.2f} "
        f"({sharded / today:.2f}x, goal <= 1.0x); the table itself: {load.table_wcu_per_change:.2f} WCU and "
        f"{load.table_rcu_per_change:.2f} RCU per change"
    )
    pages = Table(title="A search page of 50 trips: Query calls and RCU (today: one Query)")
    for column in ("search", "pages", "Query calls", "most", "RCU", "today RCU", "ratio"):
        pages.add_column(column, justify="left" if column == "search" else "right")
    for page in load.pages:
        pages.add_row(
            page.search,
            str(page.pages),
            f"{page.queries_per_page:.1f}",
            str(page.max_queries),
            f"{page.rcu_per_page:.1f}",
            f"{page.today_rcu_per_page:.1f}",
            f"{page.rcu_per_page / page.today_rcu_per_page:.1f}x",
        )
    console.print(pages)
    vcpu = min(1.0, SEARCH_MEMORY_MB / LAMBDA_MB_PER_VCPU)
    console.print(
        f"a page's CPU in SearchTrips, DynamoDB answering at once: {load.page_cpu_s * 1000:.0f} ms at one vCPU, "
        f"{load.page_cpu_s / vcpu * 1000:.0f} ms at its {SEARCH_MEMORY_MB:,} MB"
    )


def print_replay_reads(console: Console) -> None:
    """Replay's read rates: shards at once against one after another, parallel scan segments against one."""
    reading = replay_read.measure_shards(latency_s=REPLAY_LATENCY_S)
    shard_reads = Table(
        title=f"Replay's Kinesis reader: {reading.now.changes:,} changes in {reading.now.parts} shards, every call "
        f"taking {REPLAY_LATENCY_S * 1000:.0f} ms, each shard held to 4 GetRecords/s and 1 MiB/s (AWS's limits less "
        "the live consumer's)"
    )
    for column in ("reader", "shards at once", "changes/s", "throttled", "most calls/s a shard", "ratio", "goal"):
        shard_reads.add_column(column, justify="left" if column == "reader" else "right")
    for name, rate, ratio, read_goal in (
        ("today's: one shard after another", reading.today, "1.00x", "-"),
        ("shards at once", reading.now, f"{reading.ratio:.2f}x", f">= {reading.now.at_once / 2:.0f}x"),
    ):
        shard_reads.add_row(
            name,
            str(rate.at_once),
            f"{rate.changes_per_second:,.0f}",
            str(rate.throttled),
            str(rate.most_calls_in_a_second),
            ratio,
            read_goal,
        )
    console.print(shard_reads)

    scans = Table(title="Replay's table scan (--source table): TripTable items, one segment against parallel ones")
    for column in ("per Scan page", "items", "1 segment items/s", "segments", "parallel items/s", "ratio"):
        scans.add_column(column, justify="right")
    for latency_s in (REPLAY_LATENCY_S, SLOW_SCAN_PAGE_S):
        scan = replay_read.measure_scan(latency_s=latency_s)
        scans.add_row(
            f"{latency_s * 1000:.0f} ms",
            f"{scan.now.changes:,}",
            f"{scan.today.changes_per_second:,.0f}",
            str(scan.now.parts),
            f"{scan.now.changes_per_second:,.0f}",
            f"{scan.ratio:.2f}x",
        )
    console.print(scans)


PARTS: list[Part] = [
    ("batch duration", print_batch_durations),
    ("decode CPU", print_decode),
    ("consumer throughput", print_throughput),
    ("cold import", print_cold_imports),
    ("rebuild", print_rebuilds),
    ("search load", print_search_load),
    ("replay reads", print_replay_reads),
    ("freshness", print_freshness),
]

if __name__ == "__main__":
    main()
