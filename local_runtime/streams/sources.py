"""Reading a stream shard by shard, and each record as Lambda hands it to a function.

Two sources an event source mapping can poll: a DynamoDB stream (DynamoDB Streams API) and a Kinesis data
stream. Both read through the emulator's public API; each turns a raw record into the exact Lambda event
record shape of its service.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class ShardInfo:
    shard_id: str
    parent_ids: tuple[str, ...]
    ending_sequence_number: str | None  # set once the shard is closed (split, merged or rotated)


@dataclass(frozen=True)
class SourceRecord:
    sequence_number: str
    arrival: float  # epoch seconds: when the record entered the stream
    event_record: dict[str, Any]  # the record as it appears in the Lambda event's "Records"


@dataclass(frozen=True)
class StartingPoint:
    iterator_type: str  # TRIM_HORIZON | LATEST | AT_TIMESTAMP | AFTER_SEQUENCE_NUMBER
    sequence_number: str | None = None
    timestamp: datetime | None = None


class StreamSource(Protocol):
    kind: str  # "dynamodb" | "kinesis": names the batch info of the on-failure message
    stream_arn: str

    def shards(self) -> list[ShardInfo]: ...

    def iterator(self, shard_id: str, start: StartingPoint) -> str: ...

    def read(self, shard_id: str, iterator: str, limit: int) -> tuple[list[SourceRecord], str | None]: ...


def _shard_info(shard: dict[str, Any]) -> ShardInfo:
    parents = tuple(shard[key] for key in ("ParentShardId", "AdjacentParentShardId") if shard.get(key))
    return ShardInfo(shard["ShardId"], parents, shard["SequenceNumberRange"].get("EndingSequenceNumber"))


def _iterator_arguments(start: StartingPoint) -> dict[str, Any]:
    arguments: dict[str, Any] = {"ShardIteratorType": start.iterator_type}
    if start.sequence_number is not None:
        arguments["StartingSequenceNumber"] = start.sequence_number
    if start.timestamp is not None:
        arguments["Timestamp"] = start.timestamp
    return arguments


def _attribute_values_as_json(value: Any) -> Any:
    """Undo boto3's decoding of binary attribute values: the event carries them base64-encoded."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _attribute_values_as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_attribute_values_as_json(item) for item in value]
    return value


class DynamoDBStreamSource:
    kind = "dynamodb"

    def __init__(self, client: Any, stream_arn: str, region: str) -> None:
        self._client = client
        self.stream_arn = stream_arn
        self._region = region

    def shards(self) -> list[ShardInfo]:
        description = self._client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        return [_shard_info(shard) for shard in description["Shards"]]

    def iterator(self, shard_id: str, start: StartingPoint) -> str:
        arguments = _iterator_arguments(start)
        if "StartingSequenceNumber" in arguments:
            arguments["SequenceNumber"] = arguments.pop("StartingSequenceNumber")
        response = self._client.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **arguments)
        return str(response["ShardIterator"])

    def read(self, shard_id: str, iterator: str, limit: int) -> tuple[list[SourceRecord], str | None]:
        response = self._client.get_records(ShardIterator=iterator, Limit=min(limit, 1000))
        return [self._record(raw) for raw in response["Records"]], response.get("NextShardIterator")

    def _record(self, raw: dict[str, Any]) -> SourceRecord:
        change = raw["dynamodb"]
        created: datetime = change["ApproximateCreationDateTime"]
        dynamodb = {
            # Lambda's DynamoDB events carry whole epoch seconds.
            "ApproximateCreationDateTime": int(created.timestamp()),
            **{
                key: _attribute_values_as_json(change[key]) for key in ("Keys", "NewImage", "OldImage") if key in change
            },
            "SequenceNumber": change["SequenceNumber"],
            "SizeBytes": change["SizeBytes"],
            "StreamViewType": change["StreamViewType"],
        }
        event_record = {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": dynamodb,
            "eventSourceARN": self.stream_arn,
        }
        if "userIdentity" in raw:  # deletions by TTL name the DynamoDB service
            event_record["userIdentity"] = raw["userIdentity"]
        return SourceRecord(change["SequenceNumber"], created.timestamp(), event_record)


class KinesisSource:
    kind = "kinesis"

    def __init__(self, client: Any, stream_arn: str, region: str, invoke_identity_arn: str) -> None:
        self._client = client
        self.stream_arn = stream_arn
        self._region = region
        self._invoke_identity_arn = invoke_identity_arn

    def shards(self) -> list[ShardInfo]:
        shards: list[dict[str, Any]] = []
        arguments: dict[str, Any] = {"StreamARN": self.stream_arn}
        while True:
            response = self._client.list_shards(**arguments)
            shards.extend(response["Shards"])
            if not response.get("NextToken"):
                return [_shard_info(shard) for shard in shards]
            arguments = {"NextToken": response["NextToken"]}

    def iterator(self, shard_id: str, start: StartingPoint) -> str:
        response = self._client.get_shard_iterator(
            StreamARN=self.stream_arn, ShardId=shard_id, **_iterator_arguments(start)
        )
        return str(response["ShardIterator"])

    def read(self, shard_id: str, iterator: str, limit: int) -> tuple[list[SourceRecord], str | None]:
        response = self._client.get_records(ShardIterator=iterator, Limit=min(limit, 10000), StreamARN=self.stream_arn)
        return [self._record(raw, shard_id) for raw in response["Records"]], response.get("NextShardIterator")

    def _record(self, raw: dict[str, Any], shard_id: str) -> SourceRecord:
        arrival = raw["ApproximateArrivalTimestamp"].timestamp()
        event_record = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": raw["PartitionKey"],
                "sequenceNumber": raw["SequenceNumber"],
                "data": base64.b64encode(raw["Data"]).decode(),
                "approximateArrivalTimestamp": round(arrival, 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{raw['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self._invoke_identity_arn,
            "awsRegion": self._region,
            "eventSourceARN": self.stream_arn,
        }
        return SourceRecord(raw["SequenceNumber"], arrival, event_record)
