"""Consumer throughput at the deployed memory: can one consumer keep up with a saturated shard?

A shard takes at most 1,000 records/s of writes (Amazon Kinesis Data Streams Developer Guide, "Quotas and
limits"); a DynamoDB Streams shard follows one table partition, which serves at most 1,000 WCU/s (Amazon
DynamoDB Developer Guide, "Partitions and data distribution"), so at most 1,000 changes/s of items up to 1 KB.

The real handler runs on a batch of `batch_size` records (the mapping's batch size) with DynamoDB answered at once
by `batch_latency.AnsweredDynamoDB`, so what is measured is the consumer's own CPU: decode, fold, serialize,
botocore. CPU seconds per record are `time.process_time` (all threads of the process) over the batch, divided by
its records: the median of `rounds`.

Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB (AWS Lambda Developer Guide,
"Configure Lambda function memory"), so at `memory_mb` a consumer gets `memory_mb / 1769` of a vCPU, counted at
most 1: the handler's CPU work runs under Python's one GIL, so a second vCPU serves little of it. It processes
`share / cpu_per_record` records a second; one vCPU of Lambda is taken to be one core of the machine measuring.
A shard runs `parallelization_factor` such consumers at once (the headroom past one consumer's figure).
"""

from __future__ import annotations

import io
import statistics
import time
from contextlib import redirect_stdout
from dataclasses import dataclass

from bench.batch_latency import Workload, answered_dynamodb
from infra.settings import LAMBDA_MB_PER_VCPU, StackSettings
from tests import factories as f

SHARD_RECORDS_PER_S = 1_000  # writes per shard (Kinesis quotas; a DynamoDB partition's 1,000 WCU/s)


@dataclass(frozen=True)
class ThroughputFigure:
    workload: str
    records: int  # per batch
    cpu_s_per_record: float
    memory_mb: int
    parallelization_factor: int

    @property
    def vcpu_share(self) -> float:
        """The consumer's share of one vCPU at its memory (1,769 MB = one vCPU), at most one (the GIL)."""
        return min(self.memory_mb / LAMBDA_MB_PER_VCPU, 1.0)

    @property
    def records_per_s(self) -> float:
        """Records one consumer processes a second on its CPU share."""
        return self.vcpu_share / self.cpu_s_per_record

    @property
    def shard_ratio(self) -> float:
        """`records_per_s` against a saturated shard's 1,000 records/s (goal: at least 1.0)."""
        return self.records_per_s / SHARD_RECORDS_PER_S

    @property
    def shard_records_per_s(self) -> float:
        """Records a shard's `parallelization_factor` consumers process a second together."""
        return self.records_per_s * self.parallelization_factor


def cpu_per_record(workload: Workload, rounds: int = 15) -> float:
    """Median CPU seconds per record of the consumer handling `workload`'s batch, DynamoDB answered at once."""
    event = f.event(*workload.records)
    samples = []
    with answered_dynamodb():
        workload.handler(f.event(*workload.records[:1]), f.LambdaContext())  # cold start outside the figure
        for _ in range(rounds):
            started = time.process_time()
            # Powertools prints a metric's EMF document every 100 values, whatever POWERTOOLS_METRICS_DISABLED says
            with redirect_stdout(io.StringIO()):
                response = workload.handler(event, f.LambdaContext())
            samples.append(time.process_time() - started)
            assert response == {"batchItemFailures": []}, response
    return statistics.median(samples) / len(workload.records)


def measure(workload: Workload, settings: StackSettings, rounds: int = 15) -> ThroughputFigure:
    """The figure at the memory and ParallelizationFactor `settings` deploy (the stack's defaults: StackSettings())."""
    return ThroughputFigure(
        workload.name,
        len(workload.records),
        cpu_per_record(workload, rounds),
        settings.consumer_memory_mb,
        settings.parallelization_factor,
    )
