"""Read the change stream's records in a time window, shard by shard, within Kinesis' read limits.

A window is of the changes' own time (`ApproximateCreationDateTime`) at its end: a change reaches the Kinesis
stream some time after it was made (the destination's lag, CloudWatch `AgeOfOldestUnreplicatedRecord`), so the
reader reads arrivals up to `KINESIS_LAG_ALLOWANCE` past the window's end (never past the time the run started),
and the run keeps the changes made by the end (`sources.read_window`). Its start is an arrival time
(`AT_TIMESTAMP`): every change made from the start on arrives after it.

A shard allows 5 `GetRecords` calls per second shared by every reader, the live consumer included: the reader
paces itself below that and backs off when throttled. A shard is read until the window's end, until a closed
shard is exhausted, or until an open one is caught up with its tip.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from replay.errors import Throttled, aws_errors, error_code
from replay.window.shards import Shard

_THROTTLED = frozenset({"ProvisionedThroughputExceededException", "KMSThrottlingException", "LimitExceededException"})


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
    """How fast one shard is polled, and how a throttled call backs off (doubling, capped, bounded)."""

    min_interval: float = 0.25  # 4 calls/s: leaves the live consumer (1 call/s) inside the 5 calls/s limit
    first_backoff: float = 0.5
    max_backoff: float = 10.0
    max_throttled_attempts: int = 10
    sleep: Callable[[float], None] = time.sleep
    throttled: int = field(default=0, init=False)  # how many calls were throttled, for the summary


class WindowReader:
    def __init__(self, kinesis: Any, stream_name: str, window: Window, pacing: Pacing, page_limit: int = 10_000):
        self.kinesis = kinesis
        self.stream_name = stream_name
        self.window = window
        self.pacing = pacing
        self.page_limit = page_limit

    def read(self, shard: Shard, after_sequence: str | None = None) -> Iterator[Page]:
        """Pages of the shard's records in the window, resuming after `after_sequence` when given."""
        iterator = self._iterator(shard, after_sequence)
        while True:
            response = self._get_records(shard, iterator, after_sequence)
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
        with aws_errors(f"opening shard {shard.shard_id} of stream {self.stream_name}"):
            return str(self.kinesis.get_shard_iterator(**request)["ShardIterator"])

    def _get_records(self, shard: Shard, iterator: str, after_sequence: str | None) -> dict[str, Any]:
        backoff = self.pacing.first_backoff
        for _ in range(self.pacing.max_throttled_attempts):
            self.pacing.sleep(self.pacing.min_interval)
            with aws_errors(f"reading shard {shard.shard_id} of stream {self.stream_name}"):
                try:
                    return dict(self.kinesis.get_records(ShardIterator=iterator, Limit=self.page_limit))
                except ClientError as error:
                    code = error_code(error)
                    if code not in _THROTTLED and code != "ExpiredIteratorException":
                        raise
            if code == "ExpiredIteratorException":  # an iterator lives 5 minutes: reopen where we are
                iterator = self._iterator(shard, after_sequence)
                continue
            self.pacing.throttled += 1
            self.pacing.sleep(backoff)
            backoff = min(backoff * 2, self.pacing.max_backoff)
        raise Throttled(
            f"shard {shard.shard_id} of stream {self.stream_name} stayed throttled after "
            f"{self.pacing.max_throttled_attempts} attempts: the live consumers need the read capacity; "
            "try again later (the run resumes from its checkpoint)"
        )

    @staticmethod
    def _record(shard: Shard, raw: dict[str, Any]) -> StreamRecord:
        return StreamRecord(shard.shard_id, raw["SequenceNumber"], raw["ApproximateArrivalTimestamp"], raw["Data"])
