"""TripTable on DynamoDB: the saga's guarded writes, each one conditional request.

A refused condition returns the item as it stood (ReturnValuesOnConditionCheckFailure), so a retried step
learns where the item is without a second read that could race another writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from services.trip.bookings import EntityState
from services.trip.changes import Entity
from services.trip.schema import TRIP_PK, TRIP_PK_PREFIX, TRIP_SK

_deserializer = TypeDeserializer()


class TripTable:
    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, trip_id: str, entity: Entity, status: str, attributes: Mapping[str, Any]) -> EntityState:
        now = _now()
        item = {
            **_key(trip_id, entity),
            **attributes,
            "status": status,
            "version": 1,
            # The item's generation: a re-created item orders after the one deleted before it (CONTRACT.md).
            "created_at": now,
            "updated_at": now,
        }
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": TRIP_PK},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as refused:
            existing = _item_as_it_stood(refused)
            assert existing is not None  # attribute_not_exists was refused: the item exists
            return _state(entity, existing)
        return EntityState(entity, status, 1)

    def transition(self, trip_id: str, entity: Entity, source: str, target: str) -> EntityState | None:
        try:
            response = self._table.update_item(
                Key=_key(trip_id, entity),
                UpdateExpression="SET #status = :target, #version = #version + :one, #updated_at = :now",
                ConditionExpression="#status = :source",
                ExpressionAttributeNames={"#status": "status", "#version": "version", "#updated_at": "updated_at"},
                ExpressionAttributeValues={":source": source, ":target": target, ":one": 1, ":now": _now()},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as refused:
            item = _item_as_it_stood(refused)
            return None if item is None else _state(entity, item)
        return _state(entity, response["Attributes"])


def _now() -> str:
    """When a change happened, carried by the item: the projection's `updated_at`, whichever copy delivers it."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _key(trip_id: str, entity: Entity) -> dict[str, str]:
    return {TRIP_PK: f"{TRIP_PK_PREFIX}{trip_id}", TRIP_SK: f"{entity}#{entity.lower()}_for_{trip_id}"}


def _item_as_it_stood(refused: ClientError) -> dict[str, Any] | None:
    if refused.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
        raise refused
    # The failure response carries the item in DynamoDB JSON even through the resource API.
    raw = refused.response.get("Item")
    return None if raw is None else {name: _deserializer.deserialize(value) for name, value in raw.items()}


def _state(entity: Entity, item: Mapping[str, Any]) -> EntityState:
    return EntityState(entity, str(item["status"]), int(item["version"]))
