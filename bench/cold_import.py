"""Cold import: how long a fresh interpreter takes to import a consumer handler, against the floor of importing
what any Powertools batch consumer imports (boto3, and Powertools' batch processing, logging, metrics and tracing
modules). Each import runs in its own interpreter, the two kinds taken in turn; the interpreter's own start-up is
outside the figure."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FLOOR = (
    "import boto3\n"
    "from aws_lambda_powertools import Logger, Metrics, Tracer\n"
    "from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response\n"
)
CONSUMER = "import services.trip.handlers.kinesis_consumer\n"
# What Lambda's environment holds for the consumer (infra/projection.py), tracing as the stack sets it by default.
LAMBDA_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "trip-projection",
    "POWERTOOLS_METRICS_NAMESPACE": "TripSearch",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
}
DETAILED_TRACING = {"POWERTOOLS_TRACE_DISABLED": "false"}  # stack context detailedTracing=true
SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class ImportFigure:
    floor_s: float
    consumer_s: float

    @property
    def ratio(self) -> float:
        return self.consumer_s / self.floor_s


def _import_seconds(statement: str, environment: dict[str, str]) -> float:
    timed = f"import time\nstarted = time.perf_counter()\n{statement}print(time.perf_counter() - started)\n"
    environment = {**os.environ, **environment, "PYTHONPATH": str(SRC)}
    completed = subprocess.run(
        [sys.executable, "-c", timed], capture_output=True, text=True, check=True, env=environment
    )
    return float(completed.stdout.strip().splitlines()[-1])


def measure(rounds: int = 7, environment: dict[str, str] | None = None) -> ImportFigure:
    """Median import seconds of the floor and of a consumer handler; `environment` is added to Lambda's."""
    settings = {**LAMBDA_ENVIRONMENT, **(environment or {})}
    floors, consumers = [], []
    _import_seconds(CONSUMER, settings)  # compiled bytecode and a warm file cache for both, as on Lambda
    for _ in range(rounds):
        floors.append(_import_seconds(FLOOR, settings))
        consumers.append(_import_seconds(CONSUMER, settings))
    return ImportFigure(statistics.median(floors), statistics.median(consumers))
