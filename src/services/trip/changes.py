"""One source-neutral change of a TripTable item, decoded from either change stream.

Two small decoders feed the same `TripChange`: a DynamoDB Streams record (as Lambda delivers it, or as the
dynamodbstreams `GetRecords` API returns it) and the DynamoDB change document that the table's Kinesis streaming
destination puts into Kinesis. A record that can never be projected raises `PoisonRecord`; an item that is not a
flight, hotel or payment of a trip decodes to `None` (irrelevant, not an error).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

from services.trip import dynamodb_values
from services.trip.reasons import quoted
from services.trip.schema import TRIP_PK, TRIP_PK_PREFIX, TRIP_SK
from services.trip.times import NotATime, canonicalize_item_times
from services.trip.trip_ids import InvalidTripId, check_trip_id

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


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
        prefix, hash_sign, _ = sort_key.partition("#")
        return _ENTITIES.get(prefix) if hash_sign else None


_ENTITIES: Mapping[str, Entity] = {entity.value: entity for entity in Entity}


class ChangeKind(StrEnum):
    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


_CHANGE_KINDS: Mapping[Any, ChangeKind] = {kind.value: kind for kind in ChangeKind}


class Source(StrEnum):
    DYNAMODB_STREAMS = "dynamodb-streams"
    KINESIS = "kinesis"


# The shard a change read from TripTable itself (a replay's table scan) names: no stream saw it at a known time.
TABLE_SCAN = "table"


class SourcePosition(NamedTuple):
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
# A trip's search document copies its three bookings' attributes into one item, and DynamoDB holds at most 400 KB
# an item ("Service, account, and table quotas in Amazon DynamoDB": item size, attribute names and values in
# UTF-8): each booking's copied attributes may take 100 KiB of it, the rest is left to keys, index keys and
# bookkeeping. A write over that breaks the writer contract (only that change is parked, not the trip).
BOOKING_DOCUMENT_BYTES = 100 * 1024
_NUMBER_BYTES = 21  # a DynamoDB Number's largest size: 38 significant digits, one byte per two, plus one
# The writer contract's bookkeeping attributes, and every item's attributes, with their DynamoDB types.
CONTRACT_ATTRIBUTES: Mapping[str, str] = {"version": "N", "created_at": "S", "updated_at": "S"}
KEY_ATTRIBUTES: Mapping[str, str] = {TRIP_PK: "S", TRIP_SK: "S"}
# What the projection reads of each entity's images: the only attributes decoded (the DLQ keeps the raw record).
# The keys are read from the change's Keys, the old image of a MODIFY only for its contract attributes.
PROJECTED_ATTRIBUTES: Mapping[Entity, Mapping[str, str]] = {
    entity: {**CONTRACT_ATTRIBUTES, **attributes} for entity, attributes in ENTITY_ATTRIBUTES.items()
}
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


class TripChange(NamedTuple):
    """One change of one trip entity. `(generation, version)` orders the changes of an entity.

    `new_image` and `old_image` hold the attributes the projection reads (`PROJECTED_ATTRIBUTES`; of a MODIFY's
    old image, `CONTRACT_ATTRIBUTES`), decoded; the record itself keeps the others. A named tuple, as
    `SourcePosition`: the decoder builds one per record, and a tuple is built in a third of a frozen dataclass's
    time."""

    trip_id: str
    entity: Entity
    kind: ChangeKind
    version: int
    generation: int  # microseconds since the epoch of the item's `created_at`; 0 when the item has none
    approximate_time: datetime  # when the stream saw the change
    changed_at: datetime  # when the change happened: the writer's `updated_at`, else the stream's time
    position: SourcePosition
    new_image: Mapping[str, Any] | None = None
    old_image: Mapping[str, Any] | None = None

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
    try:  # what base64.b64decode(validate=True) calls, without its wrapper
        data = binascii.a2b_base64(kinesis.get("data", ""), strict_mode=True)
    except (binascii.Error, TypeError, ValueError) as error:
        raise PoisonRecord(f"kinesis data is not base64: {error}") from None
    event_id = str(record.get("eventID", ""))
    position = SourcePosition(
        Source.KINESIS, record.get("eventSourceARN"), event_id.partition(":")[0] or None, kinesis.get("sequenceNumber")
    )
    return decode_kinesis_payload(data, position)


def decode_kinesis_payload(data: bytes, position: SourcePosition) -> TripChange | None:
    """Decode the raw `Data` of a Kinesis record written by the table's Kinesis streaming destination."""
    try:
        document = json.loads(data.decode())  # UTF-8, as DynamoDB writes it: no encoding detection
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, too many digits or levels
        raise PoisonRecord(f"kinesis data is not JSON: {error}") from None
    document = _as_mapping(document, "kinesis data is not a JSON object")
    if document.get("eventSource") != "aws:dynamodb":
        raise PoisonRecord(f"kinesis data is not a DynamoDB change (eventSource={quoted(document.get('eventSource'))})")
    change = _as_mapping(document.get("dynamodb"), "the change document has no 'dynamodb' object")
    # Kinesis copies carry milliseconds, or microseconds when the destination says so.
    unit = 1_000_000 if change.get("ApproximateCreationDateTimePrecision") == "MICROSECOND" else 1_000
    return _decode_change(document.get("eventName"), change, _epoch_time(change, default_unit=unit), position)


def _decode_change(
    event_name: Any, change: Mapping[str, Any], approximate_time: datetime, position: SourcePosition
) -> TripChange | None:
    kind = _CHANGE_KINDS.get(event_name) if isinstance(event_name, str) else None
    if kind is None:
        raise PoisonRecord(f"eventName {quoted(event_name)} is not INSERT, MODIFY or REMOVE")
    keys = change.get("Keys")
    if keys is None:
        raise PoisonRecord("the change has no Keys")
    key = _read_image(keys, KEY_ATTRIBUTES, "Keys")
    partition_key, sort_key = key.get(TRIP_PK), key.get(TRIP_SK)
    if partition_key is None or sort_key is None:
        raise PoisonRecord(f"the change's Keys lack string {TRIP_PK} and {TRIP_SK}")
    entity = Entity.of_sort_key(sort_key)
    if not partition_key.startswith(TRIP_PK_PREFIX) or entity is None:
        return None
    trip_id = partition_key.removeprefix(TRIP_PK_PREFIX)
    if not trip_id:
        raise PoisonRecord(f"{TRIP_PK} {partition_key!r} names no trip")
    _check_trip_id(trip_id)

    image_name = "OldImage" if kind is ChangeKind.REMOVE else "NewImage"
    if change.get(image_name) is None:
        raise PoisonRecord(f"a {kind} change needs its {image_name} (stream view NEW_AND_OLD_IMAGES)")
    image = _read_image(change[image_name], PROJECTED_ATTRIBUTES[entity], image_name, entity)
    generation = _generation(image)
    new_image, old_image = (None, image) if kind is ChangeKind.REMOVE else (image, None)
    if kind is ChangeKind.MODIFY and change.get("OldImage") is not None:
        old_image = _read_image(change["OldImage"], CONTRACT_ATTRIBUTES, "OldImage", entity)
        _check_advances(old_image, image, generation)
    if new_image is not None:
        _check_fits_a_document(new_image, entity)
        try:  # times written by others, in the one form the index compares (`times`)
            canonicalize_item_times(new_image)
        except NotATime as error:
            raise PoisonRecord(str(error)) from None
    # A removal happened when the stream saw it; the removed image's `updated_at` is its last modification.
    written_at = None if kind is ChangeKind.REMOVE else _moment(image, "updated_at")
    return TripChange(
        trip_id=trip_id,
        entity=entity,
        kind=kind,
        version=_version(image),
        generation=generation,
        approximate_time=approximate_time,
        changed_at=written_at or approximate_time,
        position=position,
        new_image=new_image,
        old_image=old_image,
    )


@lru_cache(maxsize=4096)  # a batch names few trips, many times: each id is checked once
def _check_trip_id(trip_id: str) -> None:
    """An id the trip-id rule refuses (`trip_ids`) cannot be addressed by GET /trips/{trip_id}: a document for it
    would be listed by search and missing from GET, so the change breaks the writer contract instead."""
    try:
        check_trip_id(trip_id)
    except InvalidTripId as error:
        raise WriterContractViolation(
            f"trip id {quoted(trip_id)} is not one a trip can have: a trip id {error} (trip_ids.py); writer "
            "contract: write TripTable only with such ids"
        ) from None


def _check_fits_a_document(image: Mapping[str, Any], entity: Entity) -> None:
    """A booking whose copied attributes (`ENTITY_ATTRIBUTES`) take more than `BOOKING_DOCUMENT_BYTES` would make
    DynamoDB refuse its trip's whole search document: the change breaks the writer contract instead."""
    sizes = {
        name: len(name) + (len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else _NUMBER_BYTES)
        for name in ENTITY_ATTRIBUTES[entity]
        if (value := image.get(name)) is not None
    }
    total = sum(sizes.values())
    if total > BOOKING_DOCUMENT_BYTES:
        largest = max(sizes, key=sizes.__getitem__)
        raise WriterContractViolation(
            f"{entity} NewImage: the attributes its trip's search document copies take {total:,} bytes (largest: "
            f"{largest}, {sizes[largest]:,}); a document holds three bookings within DynamoDB's 400 KB item: at most "
            f"{BOOKING_DOCUMENT_BYTES:,} bytes a booking; writer contract: keep them within that"
        )


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # the exact type first: the ABC check is slow


def _as_mapping(value: Any, reason: str) -> Mapping[str, Any]:
    if not _is_mapping(value):
        raise PoisonRecord(reason)
    return value


def _epoch_time(change: Mapping[str, Any], default_unit: int) -> datetime:
    raw = change.get("ApproximateCreationDateTime")
    if type(raw) is not int:  # both sources deliver an int: the other types only from elsewhere
        if isinstance(raw, datetime):  # boto3 parses GetRecords timestamps already
            return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
        if isinstance(raw, bool) or not isinstance(raw, float | Decimal):
            raise PoisonRecord(f"ApproximateCreationDateTime {quoted(raw)} is not an epoch number")
    try:  # an int beyond a float's range is an OverflowError here too
        return datetime.fromtimestamp(float(raw) / default_unit, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise PoisonRecord(f"ApproximateCreationDateTime {quoted(raw)} is out of range") from None


def _read_image(
    raw_image: Any, attributes: Mapping[str, str], image_name: str, entity: Entity | None = None
) -> dict[str, Any]:
    """The named attributes of a stream image as Python values, each type-checked on its DynamoDB attribute value
    (`{"S": "..."}`) in the same pass: a String as `str`, a Number as a `Decimal` with all its digits, a NULL as
    None; absent attributes are left out, the others are not read. Raises `WriterContractViolation` for a
    `version`, `created_at` or `updated_at` of another type, `PoisonRecord` for any other."""
    if not _is_mapping(raw_image):  # the reason is built only when needed: this runs for every record
        raise PoisonRecord(f"{_where(image_name, entity)} is not a DynamoDB item")
    item: dict[str, Any] = {}
    for name, type_code in attributes.items():
        value = raw_image.get(name)
        if value is None:
            continue
        if type(value) is dict and len(value) == 1:
            payload = value.get(type_code)
            if type(payload) is str and (payload.isascii() or _is_unicode_text(payload)):
                item[name] = payload if type_code == "S" else _number(payload, name, image_name, entity)
                continue
            if value.get("NULL") is True:
                item[name] = None
                continue
        raise _wrong_type(value, type_code, name, image_name, entity)
    return item


def _is_unicode_text(text: str) -> bool:
    """Whether the text can be written back (UTF-8): JSON's `\\ud800` escapes decode to lone surrogates, which no
    DynamoDB string holds and botocore cannot encode."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _refusal(name: str) -> type[PoisonRecord]:
    """A malformed contract attribute breaks the writer contract; any other makes the record poison."""
    return WriterContractViolation if name in CONTRACT_ATTRIBUTES else PoisonRecord


def _where(image_name: str, entity: Entity | None) -> str:
    return image_name if entity is None else f"{entity} {image_name}"


def _number(text: str, name: str, image_name: str, entity: Entity | None) -> Decimal:
    """A DynamoDB Number, read as DynamoDB holds it (`dynamodb_values.number`: 38 significant digits at most,
    trailing zeros not counted, magnitudes 1E-130 to 9.99...E+125, ASCII digits)."""
    try:
        return dynamodb_values.number(text)
    except dynamodb_values.NotADynamoDBNumber:
        raise _refusal(name)(
            f"{_where(image_name, entity)} attribute {name!r} is not a DynamoDB Number: {quoted(text)}"
        ) from None


def _wrong_type(value: Any, type_code: str, name: str, image_name: str, entity: Entity | None) -> PoisonRecord:
    actual = str(next(iter(value))) if isinstance(value, dict) and len(value) == 1 else ""
    actual_name = f"{DYNAMODB_TYPES[actual]} ({actual})" if actual in DYNAMODB_TYPES and actual != type_code else ""
    expected, got = f"{DYNAMODB_TYPES[type_code]} ({type_code})", actual_name or quoted(value)
    return _refusal(name)(f"{_where(image_name, entity)} attribute {name!r} must be a DynamoDB {expected}, got {got}")


def _check_advances(old_image: Mapping[str, Any], new_image: Mapping[str, Any], new_generation: int) -> None:
    """A MODIFY must rank its new image above its old one: same generation and a higher version, or a later
    generation (an item put over an older one). DynamoDB writes no stream record for a write that changes nothing
    (DynamoDB developer guide, "Change data capture for DynamoDB Streams"), so equal images never arrive here."""
    old_generation = _generation(old_image)
    if new_generation < old_generation:
        raise WriterContractViolation(
            f"created_at went back: old {quoted(old_image.get('created_at'))}, "
            f"new {quoted(new_image.get('created_at'))}"
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


def item_revision(image: Mapping[str, Any]) -> tuple[int, int]:
    """`(generation, version)` of an item as TripTable holds it (Python values), ranked as its changes are:
    generation in microseconds since the epoch of `created_at` (0 without one). Raises `WriterContractViolation`
    for a malformed `version` or `created_at`."""
    return _generation(image), _version(image)


def _generation(image: Mapping[str, Any]) -> int:
    created_at = _moment(image, "created_at")
    return 0 if created_at is None else (created_at - _EPOCH) // _MICROSECOND


def _moment(image: Mapping[str, Any], name: str) -> datetime | None:
    raw = image.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    except (TypeError, ValueError):
        raise WriterContractViolation(f"the item's {name} {quoted(raw)} is not an ISO-8601 time") from None
    except OverflowError:  # an offset moving it past year 1 or 9999 in UTC
        raise WriterContractViolation(f"the item's {name} {quoted(raw)} is out of range in UTC") from None
