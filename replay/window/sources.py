"""What a run reads, as batches of decoded changes: the Kinesis window, or a parallel scan of TripTable.

Both sources decode with the consumers' own decoders, so a record the consumers would call poison is poison here.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from replay.errors import ReplayError, aws_errors
from replay.tally import PoisonSighting
from replay.window.reader import Page, Window, WindowReader
from replay.window.shards import Shard
from services.trip.changes import (
    PoisonRecord,
    Source,
    SourcePosition,
    TripChange,
    decode_kinesis_payload,
    decode_stream_record,
)
from services.trip.table_items import as_insert, table_position


@dataclass
class ReadBatch:
    part: str  # a shard id, or a scan segment
    records: int = 0
    changes: list[TripChange] = field(default_factory=list)
    irrelevant: int = 0
    poison: list[PoisonSighting] = field(default_factory=list)
    after_window: int = 0  # Kinesis only: changes made after the window's end, read within the lag allowance
    millis_behind_tip: int | None = None  # Kinesis only
    last_sequence_number: str | None = None  # Kinesis only: where a resumed run continues
    last: bool = False  # the part is read to its end


def read_window(
    reader: WindowReader,
    stream_arn: str,
    shards: list[Shard],
    after_sequence: Mapping[str, str],
    finished: set[str],
    concurrency: int,
) -> Iterator[ReadBatch]:
    """Every shard from where the checkpoint left it, finished shards skipped, up to `concurrency` shards at once,
    each read and decoded on a thread of its own. A child shard starts once its parents are read to their end, so
    every parent's batches come before its children's (lineage order); each shard's batches come in its order.
    The changes made after the window's end (read within its lag allowance) are counted, not kept.

    When a shard's read fails, the others make no further call; the batches already read are handed over first,
    so that the run can write and checkpoint them, then the error is raised."""
    pool = _ShardPool(reader, stream_arn, after_sequence, concurrency)
    listed = {shard.shard_id for shard in shards}
    done = set(finished)
    waiting = [shard for shard in shards if shard.shard_id not in done]
    failure: BaseException | None = None
    try:
        while waiting or pool.running:
            if failure is None:
                for shard in [s for s in waiting if all(p in done or p not in listed for p in s.parents)]:
                    if pool.running == concurrency:
                        break
                    waiting.remove(shard)
                    pool.start(shard)
            item = pool.next()
            if isinstance(item, ReadBatch):
                yield item
            elif item.error is not None:
                failure = failure or item.error
                pool.drain.set()
                waiting = []
            elif item.finished:
                done.add(item.shard_id)
    finally:
        pool.drain.set()
        pool.abandon.set()
    if failure is not None:
        if isinstance(failure, ReplayError):
            raise failure
        raise ReplayError(f"reading {stream_arn}: {failure}") from failure


@dataclass(frozen=True)
class _ShardEnded:
    shard_id: str
    finished: bool  # read to its end; False: stopped, or failed with `error`
    error: BaseException | None = None


class _ShardPool:
    """The threads reading shards, one shard each, handing their batches over through a bounded queue (a slow
    writer holds the readers back instead of their pages piling up). `drain`: read no further, hand over what is
    read; `abandon` (with `drain`): the run stopped taking batches (Ctrl-C, a write failed): hand over nothing more."""

    def __init__(self, reader: WindowReader, stream_arn: str, after_sequence: Mapping[str, str], concurrency: int):
        self.reader, self.stream_arn, self.after_sequence = reader, stream_arn, after_sequence
        self.batches: queue.Queue[ReadBatch | _ShardEnded] = queue.Queue(maxsize=2 * concurrency)
        self.drain, self.abandon = threading.Event(), threading.Event()
        self.running = 0

    def start(self, shard: Shard) -> None:
        self.running += 1
        threading.Thread(target=self._read, args=(shard,), name=f"read-{shard.shard_id}", daemon=True).start()

    def next(self) -> ReadBatch | _ShardEnded:
        item = self.batches.get()
        if isinstance(item, _ShardEnded):
            self.running -= 1
        return item

    def _read(self, shard: Shard) -> None:
        ended = _ShardEnded(shard.shard_id, finished=False)
        try:
            for page in self.reader.read(shard, self.after_sequence.get(shard.shard_id), self.drain):
                if not _hand_over(self.batches, _batch_of(page, self.stream_arn, self.reader.window), self.abandon):
                    return
                ended = _ShardEnded(shard.shard_id, finished=page.last)
        except BaseException as error:  # raised by the thread that takes the batches
            ended = _ShardEnded(shard.shard_id, finished=False, error=error)
        _hand_over(self.batches, ended, self.abandon)


_HAND_OVER_POLL_SECONDS = 0.1  # how soon a reader blocked on a full queue notices that the run has stopped


def _hand_over(batches: queue.Queue[Any], item: Any, abandoned: threading.Event) -> bool:
    """Put `item` for the thread that takes the batches, unless it has stopped taking them (False then)."""
    while not abandoned.is_set():
        try:
            batches.put(item, timeout=_HAND_OVER_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _batch_of(page: Page, stream_arn: str, window: Window) -> ReadBatch:
    batch = ReadBatch(page.shard_id, records=len(page.records), millis_behind_tip=page.millis_behind_tip)
    for record in page.records:
        position = SourcePosition(Source.KINESIS, stream_arn, page.shard_id, record.sequence_number)
        _decode_into(batch, position, decode_kinesis_payload, record.data, position)
    _drop_after(batch, window)
    batch.last_sequence_number = page.records[-1].sequence_number if page.records else None
    batch.last = page.last
    return batch


def _drop_after(batch: ReadBatch, window: Window) -> None:
    kept = [change for change in batch.changes if change.approximate_time <= window.end]
    batch.after_window, batch.changes = len(batch.changes) - len(kept), kept


def _decode_into(
    batch: ReadBatch, position: SourcePosition, decode: Callable[..., TripChange | None], *args: Any
) -> None:
    try:
        change = decode(*args)
    except PoisonRecord as poison:
        batch.poison.append(PoisonSighting(position.shard_id or "", position.sequence_number or "", poison.reason))
        return
    if change is None:
        batch.irrelevant += 1
    else:  # where the reader read it: a scanned item's shard is TABLE_SCAN, which the fold ranks below the streams'
        batch.changes.append(change._replace(position=position))


def scan_table(dynamodb: Any, table_name: str, segments: int) -> Iterator[ReadBatch]:
    """The table's current items as their latest changes, scanned by `segments` threads in parallel, each handing
    its pages over through a queue of at most 4 a segment; once the run stops taking them, the threads stop."""
    pages: queue.Queue[ReadBatch | BaseException | None] = queue.Queue(maxsize=4 * segments)
    abandoned = threading.Event()
    scanned_at = int(datetime.now(UTC).timestamp())

    def scan(segment: int) -> None:
        try:
            request: dict[str, Any] = {"TableName": table_name, "Segment": segment, "TotalSegments": segments}
            while True:
                with aws_errors(f"scanning {table_name} (segment {segment} of {segments})"):
                    response = dynamodb.scan(**request)
                batch = ReadBatch(f"segment-{segment}", records=len(response["Items"]))
                for item in response["Items"]:
                    _decode_into(batch, table_position(item), decode_stream_record, as_insert(item, scanned_at))
                batch.last = "LastEvaluatedKey" not in response
                if not _hand_over(pages, batch, abandoned):
                    return
                if batch.last:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            _hand_over(pages, None, abandoned)
        except BaseException as error:  # handed to the reading thread, which raises it
            _hand_over(pages, error, abandoned)

    for segment in range(segments):
        threading.Thread(target=scan, args=(segment,), name=f"scan-{segment}", daemon=True).start()
    running = segments
    try:
        while running:
            page = pages.get()
            if page is None:
                running -= 1
            elif isinstance(page, BaseException):
                if isinstance(page, ReplayError):
                    raise page
                raise ReplayError(f"scanning {table_name}: {page}") from page
            else:
                yield page
    finally:
        abandoned.set()
