"""One source-neutral change of a TripTable item, decoded from either change stream.

Two small decoders feed the same `TripChange`: a DynamoDB Streams record (as Lambda delivers it, or as the
dynamodbstreams `GetRecords` API returns it) and the DynamoDB change document that the table's Kinesis streaming
destination puts into Kinesis. A record that can never be projected raises `PoisonRecord`; an item that is not a
flight, hotel or payment of a trip decodes to `None` (irrelevant, not an error).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

from services.trip.schema import TRIP_PK, TRIP_PK_PREFIX, TRIP_SK
from services.trip.times import NotATime, canonical_item_times

_deserializer = TypeDeserializer()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PoisonRecord(ValueError):
    """A record that no retry can make projectable: bad JSON, not a DynamoDB change, missing keys, wrong types."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WriterContractViolation(PoisonRecord):
    """A change that breaks the writer contract (docs/WRITER-CONTRACT.md): a `version`, `created_at` or `updated_at`
    that is malformed, or a MODIFY whose new image does not rank above its old one, so no order of the stream can
    project it without diverging."""


class Entity(StrEnum):
    FLIGHT = "FLIGHT"
    HOTEL = "HOTEL"
    PAYMENT = "PAYMENT"

    @classmethod
    def of_sort_key(cls, sort_key: str) -> Entity | None:
        prefix = sort_key.partition("#")[0]
        return cls.__members__.get(prefix) if "#" in sort_key else None


class ChangeKind(StrEnum):
    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


class Source(StrEnum):
    DYNAMODB_STREAMS = "dynamodb-streams"
    KINESIS = "kinesis"


@dataclass(frozen=True)
class SourcePosition:
    """Where a record sits in its stream, for logs, the DLQ and replay checkpoints."""

    source: Source
    stream: str | None = None
    shard_id: str | None = None
    sequence_number: str | None = None


# The item attributes each entity contributes, and the DynamoDB type each must have. Checked on the attribute
# value as the stream carries it ({"S": ...}), before deserializing: a Binary's base64 text deserializes to a str.
ENTITY_ATTRIBUTES: Mapping[Entity, Mapping[str, str]] = {
    Entity.FLIGHT: {"flight_number": "S", "departure_time": "S", "arrival_time": "S", "status": "S"},
    Entity.HOTEL: {"hotel_name": "S", "check_in_date": "S", "check_out_date": "S", "status": "S"},
    Entity.PAYMENT: {"amount": "N", "currency": "S", "status": "S"},
}
# The writer contract's bookkeeping attributes, and every item's attributes, with their DynamoDB types.
CONTRACT_ATTRIBUTES: Mapping[str, str] = {"version": "N", "created_at": "S", "updated_at": "S"}
ITEM_ATTRIBUTES: Mapping[str, str] = {TRIP_PK: "S", TRIP_SK: "S", **CONTRACT_ATTRIBUTES}
# DynamoDB's attribute value type descriptors, named as the DynamoDB documentation names them.
DYNAMODB_TYPES: Mapping[str, str] = {
    "S": "String",
    "N": "Number",
    "B": "Binary",
    "BOOL": "Boolean",
    "NULL": "Null",
    "M": "Map",
    "L": "List",
    "SS": "String Set",
    "NS": "Number Set",
    "BS": "Binary Set",
}


@dataclass(frozen=True)
class TripChange:
    """One change of one trip entity. `(generation, version)` orders the changes of an entity."""

    trip_id: str
    entity: Entity
    kind: ChangeKind
    version: int
    generation: int  # microseconds since the epoch of the item's `created_at`; 0 when the item has none
    approximate_time: datetime  # when the stream saw the change
    changed_at: datetime  # when the change happened: the writer's `updated_at`, else the stream's time
    position: SourcePosition
    new_image: Mapping[str, Any] | None = field(default=None, compare=False)
    old_image: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def image(self) -> Mapping[str, Any]:
        """The item as this change leaves it (INSERT/MODIFY) or as it was removed (REMOVE)."""
        image = self.old_image if self.kind is ChangeKind.REMOVE else self.new_image
        assert image is not None  # guaranteed by the decoder
        return image


def decode_stream_record(record: Mapping[str, Any]) -> TripChange | None:
    """Decode a DynamoDB Streams record (Lambda event shape or dynamodbstreams GetRecords shape)."""
    change = _as_mapping(record.get("dynamodb"), "the record has no 'dynamodb' object")
    position = SourcePosition(
        source=Source.DYNAMODB_STREAMS,
        stream=record.get("eventSourceARN"),
        sequence_number=change.get("SequenceNumber"),
    )
    return _decode_change(record.get("eventName"), change, _epoch_time(change, default_unit=1), position)


def decode_kinesis_record(record: Mapping[str, Any]) -> TripChange | None:
    """Decode a Lambda Kinesis event record whose data is a DynamoDB change document."""
    kinesis = _as_mapping(record.get("kinesis"), "the record has no 'kinesis' object")
    try:
        data = base64.b64decode(kinesis.get("data", ""), validate=True)
    except (binascii.Error, TypeError, ValueError) as error:
        raise PoisonRecord(f"kinesis data is not base64: {error}") from None
    event_id = str(record.get("eventID", ""))
    position = SourcePosition(
        source=Source.KINESIS,
        stream=record.get("eventSourceARN"),
        shard_id=event_id.partition(":")[0] or None,
        sequence_number=kinesis.get("sequenceNumber"),
    )
    return decode_kinesis_payload(data, position)


def decode_kinesis_payload(data: bytes, position: SourcePosition) -> TripChange | None:
    """Decode the raw `Data` of a Kinesis record written by the table's Kinesis streaming destination."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PoisonRecord(f"kinesis data is not JSON: {error}") from None
    document = _as_mapping(document, "kinesis data is not a JSON object")
    if document.get("eventSource") != "aws:dynamodb":
        raise PoisonRecord(f"kinesis data is not a DynamoDB change (eventSource={document.get('eventSource')!r})")
    change = _as_mapping(document.get("dynamodb"), "the change document has no 'dynamodb' object")
    # Kinesis copies carry milliseconds, or microseconds when the destination says so.
    unit = 1_000_000 if change.get("ApproximateCreationDateTimePrecision") == "MICROSECOND" else 1_000
    return _decode_change(document.get("eventName"), change, _epoch_time(change, default_unit=unit), position)


def _decode_change(
    event_name: Any, change: Mapping[str, Any], approximate_time: datetime, position: SourcePosition
) -> TripChange | None:
    try:
        kind = ChangeKind(event_name)
    except ValueError:
        raise PoisonRecord(f"eventName {event_name!r} is not INSERT, MODIFY or REMOVE") from None
    keys = _image(change, "Keys")
    if keys is None:
        raise PoisonRecord("the change has no Keys")
    _check_types("Keys", change["Keys"], {TRIP_PK: "S", TRIP_SK: "S"})
    partition_key, sort_key = keys.get(TRIP_PK), keys.get(TRIP_SK)
    if not isinstance(partition_key, str) or not isinstance(sort_key, str):
        raise PoisonRecord(f"the change's Keys lack string {TRIP_PK} and {TRIP_SK}")
    entity = Entity.of_sort_key(sort_key)
    if not partition_key.startswith(TRIP_PK_PREFIX) or entity is None:
        return None
    trip_id = partition_key.removeprefix(TRIP_PK_PREFIX)
    if not trip_id:
        raise PoisonRecord(f"{TRIP_PK} {partition_key!r} names no trip")

    new_image, old_image = _image(change, "NewImage"), _image(change, "OldImage")
    image_name = "OldImage" if kind is ChangeKind.REMOVE else "NewImage"
    image = old_image if kind is ChangeKind.REMOVE else new_image
    if image is None:
        raise PoisonRecord(f"a {kind} change needs its {image_name} (stream view NEW_AND_OLD_IMAGES)")
    _check_types(f"{entity} {image_name}", change[image_name], {**ITEM_ATTRIBUTES, **ENTITY_ATTRIBUTES[entity]})
    if kind is ChangeKind.MODIFY and old_image is not None:
        _check_types(f"{entity} OldImage", change["OldImage"], ITEM_ATTRIBUTES)
        _check_advances(old_image, image)
    if kind is not ChangeKind.REMOVE:
        try:  # times written by others, in the one form the index compares (`times`)
            new_image = canonical_item_times(image)
        except NotATime as error:
            raise PoisonRecord(str(error)) from None
    # A removal happened when the stream saw it; the removed image's `updated_at` is its last modification.
    written_at = None if kind is ChangeKind.REMOVE else _moment(image, "updated_at")
    return TripChange(
        trip_id=trip_id,
        entity=entity,
        kind=kind,
        version=_version(image),
        generation=_generation(image),
        approximate_time=approximate_time,
        changed_at=written_at or approximate_time,
        position=position,
        new_image=new_image,
        old_image=old_image,
    )


def _as_mapping(value: Any, reason: str) -> Mapping[str, Any]:
    if type(value) is not dict and not isinstance(value, Mapping):  # the exact type first: the ABC check is slow
        raise PoisonRecord(reason)
    return value


def _image(change: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    raw = change.get(name)
    if raw is None:
        return None
    try:
        return {key: _attribute_value(value) for key, value in _as_mapping(raw, "").items()}
    except (PoisonRecord, TypeError, ValueError, AttributeError, KeyError, ArithmeticError) as error:
        raise PoisonRecord(f"{name} is not a DynamoDB item: {error!r}") from None


def _attribute_value(value: Any) -> Any:
    """One DynamoDB attribute value as Python: strings and numbers, nearly every value of a trip's items, taken
    directly (a Decimal keeps all of a DynamoDB number's 38 digits); any other type through Powertools."""
    if type(value) is dict and len(value) == 1:
        if isinstance(text := value.get("S"), str):
            return text
        if isinstance(number := value.get("N"), str) and (decimal := Decimal(number)).is_finite():
            return decimal
    return _deserializer.deserialize(value)


def _epoch_time(change: Mapping[str, Any], default_unit: int) -> datetime:
    raw = change.get("ApproximateCreationDateTime")
    if isinstance(raw, datetime):  # boto3 parses GetRecords timestamps already
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
        raise PoisonRecord(f"ApproximateCreationDateTime {raw!r} is not an epoch number")
    try:
        return datetime.fromtimestamp(float(raw) / default_unit, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise PoisonRecord(f"ApproximateCreationDateTime {raw!r} is out of range") from None


def _check_types(where: str, raw_image: Mapping[str, Any], expected: Mapping[str, str]) -> None:
    """Each named attribute, when present and not NULL, must hold the DynamoDB type given ("S", "N", ...)."""
    for name, type_code in expected.items():
        value = raw_image.get(name)
        if value is None or (type(value) is dict and len(value) == 1 and (type_code in value or "NULL" in value)):
            continue
        actual = str(next(iter(value))) if isinstance(value, dict) and len(value) == 1 else ""
        actual_name = f"{DYNAMODB_TYPES[actual]} ({actual})" if actual in DYNAMODB_TYPES else repr(value)
        raise (WriterContractViolation if name in CONTRACT_ATTRIBUTES else PoisonRecord)(
            f"{where} attribute {name!r} must be a DynamoDB {DYNAMODB_TYPES[type_code]} ({type_code}), "
            f"got {actual_name}"
        )


def _check_advances(old_image: Mapping[str, Any], new_image: Mapping[str, Any]) -> None:
    """A MODIFY must rank its new image above its old one: same generation and a higher version, or a later
    generation (an item put over an older one). DynamoDB writes no stream record for a write that changes nothing
    (DynamoDB developer guide, "Change data capture for DynamoDB Streams"), so equal images never arrive here."""
    old_generation, new_generation = _generation(old_image), _generation(new_image)
    if new_generation < old_generation:
        raise WriterContractViolation(
            f"created_at went back: old {old_image.get('created_at')!r}, new {new_image.get('created_at')!r}"
        )
    old_version, new_version = _version(old_image, "OldImage"), _version(new_image)
    if new_generation == old_generation and new_version <= old_version:
        raise WriterContractViolation(f"version did not advance: old {old_version}, new {new_version}")


def _version(image: Mapping[str, Any], image_name: str = "item") -> int:
    version = image.get("version")
    if not isinstance(version, Decimal) or version != version.to_integral_value() or version < 1:
        owner = "the item" if image_name == "item" else f"the {image_name}"
        raise WriterContractViolation(f"{owner}'s version must be a whole number >= 1, got {version!r}")
    return int(version)


def _generation(image: Mapping[str, Any]) -> int:
    created_at = _moment(image, "created_at")
    return 0 if created_at is None else (created_at - _EPOCH) // timedelta(microseconds=1)


def _moment(image: Mapping[str, Any], name: str) -> datetime | None:
    raw = image.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        raise WriterContractViolation(f"the item's {name} {raw!r} is not an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
