"""What DynamoDB charges for the reads the drift audit makes, from the sizes of the items read.

The rules (Amazon DynamoDB Developer Guide, "DynamoDB read and write operations"; "DynamoDB item sizes and
formats"): a strongly consistent read of up to 4 KB is one read unit, an eventually consistent one half. A Query or
a Scan is one read of the total size of the items it read, rounded up to 4 KB; a GetItem or each key of a
BatchGetItem, one read of its item's size, rounded up to 4 KB on its own. An item's size is its attribute names'
and values' UTF-8 bytes, a Number about one byte per two significant digits plus one, a Map or a List 3 bytes plus
one per element. A key whose item is absent is counted as one read of 4 KB (a conservative reading of the guide).

Counted here, not taken from `ReturnConsumedCapacity`, so that the figure is the same on AWS and on the local
runtime (whose emulator answers a fixed capacity per request).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

READ_UNIT_BYTES = 4096


def item_bytes(item: Mapping[str, Any]) -> int:
    """The size DynamoDB bills of an item in DynamoDB JSON ({"name": {"S": "..."}, ...})."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def query_units(items: Iterable[Mapping[str, Any]], *, consistent: bool) -> float:
    """One Scan or Query page that read these items (DynamoDB JSON): at least one read unit's share."""
    blocks = max(1, math.ceil(sum(item_bytes(item) for item in items) / READ_UNIT_BYTES))
    return blocks * (1.0 if consistent else 0.5)


def get_units(items: Iterable[Mapping[str, Any] | None], *, consistent: bool) -> float:
    """GetItem or BatchGetItem of these keys: each found item (DynamoDB JSON) rounded up on its own, None absent."""
    blocks = sum(1 if item is None else max(1, math.ceil(item_bytes(item) / READ_UNIT_BYTES)) for item in items)
    return blocks * (1.0 if consistent else 0.5)


def _value_bytes(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_bytes(str(inner))
    if kind == "B":
        return len(inner) if isinstance(inner, bytes) else math.ceil(len(str(inner)) * 3 / 4)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + _value_bytes(element) + 1 for name, element in inner.items())
    if kind == "L":
        return 3 + sum(_value_bytes(element) + 1 for element in inner)
    if kind == "SS":
        return sum(len(str(element).encode()) for element in inner)
    if kind == "NS":
        return sum(_number_bytes(str(element)) for element in inner)
    return sum(len(element) for element in inner)  # BS


def _number_bytes(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0].strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1
