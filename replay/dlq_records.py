"""The change records a DLQ message stands for: inside it (a poison record) or in its stream (a batch pointer).

A pointer's records are read from the stream from its start sequence number (AT_SEQUENCE_NUMBER) up to its end
one, while the stream still retains them: DynamoDB Streams keeps 24 hours, the Kinesis stream days. When they
are gone, the Kinesis window that covers the same time is offered instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from replay.dlq_messages import DlqMessage, Kind
from replay.errors import aws_errors, error_code
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

_GONE = frozenset(
    {"TrimmedDataAccessException", "ResourceNotFoundException", "ExpiredIteratorException", "InvalidArgumentException"}
)


@dataclass(frozen=True)
class DecodedRecord:
    sequence_number: str | None
    raw: Any  # the record as the message or the stream holds it
    change: TripChange | None  # None: irrelevant (not a trip entity) or poison
    poison: str | None = None


@dataclass
class MessageRecords:
    records: list[DecodedRecord] = field(default_factory=list)
    expired: str | None = None  # why the records could not be read, when they could not

    @property
    def changes(self) -> list[TripChange]:
        return [record.change for record in self.records if record.change is not None]

    @property
    def poison(self) -> list[DecodedRecord]:
        return [record for record in self.records if record.poison is not None]


def records_of(message: DlqMessage, connection: Connection) -> MessageRecords:
    if message.kind is Kind.POISON_RECORD:
        assert isinstance(message.body, dict)
        decode = decode_kinesis_record if message.source == Source.KINESIS else decode_stream_record
        record = message.body.get("record")
        return MessageRecords([_decoded(message.first_sequence, record, decode, record)])
    if message.kind is Kind.BATCH_POINTER:
        if message.source == Source.KINESIS:
            return _read_kinesis(message, connection.client("kinesis"))
        return _read_dynamodb_stream(message, connection.client("dynamodbstreams"))
    return MessageRecords(expired="the message is unreadable: it stands for no records the tool can find")


def kinesis_window_hint(message: DlqMessage) -> str | None:
    """The `replay run` that covers the same time as an expired pointer, from the Kinesis copy of the changes."""
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


def _read_kinesis(message: DlqMessage, kinesis: Any) -> MessageRecords:
    stream_name = str(message.stream_arn).rsplit("/", 1)[-1]
    end = int(message.last_sequence or 0)
    found = MessageRecords()
    doing = f"reading {message.shard_id} of stream {stream_name} for message {message.message_id}"
    with aws_errors(doing):
        try:
            iterator = kinesis.get_shard_iterator(
                StreamName=stream_name,
                ShardId=message.shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=message.first_sequence,
            )["ShardIterator"]
            while iterator:
                response = kinesis.get_records(ShardIterator=iterator, Limit=1000)
                for raw in response["Records"]:
                    if int(raw["SequenceNumber"]) > end:
                        return found
                    position = SourcePosition(
                        Source.KINESIS, message.stream_arn, message.shard_id, raw["SequenceNumber"]
                    )
                    found.records.append(
                        _decoded(raw["SequenceNumber"], raw, decode_kinesis_payload, raw["Data"], position)
                    )
                if not response["Records"] and response.get("MillisBehindLatest", 0) == 0:
                    return found
                iterator = response.get("NextShardIterator")
        except ClientError as error:
            if error_code(error) not in _GONE:
                raise
            return MessageRecords(expired=f"the Kinesis stream no longer has these records: {error}")
    return found


def _read_dynamodb_stream(message: DlqMessage, streams: Any) -> MessageRecords:
    end = int(message.last_sequence or 0)
    found = MessageRecords()
    with aws_errors(f"reading {message.shard_id} of {message.stream_arn} for message {message.message_id}"):
        try:
            iterator = streams.get_shard_iterator(
                StreamArn=message.stream_arn,
                ShardId=message.shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=message.first_sequence,
            )["ShardIterator"]
            while iterator:
                response = streams.get_records(ShardIterator=iterator, Limit=1000)
                for raw in response["Records"]:
                    sequence = raw["dynamodb"]["SequenceNumber"]
                    if int(sequence) > end:
                        return found
                    found.records.append(_decoded(sequence, raw, decode_stream_record, raw))
                if not response["Records"]:
                    return found
                iterator = response.get("NextShardIterator")
        except ClientError as error:
            if error_code(error) not in _GONE:
                raise
            return MessageRecords(expired=f"DynamoDB Streams keeps 24 hours and no longer has these records: {error}")
    return found
