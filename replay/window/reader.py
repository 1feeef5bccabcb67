"""Read one shard of the change stream in a time window, within a share of its read limits.

A window is of the changes' own time (`ApproximateCreationDateTime`) at its end: a change reaches the Kinesis
stream some time after it was made (the destination's lag, CloudWatch `AgeOfOldestUnreplicatedRecord`), so the
reader reads arrivals up to `KINESIS_LAG_ALLOWANCE` past the window's end (never past the time the run started),
and the run keeps the changes made by the end (`sources.read_window`). Its start is an arrival time
(`AT_TIMESTAMP`): every change made from the start on arrives after it.

Each shard is read within a share of its read limits, which every standard reader shares, the live consumer
included (Kinesis Data Streams Developer Guide, "Quotas and limits": per shard, 5 `GetRecords` transactions and
2 MB of reads a second; Kinesis API reference, `GetRecords`: at most 10,000 records or 10 MiB a call, and after a
10 MiB answer the shard's calls of the next 5 seconds are throttled). The live Kinesis consumer's event source
mapping polls each shard once a second (AWS Lambda developer guide, "Using Lambda with Kinesis") and reads what
the shard takes in, at most 1 MB/s (the write limit, same quotas page). So the replay takes at most 3 calls a
second of a shard (2 left: the live consumer's and one more reader's, such as a `--via-mapping` copy) and 1 MiB/s
(the other half of the 2 MB/s), asks each call for about a third of that (`ShardPace.limit`), and backs off when
throttled. A shard is read until the window's end, until a closed shard is exhausted, or until an open one is
caught up with its tip.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from replay.errors import Throttled, aws_errors, error_code
from replay.window.shards import Shard

_THROTTLED = frozenset({"ProvisionedThroughputExceededException", "KMSThrottlingException", "LimitExceededException"})
_TRANSIENT = frozenset({"InternalFailure", "ServiceUnavailable"})  # Kinesis' 500 and 503: worth another attempt
# One attempt a call: the reader retries itself (throttled, transient), so that every GetRecords it sends is paced;
# botocore's own retries would send calls that the shard's pace never sees.
READER_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1})


KINESIS_LAG_ALLOWANCE = timedelta(minutes=10)  # how late a change may reach the stream and still be read


@dataclass(frozen=True)
class Window:
    start: datetime | None  # Kinesis arrival; None: from the start of retention (TRIM_HORIZON)
    end: datetime  # the last change's own time (ApproximateCreationDateTime) the run keeps
    read_until: datetime | None = None  # the last Kinesis arrival read; None: `end`

    @classmethod
    def of_changes(cls, start: datetime | None, end: datetime, now: datetime) -> Window:
        """The window of the changes made from `start` to `end`, read while `now` (the run's start): arrivals are
        read up to `KINESIS_LAG_ALLOWANCE` past `end`, and none after `now` (the same run the checkpoint resumes)."""
        return cls(start, end, min(end + KINESIS_LAG_ALLOWANCE, max(now, end)))

    @property
    def last_arrival(self) -> datetime:
        return self.read_until or self.end


@dataclass(frozen=True)
class StreamRecord:
    shard_id: str
    sequence_number: str
    arrival: datetime
    data: bytes


@dataclass(frozen=True)
class Page:
    """One `GetRecords` answer, cut at the window's end."""

    shard_id: str
    records: list[StreamRecord]
    millis_behind_tip: int
    last: bool  # nothing more to read in this shard for this window


@dataclass
class Pacing:
    """How fast each shard is read, and how a throttled call backs off (doubling, capped, bounded). Shared by the
    threads that read shards at once: each shard keeps its own `ShardPace`."""

    calls_per_second: int = 3  # of AWS's 5 a shard: the live consumer polls once a second, one more reader may too
    bytes_per_second: int = 1 << 20  # of AWS's 2 MB a shard: the live consumer reads up to the 1 MB/s a shard takes
    records_per_call: int = 10_000  # GetRecords' own maximum
    first_backoff: float = 0.5
    max_backoff: float = 10.0
    max_throttled_attempts: int = 10
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    throttled: int = field(default=0, init=False)  # how many calls were throttled, for the summary
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def count_throttled(self) -> None:
        with self._lock:
            self.throttled += 1


FIRST_CALL_RECORDS = 100  # before a shard's record size is known: a small first page, even of large records


class ShardPace:
    """One shard's share of the read limits. A call waits until the shard's last `calls_per_second` calls ended at
    least a second ago, so no second holds more; and after a page of B bytes the next call waits B /
    `bytes_per_second`, so the shard is read at that rate on average. `limit` asks each call for about one call's
    share of the bytes, from the shard's mean record size so far, so no single page takes a burst of the shard's
    2 MB/s from the live consumer."""

    def __init__(self, pacing: Pacing) -> None:
        self.pacing = pacing
        self.ended: deque[float] = deque(maxlen=pacing.calls_per_second)  # when the shard's latest calls ended
        self.not_before = float("-inf")
        self.records = 0
        self.bytes = 0

    def wait(self) -> None:
        due = self.not_before
        if len(self.ended) == self.ended.maxlen:
            due = max(due, self.ended[0] + 1.0)
        pause = due - self.pacing.clock()
        if pause > 0:
            self.pacing.sleep(pause)

    def called(self, records: int = 0, page_bytes: int = 0) -> None:
        """Every call counts, throttled ones too (AWS counts them)."""
        ended = self.pacing.clock()
        self.ended.append(ended)
        self.not_before = ended + page_bytes / self.pacing.bytes_per_second
        self.records += records
        self.bytes += page_bytes

    @property
    def limit(self) -> int:
        if not self.records:
            return min(FIRST_CALL_RECORDS, self.pacing.records_per_call)
        per_call = self.pacing.bytes_per_second / self.pacing.calls_per_second
        return max(1, min(self.pacing.records_per_call, int(per_call * self.records / self.bytes)))


class WindowReader:
    def __init__(self, kinesis: Any, stream_name: str, window: Window, pacing: Pacing):
        self.kinesis = kinesis
        self.stream_name = stream_name
        self.window = window
        self.pacing = pacing

    def read(
        self, shard: Shard, after_sequence: str | None = None, stop: threading.Event | None = None
    ) -> Iterator[Page]:
        """Pages of the shard's records in the window, resuming after `after_sequence` when given. Once `stop` is
        set, no further call is made: the pages end where they are (not `last`)."""
        stop = stop or threading.Event()
        pace = ShardPace(self.pacing)
        iterator = self._iterator(shard, after_sequence)
        while True:
            response = self._get_records(shard, pace, iterator, after_sequence, stop)
            if response is None:
                return
            records = [self._record(shard, raw) for raw in response["Records"]]
            in_window = [record for record in records if record.arrival <= self.window.last_arrival]
            if in_window:
                after_sequence = in_window[-1].sequence_number
            behind = int(response.get("MillisBehindLatest", 0))
            next_iterator = response.get("NextShardIterator")
            last = (
                len(in_window) < len(records)  # past the window's end
                or next_iterator is None  # a closed shard read to its end (AWS)
                or (shard.closed and after_sequence == shard.ending_sequence_number)
                or (not records and behind == 0)  # caught up with the tip
            )
            yield Page(shard.shard_id, in_window, behind, last)
            if last:
                return
            iterator = str(next_iterator)

    def _iterator(self, shard: Shard, after_sequence: str | None) -> str:
        request: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard.shard_id}
        if after_sequence is not None:
            request |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after_sequence}
        elif self.window.start is None:
            request |= {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            request |= {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": self.window.start}
        backoff = _Backoff(self.pacing, f"shard {shard.shard_id} of stream {self.stream_name}")
        while True:
            with aws_errors(f"opening shard {shard.shard_id} of stream {self.stream_name}"):
                try:
                    return str(self.kinesis.get_shard_iterator(**request)["ShardIterator"])
                except ClientError as error:
                    backoff.failed(error)

    def _get_records(
        self, shard: Shard, pace: ShardPace, iterator: str, after_sequence: str | None, stop: threading.Event
    ) -> dict[str, Any] | None:
        """One page, or None once `stop` is set."""
        backoff = _Backoff(self.pacing, f"shard {shard.shard_id} of stream {self.stream_name}")
        while True:
            pace.wait()
            if stop.is_set():
                return None
            with aws_errors(f"reading shard {shard.shard_id} of stream {self.stream_name}"):
                try:
                    response = dict(self.kinesis.get_records(ShardIterator=iterator, Limit=pace.limit))
                except ClientError as error:
                    pace.called()
                    backoff.failed(error)
                    if error_code(error) == "ExpiredIteratorException":  # it lives 5 minutes: reopen where we are
                        iterator = self._iterator(shard, after_sequence)
                    continue
                pace.called(len(response["Records"]), sum(_size(raw) for raw in response["Records"]))
                return response

    @staticmethod
    def _record(shard: Shard, raw: dict[str, Any]) -> StreamRecord:
        return StreamRecord(shard.shard_id, raw["SequenceNumber"], raw["ApproximateArrivalTimestamp"], raw["Data"])


def _size(raw: dict[str, Any]) -> int:
    """What a record counts against the shard's bytes: its data and its partition key (Kinesis quotas)."""
    return len(raw["Data"]) + len(raw["PartitionKey"].encode())


class _Backoff:
    """The attempts of one call: after a throttled or transient failure, a sleep (doubling, capped) before the
    next; after the last, `Throttled`. Any other failure is raised as it is."""

    def __init__(self, pacing: Pacing, reading: str) -> None:
        self.pacing, self.reading = pacing, reading
        self.failures = 0
        self.delay = pacing.first_backoff

    def failed(self, error: ClientError) -> None:
        code = error_code(error)
        if code in _THROTTLED:
            self.pacing.count_throttled()
        elif code not in _TRANSIENT and code != "ExpiredIteratorException":
            raise error
        self.failures += 1
        if self.failures == self.pacing.max_throttled_attempts:
            raise Throttled(
                f"{self.reading} stayed throttled after {self.failures} attempts: the live consumers need the read "
                "capacity; try again later (the run resumes from its checkpoint)"
            )
        self.pacing.sleep(self.delay)
        self.delay = min(self.delay * 2, self.pacing.max_backoff)
