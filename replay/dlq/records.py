"""The change records a DLQ message stands for: inside it (a poison record) or in its stream (a batch pointer).

A pointer's records are read from the stream from its start sequence number (AT_SEQUENCE_NUMBER) up to its end
one, while the stream still retains them: DynamoDB Streams keeps 24 hours, the Kinesis stream days. When they
are gone, the Kinesis window that covers the same time is offered instead. A read that cannot show it covered the
whole range (`range_read`) says so: such records never count as the message's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeGuard

from replay.dlq.messages import DlqMessage, Kind
from replay.dlq.range_read import DynamoDBStreamPages, KinesisPages, read_range
from replay.stack import Connection
from services.trip.changes import (
    PoisonRecord,
    Source,
    SourcePosition,
    TripChange,
    decode_kinesis_payload,
    decode_kinesis_record,
    decode_stream_record,
)


@dataclass(frozen=True)
class DecodedRecord:
    sequence_number: str | None
    raw: Any  # the record as the message or the stream holds it
    change: TripChange | None  # None: irrelevant (not a trip entity) or poison
    poison: str | None = None


@dataclass
class MessageRecords:
    """The records of a message; for a pointer, only when its whole range could be read (see range_read)."""

    records: list[DecodedRecord] = field(default_factory=list)
    expired: str | None = None  # why the records could not be read at all (retention, a malformed pointer)
    incomplete: str | None = None  # why the records read cannot be shown to be the whole range

    @property
    def unavailable(self) -> str | None:
        """Why these records cannot stand for the whole message; None when they do."""
        if self.expired or self.incomplete:
            return self.expired or self.incomplete
        return None if self.records else "no record was read"

    @property
    def changes(self) -> list[TripChange]:
        return [record.change for record in self.records if record.change is not None]

    @property
    def poison(self) -> list[DecodedRecord]:
        return [record for record in self.records if record.poison is not None]


def records_of(message: DlqMessage, connection: Connection) -> MessageRecords:
    if message.kind is Kind.POISON_RECORD:
        assert isinstance(message.body, dict)
        truncated = message.body.get("truncated")
        if isinstance(truncated, dict):  # a record cut to fit SQS: what is left cannot be projected
            omitted = ", ".join(map(str, truncated.get("omitted", []))) or "?"
            return MessageRecords(
                expired=f"the record was truncated to fit SQS (omitted: {omitted}; "
                f"{truncated.get('original_bytes', '?')} bytes): it cannot be projected from the message"
            )
        decode = decode_kinesis_record if message.source == Source.KINESIS else decode_stream_record
        record = message.body.get("record")
        return MessageRecords([_decoded(message.first_sequence, record, decode, record)])
    if message.kind is Kind.BATCH_POINTER:
        return _read_pointer(message, connection)
    return MessageRecords(expired="the message is unreadable: it stands for no records the tool can find")


def kinesis_window_hint(message: DlqMessage) -> str | None:
    """The `replay run` that covers the same changes as an expired pointer, from their Kinesis copy: a DynamoDB
    Streams record arrives as its change is made, so the pointer's arrival times, a minute either side, bound the
    changes' own times; the run reads the copies that reached Kinesis up to `KINESIS_LAG_ALLOWANCE` later."""
    if message.first_arrival is None or message.last_arrival is None:
        return None
    start = (message.first_arrival - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    end = (message.last_arrival + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    return f"python -m replay run --from {start} --to {end}"


def _decoded(sequence: str | None, raw: Any, decode: Callable[..., TripChange | None], *args: Any) -> DecodedRecord:
    try:
        return DecodedRecord(sequence, raw, decode(*args))
    except PoisonRecord as poison:
        return DecodedRecord(sequence, raw, None, poison.reason)


def _read_pointer(message: DlqMessage, connection: Connection) -> MessageRecords:
    start, end, shard_id, stream = message.first_sequence, message.last_sequence, message.shard_id, message.stream_arn
    if not (_is_sequence(start) and _is_sequence(end) and _named(shard_id) and _named(stream)) or int(start) > int(end):
        return MessageRecords(
            expired=f"the pointer names no readable range (stream {stream}, shard {shard_id}, sequence {start}..{end})"
        )
    if message.source == Source.KINESIS:
        stream_name = stream.rsplit("/", 1)[-1]
        read = read_range(KinesisPages(connection.client("kinesis"), stream_name, shard_id), start, end)
        decoded = [
            _decoded(
                raw["SequenceNumber"],
                raw,
                decode_kinesis_payload,
                raw["Data"],
                SourcePosition(Source.KINESIS, stream, shard_id, raw["SequenceNumber"]),
            )
            for raw in read.records
        ]
    else:
        read = read_range(DynamoDBStreamPages(connection.client("dynamodbstreams"), stream, shard_id), start, end)
        decoded = [_decoded(raw["dynamodb"]["SequenceNumber"], raw, decode_stream_record, raw) for raw in read.records]
    if read.expired:
        return MessageRecords(expired=read.expired)
    return MessageRecords(decoded, incomplete=read.gap)


def _is_sequence(value: str | None) -> TypeGuard[str]:
    return isinstance(value, str) and value.isdigit()


def _named(value: str | None) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)
