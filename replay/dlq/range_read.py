"""Read a batch pointer's sequence range back from its stream, and tell whether the whole range was read.

A batch pointer (`KinesisBatchInfo` / `DDBStreamBatchInfo`) names a shard and the first and last sequence numbers
of a failed batch. `GetRecords` may answer with no records and a `NextShardIterator` while the shard holds records
further on (AWS, DynamoDB Streams `GetRecords`: "it might take multiple calls to get to a portion of the shard that
contains stream records"; Kinesis likewise returns empty pages while it moves through a shard), so the read follows
`NextShardIterator` through empty pages. It stops at

- the first record at or past the end sequence number: the range is read;
- a closed shard's end (no `NextShardIterator`);
- the retention edge (`TrimmedDataAccessException`, a shard or stream that is gone): the records expired;
- `MAX_EMPTY_PAGES` empty pages in a row: an open shard's tip, as far as DynamoDB Streams can tell.

The range counts as *covered* only when the first record read is the start record and a record at or past the end
was reached. Anything else (zero records, a shard that ended early, a tip reached before the end) is a gap, and a
gap is never "handled": the message that points at it stays in the queue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from replay.errors import aws_errors, error_code

MAX_EMPTY_PAGES = 20  # in a row; each costs a GetRecords call, paced below
EMPTY_PAGE_PAUSE_S = 0.5  # a shard allows 5 GetRecords calls/s, shared with the live consumer (DynamoDB Streams: 4/s)
PAGE_LIMIT = 1000
# the retention edge, a shard or stream that is gone, a sequence number the shard does not know
_GONE = frozenset({"TrimmedDataAccessException", "ResourceNotFoundException", "InvalidArgumentException"})


class ShardPages(Protocol):
    """One source's `GetShardIterator` / `GetRecords`, and where a raw record keeps its sequence number."""

    where: str  # "shard S of stream X", for messages
    retention: str  # how long the source keeps records, for messages

    def open(self, iterator_type: str, sequence_number: str) -> str: ...
    def page(self, iterator: str) -> dict[str, Any]: ...
    def sequence_of(self, raw: dict[str, Any]) -> str: ...


@dataclass
class RangeRead:
    records: list[dict[str, Any]] = field(default_factory=list)  # raw records, start <= sequence <= end, in order
    expired: str | None = None  # the stream no longer retains (part of) the range
    gap: str | None = None  # the read could not show that it covered the whole range


def read_range(pages: ShardPages, start: str, end: str) -> RangeRead:
    """The records of `start..end` (decimal sequence numbers, start <= end), read as described above."""
    last = int(end)
    read = RangeRead()
    first_seen: str | None = None  # the first record the shard gave, in the range or past it
    reached_end, empty_in_a_row, calls = False, 0, 0
    with aws_errors(f"reading {pages.where}"):
        try:
            iterator: str | None = pages.open("AT_SEQUENCE_NUMBER", start)
            while iterator is not None and not reached_end and empty_in_a_row < MAX_EMPTY_PAGES:
                if empty_in_a_row:
                    time.sleep(EMPTY_PAGE_PAUSE_S)
                try:
                    response = pages.page(iterator)
                except ClientError as error:
                    if error_code(error) != "ExpiredIteratorException":
                        raise
                    iterator = _reopen(pages, start, read)  # an iterator lives 5 (Kinesis) or 15 minutes
                    continue
                calls += 1
                records = response.get("Records") or []
                first_seen = first_seen or (pages.sequence_of(records[0]) if records else None)
                for raw in records:
                    reached_end = int(pages.sequence_of(raw)) >= last
                    if int(pages.sequence_of(raw)) > last:
                        break
                    read.records.append(raw)
                    if reached_end:
                        break
                empty_in_a_row = 0 if records else empty_in_a_row + 1
                iterator = response.get("NextShardIterator")
        except ClientError as error:
            if error_code(error) not in _GONE:
                raise
            return RangeRead(expired=f"{pages.retention} and no longer has these records: {error}")
    if first_seen is not None and int(first_seen) != int(start):
        return RangeRead(expired=f"{pages.retention}: the records from {start} to before {first_seen} are gone")
    if not reached_end:
        read.gap = _gap(pages, read, end, calls, shard_ended=iterator is None)
    return read


def _reopen(pages: ShardPages, start: str, read: RangeRead) -> str:
    if not read.records:
        return pages.open("AT_SEQUENCE_NUMBER", start)
    return pages.open("AFTER_SEQUENCE_NUMBER", pages.sequence_of(read.records[-1]))


def _gap(pages: ShardPages, read: RangeRead, end: str, pages_read: int, shard_ended: bool) -> str:
    got = f"read {len(read.records)} record(s)" + (
        f" up to {pages.sequence_of(read.records[-1])}" if read.records else ""
    )
    if shard_ended:
        return f"{got}; the shard ended before the range's end: the range cannot be shown complete"
    return (
        f"{got} in {pages_read} GetRecords call(s), the last {MAX_EMPTY_PAGES} empty, without reaching the range's "
        f"end {end}: the range cannot be shown complete (try again later)"
    )


class KinesisPages:
    def __init__(self, kinesis: Any, stream_name: str, shard_id: str) -> None:
        self.kinesis, self.stream_name, self.shard_id = kinesis, stream_name, shard_id
        self.where = f"shard {shard_id} of stream {stream_name}"
        self.retention = f"the Kinesis stream {stream_name} keeps records for its retention period"

    def open(self, iterator_type: str, sequence_number: str) -> str:
        return str(
            self.kinesis.get_shard_iterator(
                StreamName=self.stream_name,
                ShardId=self.shard_id,
                ShardIteratorType=iterator_type,
                StartingSequenceNumber=sequence_number,
            )["ShardIterator"]
        )

    def page(self, iterator: str) -> dict[str, Any]:
        return dict(self.kinesis.get_records(ShardIterator=iterator, Limit=PAGE_LIMIT))

    def sequence_of(self, raw: dict[str, Any]) -> str:
        return str(raw["SequenceNumber"])


class DynamoDBStreamPages:
    def __init__(self, streams: Any, stream_arn: str, shard_id: str) -> None:
        self.streams, self.stream_arn, self.shard_id = streams, stream_arn, shard_id
        self.where = f"shard {shard_id} of {stream_arn}"
        self.retention = "DynamoDB Streams keeps 24 hours"

    def open(self, iterator_type: str, sequence_number: str) -> str:
        return str(
            self.streams.get_shard_iterator(
                StreamArn=self.stream_arn,
                ShardId=self.shard_id,
                ShardIteratorType=iterator_type,
                SequenceNumber=sequence_number,
            )["ShardIterator"]
        )

    def page(self, iterator: str) -> dict[str, Any]:
        return dict(self.streams.get_records(ShardIterator=iterator, Limit=PAGE_LIMIT))

    def sequence_of(self, raw: dict[str, Any]) -> str:
        return str(raw["dynamodb"]["SequenceNumber"])
