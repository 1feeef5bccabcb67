"""A number DynamoDB hands back in plain notation (1E+40 as 41 digits) on the consumer's and replay's reads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest

from services.trip import schema
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.dynamodb_values import dynamodb_resource

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

FORTY_ONE_DIGITS = "1" + "0" * 40


def _store_as_dynamodb_answers(table_name: str) -> None:
    boto3.client("dynamodb").put_item(
        TableName=table_name,
        Item={
            schema.SEARCH_KEY: {"S": "trip-001"},
            "total_amount": {"N": FORTY_ONE_DIGITS},
            "revision": {"N": "1"},
            "versions": {"M": {}},
        },
    )


def test_the_consumer_reads_a_document_with_a_number_in_plain_notation(search_table: Any) -> None:
    _store_as_dynamodb_answers(search_table.name)

    documents = SearchDocuments(search_table.name, boto3.resource("dynamodb")).load_many(["trip-001"])

    assert documents["trip-001"].fields["total_amount"] == Decimal("1E+40")
    assert str(documents["trip-001"].fields["total_amount"]) == "1E+40"


def test_a_scan_through_an_exact_resource_reads_it(search_table: Any) -> None:
    _store_as_dynamodb_answers(search_table.name)

    items = dynamodb_resource().Table(search_table.name).scan()["Items"]

    assert [str(item["total_amount"]) for item in items] == ["1E+40"]
