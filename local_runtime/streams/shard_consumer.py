"""One shard of one event source mapping: read it, gather batches, deliver them, move the checkpoint."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from local_runtime.stopping import join_within
from local_runtime.streams.batch_delivery import BatchDelivery, DeliveryStats
from local_runtime.streams.sources import ShardInfo, SourceRecord, StartingPoint, StreamSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batching:
    batch_size: int
    window_s: float  # MaximumBatchingWindowInSeconds
    poll_interval_s: float


@dataclass
class ShardProgress:
    """What the status report shows for the shard; written by the consumer thread only."""

    checkpoint: str | None = None  # sequence number of the last record handled
    records_delivered: int = 0
    iterator_age_ms: int | None = None  # age of the newest record of the last batch, when it was delivered
    caught_up: bool = False  # the last read found nothing new and nothing is waiting
    finished: bool = False  # closed and read to its end: its children may start


class ShardConsumer:
    def __init__(
        self,
        source: StreamSource,
        shard: ShardInfo,
        start: StartingPoint,
        batching: Batching,
        delivery: BatchDelivery,
        stopping: threading.Event,
    ) -> None:
        self.shard = shard
        self.progress = ShardProgress(checkpoint=start.sequence_number)
        self._source = source
        self._start = start
        self._batching = batching
        self._delivery = delivery
        self._stopping = stopping
        self._thread = threading.Thread(target=self._run, name=f"shard-{shard.shard_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        join_within(self._thread)

    @property
    def delivery_stats(self) -> DeliveryStats:
        return self._delivery.stats

    def shard_changed(self, shard: ShardInfo) -> None:
        self.shard = shard  # learns that the shard was closed, and where it ends

    def _run(self) -> None:
        try:
            self._consume()
        except Exception:
            if not self._stopping.is_set():
                log.exception("reading %s stopped on an error", self.shard.shard_id)

    def _consume(self) -> None:
        iterator: str | None = self._source.iterator(self.shard.shard_id, self._start)
        waiting: list[SourceRecord] = []
        first_waiting_since = 0.0
        while not self._stopping.is_set():
            found: list[SourceRecord] = []
            closed_before_read = self.shard.ending_sequence_number is not None
            if iterator is not None and len(waiting) < self._batching.batch_size:
                found, iterator = self._source.read(
                    self.shard.shard_id, iterator, self._batching.batch_size - len(waiting)
                )
                if found and not waiting:
                    first_waiting_since = time.monotonic()
                waiting.extend(found)
            full = len(waiting) >= self._batching.batch_size
            window_over = time.monotonic() - first_waiting_since >= self._batching.window_s
            if waiting and (full or window_over):
                batch, waiting = waiting[: self._batching.batch_size], waiting[self._batching.batch_size :]
                if not self._deliver(batch):
                    return
                first_waiting_since = time.monotonic()
                continue
            self.progress.caught_up = not found and not waiting
            if self.progress.caught_up and (iterator is None or closed_before_read):
                self.progress.finished = True
                log.info("%s is closed and fully read", self.shard.shard_id)
                return
            self._stopping.wait(self._batching.poll_interval_s)

    def _deliver(self, batch: list[SourceRecord]) -> bool:
        self.progress.caught_up = False
        self.progress.iterator_age_ms = int((time.time() - batch[-1].arrival) * 1000)
        if not self._delivery.deliver(batch):
            return False
        self.progress.checkpoint = batch[-1].sequence_number
        self.progress.records_delivered += len(batch)
        return True
