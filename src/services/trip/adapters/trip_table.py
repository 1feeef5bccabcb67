"""TripTable on DynamoDB: the saga's guarded writes, each one conditional request.

A refused condition returns the item as it stood (ReturnValuesOnConditionCheckFailure), so a step learns where the
item is without a second read that could race another writer.

Every forward write (`create`, `take_over`) is one `TransactWriteItems` of two actions: a `ConditionCheck` that
the execution's *fence* (`PK = TRIP#<trip_id>`, `SK = SAGA#<execution_id>`, written by the first thing each of
its compensations does, `fence`) does not exist, and the `Put` with its own condition. A late attempt of a
compensated execution therefore cannot land, whoever holds the item by then. The transaction's
`CancellationReasons` tell which condition failed (each with the item as it stood, `ALL_OLD`; a consistent
`GetItem` when a reason carries no item). Cost: DynamoDB bills a transactional write two write units per 1 KB of
each item written and a `ConditionCheck` like a write of its item ("Capacity management for transactions",
Amazon DynamoDB Developer Guide: "Transactional write requests require 2 WCUs per 1-KB item"; the condition
check of the absent fence counts as an item of up to 1 KB): a forward write costs 4 WCUs instead of 1. Fence items
have an SK that is not FLIGHT/HOTEL/PAYMENT: the stream consumers count them irrelevant, the search never shows
them. `TransactWriteItems` needs `dynamodb:ConditionCheckItem` besides `PutItem` (CDK's `grant_read_write_data`
grants both).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from services.trip.bookings import Attempt, EntityState, ExecutionCompensated
from services.trip.changes import Entity
from services.trip.dynamodb_values import deserialize_item
from services.trip.schema import TRIP_HOLDER, TRIP_PK, TRIP_PK_PREFIX, TRIP_SK

# The SK prefix of an execution's fence item (not FLIGHT/HOTEL/PAYMENT: the projection counts it irrelevant).
TRIP_FENCE_PREFIX = "SAGA#"
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

    def fence(self, trip_id: str, holder: str) -> None:
        """Write (once) the fence of `holder`'s execution: from now on no forward write of it lands."""
        try:
            self._table.put_item(
                Item={**fence_key(trip_id, holder), "execution_id": holder, "compensated_at": _now()},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames=_names("#pk"),
            )
        except ClientError as refused:
            if refused.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # already fenced (a retry) is what the step wanted

    def create(self, trip_id: str, entity: Entity, status: str, attributes: Mapping[str, Any], holder: str) -> Attempt:
        return self._create(trip_id, entity, status, attributes, holder, fenced=True)

    def record(self, trip_id: str, entity: Entity, status: str, attributes: Mapping[str, Any], holder: str) -> Attempt:
        return self._create(trip_id, entity, status, attributes, holder, fenced=False)

    def _create(
        self, trip_id: str, entity: Entity, status: str, attributes: Mapping[str, Any], holder: str, *, fenced: bool
    ) -> Attempt:
        now = _now()
        # created_at is the item's generation: a re-created item orders after the one deleted before it.
        item = _booking(trip_id, entity, status, attributes, holder, version=1, created_at=now, updated_at=now)
        condition, names = "attribute_not_exists(#pk)", _names("#pk")
        if fenced:
            return self._fenced_put(trip_id, holder, entity, item, condition, names, {})
        return self._put(entity, item, condition, names, {})

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
        return self._fenced_put(trip_id, holder, seen.entity, item, " AND ".join(conditions), names, values)

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

    def _fenced_put(
        self,
        trip_id: str,
        holder: str,
        entity: Entity,
        item: dict[str, Any],
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> Attempt:
        """The put, in one transaction with the check that `holder`'s execution is not fenced."""
        put: dict[str, Any] = {
            "TableName": self._table.name,
            "Item": item,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            put["ExpressionAttributeValues"] = values
        check = {
            "TableName": self._table.name,
            "Key": fence_key(trip_id, holder),
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": _names("#pk"),
        }
        try:
            self._table.meta.client.transact_write_items(TransactItems=[{"ConditionCheck": check}, {"Put": put}])
        except ClientError as refused:
            if refused.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            fence, booking = (reason.get("Code") for reason in _reasons(refused))
            if fence == "ConditionalCheckFailed":
                raise ExecutionCompensated(trip_id, entity, holder) from None
            if booking != "ConditionalCheckFailed":
                raise  # a conflict with another transaction, throttling: the step fails and Step Functions says so
            raw = _reasons(refused)[1].get("Item")
            if raw is None:  # the reason carries no item: read it, consistently
                stored = self._table.get_item(Key=_key_of(item), ConsistentRead=True).get("Item")
                return Attempt(None if stored is None else _state(entity, stored), wrote=False)
            return Attempt(_state(entity, deserialize_item(raw)), wrote=False)
        return Attempt(_state(entity, item), wrote=True)


def _reasons(refused: ClientError) -> list[dict[str, Any]]:
    reasons = refused.response.get("CancellationReasons") or [{}, {}]
    return list(reasons) + [{}] * (2 - len(reasons))


def _key_of(item: Mapping[str, Any]) -> dict[str, Any]:
    return {TRIP_PK: item[TRIP_PK], TRIP_SK: item[TRIP_SK]}


def fence_key(trip_id: str, holder: str) -> dict[str, str]:
    """The key of an execution's fence: its compensation began, none of its forward writes may land."""
    return {TRIP_PK: f"{TRIP_PK_PREFIX}{trip_id}", TRIP_SK: f"{TRIP_FENCE_PREFIX}{holder}"}


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
