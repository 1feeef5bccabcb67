"""Small factories for TripTable items and the change records both sources deliver (AWS's own event shapes)."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer

REGION = "us-east-1"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/TripTable"
STREAM_ARN = f"{TABLE_ARN}/stream/2026-03-01T00:00:00.000"
KINESIS_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/TripChangeStream"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

_serializer = TypeSerializer()
_sequence = itertools.count(100_000_000_000_000_000_000)

# The seed's 7.2 expected document (section 7.2), less trip_id and updated_at; numbers as DynamoDB numbers.
SEED_72_FIELDS: dict[str, Any] = {
    "flight_number": "NH001",
    "departure_time": "2026-03-15T10:00:00",
    "arrival_time": "2026-03-15T14:00:00",
    "flight_status": "CONFIRMED",
    "hotel_name": "Grand Hotel Tokyo",
    "check_in_date": "2026-03-15",
    "check_out_date": "2026-03-17",
    "hotel_status": "CONFIRMED",
    "total_amount": Decimal(80000),
    "currency": "JPY",
    "payment_status": "COMPLETED",
}

SORT_KEYS = {"FLIGHT": "FLIGHT#flight_for_{}", "HOTEL": "HOTEL#hotel_for_{}", "PAYMENT": "PAYMENT#payment_for_{}"}


def item(trip_id: str, entity: str, version: int, created_at: datetime = T0, **attributes: Any) -> dict[str, Any]:
    """A TripTable item as the saga writes it."""
    return {
        "PK": f"TRIP#{trip_id}",
        "SK": SORT_KEYS[entity].format(trip_id),
        "version": Decimal(version),
        "created_at": created_at.isoformat(),
        **attributes,
    }


def flight(trip_id: str, version: int = 1, status: str = "CONFIRMED", **overrides: Any) -> dict[str, Any]:
    attributes = {
        "flight_number": "NH001",
        "departure_time": "2026-03-15T10:00:00",
        "arrival_time": "2026-03-15T14:00:00",
        "status": status,
    }
    return item(trip_id, "FLIGHT", version, **{**attributes, **overrides})


def hotel(trip_id: str, version: int = 1, status: str = "CONFIRMED", **overrides: Any) -> dict[str, Any]:
    attributes = {
        "hotel_name": "Grand Hotel Tokyo",
        "check_in_date": "2026-03-15",
        "check_out_date": "2026-03-17",
        "status": status,
    }
    return item(trip_id, "HOTEL", version, **{**attributes, **overrides})


def payment(trip_id: str, version: int = 1, status: str = "COMPLETED", **overrides: Any) -> dict[str, Any]:
    attributes = {"amount": Decimal(80000), "currency": "JPY", "status": status}
    return item(trip_id, "PAYMENT", version, **{**attributes, **overrides})


@dataclass(frozen=True)
class Change:
    """One TripTable change, before it is shaped as a record of either source."""

    event_name: str
    new: dict[str, Any] | None
    old: dict[str, Any] | None
    at: datetime = T0

    @property
    def keys(self) -> dict[str, Any]:
        image = self.new or self.old or {}
        return {"PK": image["PK"], "SK": image["SK"]}


def written(image: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The image as the saga writes it: stamped with the change's time."""
    return {**image, "updated_at": at.isoformat(timespec="microseconds")}


def insert(new: dict[str, Any], at: datetime = T0) -> Change:
    return Change("INSERT", written(new, at), None, at)


def modify(old: dict[str, Any], new: dict[str, Any], at: datetime = T0) -> Change:
    return Change("MODIFY", written(new, at), old, at)


def remove(old: dict[str, Any], at: datetime = T0) -> Change:
    return Change("REMOVE", None, old, at)


def to_attribute_values(image: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in image.items()}


def _dynamodb_body(change: Change) -> dict[str, Any]:
    body: dict[str, Any] = {"Keys": to_attribute_values(change.keys), "SizeBytes": 256}
    if change.new is not None:
        body["NewImage"] = to_attribute_values(change.new)
    if change.old is not None:
        body["OldImage"] = to_attribute_values(change.old)
    return body


def stream_record(change: Change, sequence_number: str | None = None) -> dict[str, Any]:
    """A DynamoDB Streams record as Lambda delivers it (ApproximateCreationDateTime in epoch seconds)."""
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": change.event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "eventSourceARN": STREAM_ARN,
        "dynamodb": {
            "ApproximateCreationDateTime": int(change.at.timestamp()),
            "SequenceNumber": sequence_number or str(next(_sequence)),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            **_dynamodb_body(change),
        },
    }


def kinesis_payload(change: Change, precision: str = "MICROSECOND") -> dict[str, Any]:
    """The document the table's Kinesis streaming destination writes (no SequenceNumber, finer timestamps)."""
    scale = 1_000_000 if precision == "MICROSECOND" else 1_000
    body = _dynamodb_body(change)
    body["ApproximateCreationDateTime"] = int(change.at.timestamp() * scale)
    if precision == "MICROSECOND":
        body["ApproximateCreationDateTimePrecision"] = "MICROSECOND"
    return {
        "awsRegion": REGION,
        "eventID": str(uuid.uuid4()),
        "eventName": change.event_name,
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": "TripTable",
        "dynamodb": body,
        "eventSource": "aws:dynamodb",
    }


def kinesis_record(
    change: Change | None = None,
    *,
    data: bytes | None = None,
    sequence_number: str | None = None,
    shard_id: str = "shardId-000000000000",
    precision: str = "MICROSECOND",
) -> dict[str, Any]:
    """A Lambda Kinesis event record; `data` overrides the payload (for poison records)."""
    if data is None:
        assert change is not None
        data = json.dumps(kinesis_payload(change, precision)).encode()
    sequence = sequence_number or str(next(_sequence))
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": uuid.uuid4().hex.upper(),
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": T0.timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/KinesisConsumerRole",
        "awsRegion": REGION,
        "eventSourceARN": KINESIS_ARN,
    }


def event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class LambdaContext:
    """What Lambda passes as `context` (the attributes Powertools reads)."""

    function_name: str = "TripSagaStack-StreamConsumer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:TripSagaStack-StreamConsumer"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
