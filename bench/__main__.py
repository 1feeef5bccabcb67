"""`make bench`: every figure as a ratio to its baseline, measured in this run on this machine."""

from __future__ import annotations

import os
import platform
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

from bench import cold_import, decode
from bench.batch_latency import kinesis_batch, measure, streams_batch

LATENCY_S = 0.005  # an in-region round trip


def main() -> None:
    # Each round re-adds the consumer's metric dimension; the bench publishes no metrics.
    warnings.filterwarnings("ignore", message="Dimension 'source' has already been added")
    console = Console()
    console.print(f"machine: {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}")
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

    decoding = decode.measure(kinesis_batch(10_000).records)
    decodes = Table(title=f"Decode CPU, a Kinesis batch of {decoding.records:,} records")
    for column in ("plain decode ms", "consumer's decoder ms", "speed", "goal"):
        decodes.add_column(column, justify="right")
    decodes.add_row(
        f"{decoding.plain_s * 1000:.0f}", f"{decoding.ours_s * 1000:.0f}", f"{decoding.speed:.2f}x", ">= 0.8x"
    )
    console.print(decodes)

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


if __name__ == "__main__":
    main()
