"""The rebuild target is created with the live search table's schema, capacity mode and throughput included."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from replay.target_table import create_like
from services.trip.search_tables import table_definition
from tests.conftest import REGION

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

LIVE, TARGET = "TripSearchTable", "TripSearchRebuild"
TABLE_THROUGHPUT = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 7}
INDEX_THROUGHPUT = {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}
ON_DEMAND = {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}  # what DynamoDB describes of an on-demand table


def _capacity(description: dict[str, Any]) -> dict[str, int]:
    throughput = description.get("ProvisionedThroughput", {})
    return {name: throughput.get(name, 0) for name in TABLE_THROUGHPUT}


def _capacities(dynamodb: Any, table_name: str) -> dict[str, dict[str, int]]:
    """The table's read and write capacity, and each index's, by index name ("" for the table)."""
    table = dynamodb.describe_table(TableName=table_name)["Table"]
    return {"": _capacity(table)} | {index["IndexName"]: _capacity(index) for index in table["GlobalSecondaryIndexes"]}


def test_a_target_like_a_provisioned_live_table_gets_its_throughput(aws: None) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    definition = table_definition(LIVE) | {"BillingMode": "PROVISIONED", "ProvisionedThroughput": TABLE_THROUGHPUT}
    for index in definition["GlobalSecondaryIndexes"]:
        index["ProvisionedThroughput"] = INDEX_THROUGHPUT
    dynamodb.create_table(**definition)

    create_like(dynamodb, LIVE, TARGET)

    indexes = [index["IndexName"] for index in definition["GlobalSecondaryIndexes"]]
    assert _capacities(dynamodb, TARGET) == {"": TABLE_THROUGHPUT} | {name: INDEX_THROUGHPUT for name in indexes}


def test_a_target_like_an_on_demand_live_table_is_on_demand(aws: None) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**table_definition(LIVE))

    create_like(dynamodb, LIVE, TARGET)

    target = dynamodb.describe_table(TableName=TARGET)["Table"]
    indexes = [index["IndexName"] for index in target["GlobalSecondaryIndexes"]]
    assert target["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert _capacities(dynamodb, TARGET) == {name: ON_DEMAND for name in ["", *indexes]}
