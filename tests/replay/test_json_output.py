"""Every `--json` output of the replay tool writes numbers with all their digits (services.trip.exact_json)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from typer.testing import CliRunner

from replay.cli import app
from tests import factories
from tests.replay.conftest import History

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

LIVE_AMOUNT, TABLE_AMOUNT = "0.123456789012345678", "1234567890123456.78"


def test_verify_differences_keep_every_digit(history: History, search_table: Any) -> None:
    history.write(factories.insert(factories.payment("trip-001", amount=Decimal(TABLE_AMOUNT))))
    history.project_like_the_consumers()
    search_table.update_item(
        Key={"trip_id": "trip-001"},
        UpdateExpression="SET total_amount = :amount",
        ExpressionAttributeValues={":amount": Decimal(LIVE_AMOUNT)},
    )

    result = CliRunner().invoke(app, ["run", "--source", "table", "--target-table", "Rebuild", "--verify", "--json"])

    assert result.exit_code == 1, result.output
    assert f'"live": {LIVE_AMOUNT},' in result.stdout
    assert f'"target": {TABLE_AMOUNT}' in result.stdout
    assert json.loads(result.stdout, parse_float=Decimal)["differences"] == [
        {"trip_id": "trip-001", "field": "total_amount", "live": Decimal(LIVE_AMOUNT), "target": Decimal(TABLE_AMOUNT)}
    ]
