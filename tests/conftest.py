"""Shared fixtures: fake AWS credentials and the two tables on moto, created from the one schema."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from services.trip import schema
from services.trip.schema import Layout
from services.trip.search_tables import table_definition
from tests.dynamodb_engines import (  # noqa: F401  (fixtures)
    Engine,
    dynamodb_local,
    engine_fixture,
    parametrize_engines,
    report_left_out,
)
from tests.local_runtime_session import local_runtime  # noqa: F401  (one runtime per worker, for runtime/ and replay/)

pytest_plugins = ["tests.xdist_ids"]

REGION = "us-east-1"

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # botocore >= 1.44 routes StreamArn calls to an account endpoint the in-process mock does not serve
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "TripSearchTest",
        "POWERTOOLS_SERVICE_NAME": "trip-test",
        "POWERTOOLS_DEV": "false",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)


def create_trip_table(dynamodb: Any, name: str = "TripTable") -> Any:
    return dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": schema.TRIP_PK, "KeyType": "HASH"},
            {"AttributeName": schema.TRIP_SK, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": schema.TRIP_PK, "AttributeType": "S"},
            {"AttributeName": schema.TRIP_SK, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def create_search_table(
    dynamodb: Any,
    name: str = "TripSearchTable",
    projection: dict[str, Any] | None = None,
    layout: Layout = Layout.SHARDED,
) -> Any:
    """TripSearchTable as the stack defines it (infra/data.py, `search_tables.table_definition`): its key and the
    indexes of its layout, each projecting what the stack's does (or `projection`)."""
    definition = table_definition(name, layout)
    for index in definition["GlobalSecondaryIndexes"]:
        index["Projection"] = projection or index["Projection"]
    return dynamodb.create_table(**definition)


def metric_sums(emitted: str) -> dict[str, float]:
    """Each metric's sum over Powertools' EMF lines in `emitted` (stdout: one JSON object a line; a metric's values
    are a list), by metric name."""
    sums: dict[str, float] = {}
    for line in emitted.splitlines():
        blob = json.loads(line) if line.startswith("{") else {}
        for metric in blob.get("_aws", {}).get("CloudWatchMetrics", [{}])[0].get("Metrics", []):
            sums[metric["Name"]] = sums.get(metric["Name"], 0) + sum(blob[metric["Name"]])
    return sums


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_engines(metafunc)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    report_left_out(terminalreporter)


@pytest.fixture
def aws(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every AWS service on moto; DynamoDB on the test's engine (tests/dynamodb_engines.py)."""
    with mock_aws(), engine.serving(monkeypatch):
        yield


@pytest.fixture
def trip_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    table = create_trip_table(boto3.resource("dynamodb", region_name=REGION))
    monkeypatch.setenv("TABLE_NAME", table.name)
    return table


@pytest.fixture
def search_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    table = create_search_table(boto3.resource("dynamodb", region_name=REGION))
    monkeypatch.setenv("SEARCH_TABLE_NAME", table.name)
    return table


@pytest.fixture
def dlq_url(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url: str = boto3.client("sqs", region_name=REGION).create_queue(QueueName="TripProjectionDLQ")["QueueUrl"]
    monkeypatch.setenv("DLQ_URL", url)
    return url
