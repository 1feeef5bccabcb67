"""TripTable on DynamoDB: the saga's guarded writes, each one conditional request.

A refused condition returns the item as it stood (ReturnValuesOnConditionCheckFailure), so a step learns where the
item is without a second read that could race another writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from services.trip.bookings import Attempt, EntityState
from services.trip.changes import Entity
from services.trip.dynamodb_values import deserialize_item
from services.trip.schema import TRIP_HOLDER, TRIP_PK, TRIP_PK_PREFIX, TRIP_SK

_NAMES = {
    "#pk": TRIP_PK,
    "#status": "status",
    "#version": "version",
    "#held_by": TRIP_HOLDER,
    "#created_at": "created_at",
    "#updated_at": "updated_at",
}


class TripTable:
    def __init__(self, table: Any) -> None:
        self._table = table

    def create(self, trip_id: str, entity: Entity, status: str, attributes: Mapping[str, Any], holder: str) -> Attempt:
        now = _now()
        # created_at is the item's generation: a re-created item orders after the one deleted before it.
        item = _booking(trip_id, entity, status, attributes, holder, version=1, created_at=now, updated_at=now)
        return self._put(entity, item, "attribute_not_exists(#pk)", _names("#pk"), {})

    def take_over(
        self, trip_id: str, seen: EntityState, status: str, attributes: Mapping[str, Any], holder: str
    ) -> Attempt:
        # A whole new item, so nothing of the earlier booking's details survives; the generation stays. The item
        # must still be the one seen: the same version and status, the same generation (not deleted and
        # re-created meanwhile) and the same holder.
        version = seen.version
        assert version is not None, "only a readable item is taken over"
        now = _now()
        item = _booking(trip_id, seen.entity, status, attributes, holder, version + 1, seen.created_at or now, now)
        conditions = ["#version = :seen_version", "#status = :seen_status"]
        values: dict[str, Any] = {":seen_version": version, ":seen_status": seen.status}
        for placeholder, value in (("#created_at", seen.created_at), ("#held_by", seen.holder)):
            if value is None:
                conditions.append(f"attribute_not_exists({placeholder})")
            else:
                conditions.append(f"{placeholder} = :seen_{placeholder[1:]}")
                values[f":seen_{placeholder[1:]}"] = value
        names = _names("#version", "#status", "#created_at", "#held_by")
        return self._put(seen.entity, item, " AND ".join(conditions), names, values)

    def transition(self, trip_id: str, entity: Entity, source: str, target: str, holder: str) -> Attempt:
        try:
            response = self._table.update_item(
                Key=_key(trip_id, entity),
                UpdateExpression="SET #status = :target, #version = #version + :one, #updated_at = :now",
                ConditionExpression="#status = :source AND #held_by = :holder",
                ExpressionAttributeNames=_names("#status", "#version", "#held_by", "#updated_at"),
                ExpressionAttributeValues={
                    ":source": source,
                    ":target": target,
                    ":holder": holder,
                    ":one": 1,
                    ":now": _now(),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as refused:
            return Attempt(_item_as_it_stood(refused, entity), wrote=False)
        return Attempt(_state(entity, response["Attributes"]), wrote=True)

    def _put(
        self, entity: Entity, item: dict[str, Any], condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> Attempt:
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": values} if values else {}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as refused:
            return Attempt(_item_as_it_stood(refused, entity), wrote=False)
        return Attempt(_state(entity, item), wrote=True)


def _booking(
    trip_id: str,
    entity: Entity,
    status: str,
    attributes: Mapping[str, Any],
    holder: str,
    version: int,
    created_at: str,
    updated_at: str,
) -> dict[str, Any]:
    return {
        **_key(trip_id, entity),
        **attributes,
        "status": status,
        "version": version,
        "created_at": created_at,
        "updated_at": updated_at,
        TRIP_HOLDER: holder,
    }


def _now() -> str:
    """When a change happened, carried by the item: the projection's `updated_at`, whichever copy delivers it."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _key(trip_id: str, entity: Entity) -> dict[str, str]:
    return {TRIP_PK: f"{TRIP_PK_PREFIX}{trip_id}", TRIP_SK: f"{entity}#{entity.lower()}_for_{trip_id}"}


def _names(*placeholders: str) -> dict[str, str]:
    return {placeholder: _NAMES[placeholder] for placeholder in placeholders}


def _item_as_it_stood(refused: ClientError, entity: Entity) -> EntityState | None:
    if refused.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
        raise refused
    # The failure response carries the item in DynamoDB JSON even through the resource API.
    raw = refused.response.get("Item")
    return None if raw is None else _state(entity, deserialize_item(raw))


def _state(entity: Entity, item: Mapping[str, Any]) -> EntityState:
    """The item as the commands see it; what another writer left unreadable is reported, never raised."""
    status, version = item.get("status"), item.get("version")
    holder, created_at = item.get(TRIP_HOLDER), item.get("created_at")
    return EntityState(
        entity=entity,
        status=status if isinstance(status, str) else "",
        version=_whole_number(version),
        holder=holder if isinstance(holder, str) else None,
        created_at=created_at if isinstance(created_at, str) else None,
    )


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return None
    return int(value) if value == int(value) else None
