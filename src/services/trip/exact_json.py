"""JSON text in which every number keeps all its digits: the API's responses and the replay tool's `--json`.

DynamoDB numbers carry up to 38 significant digits and arrive as `Decimal`; a `float` keeps about 17
(`0.123456789012345678` would come back as `0.12345678901234568`). The standard library writes a `Decimal` only
through `default`, as something it already knows, so each one is written as a placeholder string unique to the
call and then replaced by the number's own digits.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from decimal import Decimal
from typing import Any


def dumps(document: Any, *, default: Callable[[Any], Any] | None = None, **options: Any) -> str:
    """`json.dumps(document, **options)`, with each `Decimal` as the JSON number it holds, digit for digit.

    `default` serializes other types, as for `json.dumps`. Raises ValueError for a NaN or infinite Decimal
    (JSON has no such number; DynamoDB cannot hold one either).
    """
    marker = secrets.token_hex(8)
    numbers: list[str] = []

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError(f"{value} is not a JSON number")
            numbers.append(str(value))  # str keeps every digit: `1.50` stays `1.50`, `1E+3` is `1E+3`
            return f"{marker}:{len(numbers) - 1}"
        if default is None:
            raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
        return default(value)

    text = json.dumps(document, default=encode, **options)
    return re.sub(f'"{marker}:([0-9]+)"', lambda found: numbers[int(found[1])], text) if numbers else text
