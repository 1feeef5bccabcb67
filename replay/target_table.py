"""The rebuild target: a table with the live search table's schema (keys, indexes, billing, TTL)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from replay.errors import BadInput, aws_errors, error_code
from services.trip.schema import UNSHARDED_INDEXES, Layout

_INDEX_FIELDS = ("IndexName", "KeySchema", "Projection")


def describe(dynamodb: Any, table_name: str) -> dict[str, Any] | None:
    """The table's description, or None if it does not exist."""
    with aws_errors(f"describing table {table_name}"):
        try:
            return dict(dynamodb.describe_table(TableName=table_name)["Table"])
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise


def layout_of(dynamodb: Any, table_name: str) -> Layout:
    """The index keys a table's documents must carry, from its indexes: `UNSHARDED` if it has those releases'
    (`schema.UNSHARDED_INDEXES`), else this release's."""
    description = describe(dynamodb, table_name) or {}
    names = {index["IndexName"] for index in description.get("GlobalSecondaryIndexes", [])}
    unsharded = {index.name for index in UNSHARDED_INDEXES.values()}
    return Layout.UNSHARDED if unsharded <= names else Layout.SHARDED


def needs_creation(dynamodb: Any, live_table: str, target_table: str) -> bool:
    """Whether the target is missing; one that exists must have the live table's key."""
    existing = describe(dynamodb, target_table)
    if existing is None:
        return True
    live = describe(dynamodb, live_table)
    if live is not None:
        check_compatible(live, existing)
    return False


def create_like(dynamodb: Any, live_table: str, target_table: str) -> None:
    """Create `target_table` with the schema of `live_table` and wait until it is usable."""
    live = describe(dynamodb, live_table)
    if live is None:
        raise BadInput(f"the live search table {live_table} does not exist: nothing to copy the schema from")
    # No BillingModeSummary is a provisioned table: "You may need to switch to on-demand mode at least once in order
    # to return a BillingModeSummary response" (DynamoDB API Reference, BillingModeSummary; DynamoDB Local does so)
    on_demand = live.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
    request: dict[str, Any] = {
        "TableName": target_table,
        "KeySchema": live["KeySchema"],
        "AttributeDefinitions": live["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED",
    }
    if not on_demand:
        request["ProvisionedThroughput"] = _throughput(live)
    indexes = [
        {
            **{key: index[key] for key in _INDEX_FIELDS},
            **({} if on_demand else {"ProvisionedThroughput": _throughput(index)}),
        }
        for index in live.get("GlobalSecondaryIndexes", [])
    ]
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    with aws_errors(f"creating table {target_table} like {live_table}"):
        dynamodb.create_table(**request)
        dynamodb.get_waiter("table_exists").wait(TableName=target_table, WaiterConfig={"Delay": 2})
        ttl = dynamodb.describe_time_to_live(TableName=live_table)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            dynamodb.update_time_to_live(
                TableName=target_table,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )


def check_compatible(live: dict[str, Any], target: dict[str, Any]) -> None:
    """An existing target must at least have the live table's key, or the documents cannot be written into it."""
    if target["KeySchema"] != live["KeySchema"]:
        raise BadInput(
            f"table {target['TableName']} exists with key {target['KeySchema']}, not the search table's "
            f"{live['KeySchema']}: choose another --target-table"
        )


def _throughput(description: dict[str, Any]) -> dict[str, int]:
    throughput = description["ProvisionedThroughput"]
    return {key: throughput[key] for key in ("ReadCapacityUnits", "WriteCapacityUnits")}
