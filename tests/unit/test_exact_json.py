"""JSON text whose numbers keep every digit DynamoDB holds (services.trip.exact_json)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.trip import exact_json


def test_decimals_are_written_digit_for_digit() -> None:
    document = {
        "amounts": [Decimal("0.123456789012345678"), Decimal("1234567890123456.78"), Decimal("80000"), Decimal("1.50")],
        "max": Decimal("9.9999999999999999999999999999999999999E+125"),
        "name": 'a "quoted" Hôtel',
    }

    assert exact_json.dumps(document, separators=(",", ":")) == (
        '{"amounts":[0.123456789012345678,1234567890123456.78,80000,1.50],'
        '"max":9.9999999999999999999999999999999999999E+125,"name":"a \\"quoted\\" H\\u00f4tel"}'
    )


def test_options_and_default_apply_as_for_json_dumps() -> None:
    document = {"at": datetime(2026, 3, 1, 9, 0, tzinfo=UTC), "n": [Decimal("0.1")]}

    assert exact_json.dumps(document, indent=1, default=str) == (
        '{\n "at": "2026-03-01 09:00:00+00:00",\n "n": [\n  0.1\n ]\n}'
    )


def test_a_string_that_looks_like_a_placeholder_stays_a_string() -> None:
    assert exact_json.dumps(["0:0", Decimal(7)]) == '["0:0", 7]'


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_a_decimal_json_cannot_write_is_an_error(value: Decimal) -> None:
    with pytest.raises(ValueError, match="is not a JSON number"):
        exact_json.dumps({"amount": value})


def test_other_types_need_a_default() -> None:
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        exact_json.dumps({"ids": {"a"}})
