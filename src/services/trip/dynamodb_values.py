"""DynamoDB attribute values as Python values, every Number exactly as DynamoDB holds it: the one deserializer of
every read of a DynamoDB item (the API, the consumers' documents, the stream decoders, replay, the DLQ tools).

DynamoDB keeps 38 significant digits, magnitudes 1E-130 to 9.99...E+125, and hands a number back in plain notation:
`1E+40` is stored and comes back as 41 digits, `10000000000000000000000000000000000000000`. boto3's
`TypeDeserializer` reads it in a context of precision 38 that traps `Rounded`, so it raises `decimal.Rounded` on a
number DynamoDB itself stored. Here trailing zeros do not count (DynamoDB developer guide, "Supported data types and
naming rules", Number): a number is read as `Decimal(text)`, and only when it has more than 38 digits are its
trailing zeros moved into the exponent, exactly (`1E+40`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Context, Decimal, Inexact
from typing import Any

import boto3
from boto3.dynamodb.transform import TransformationInjector
from boto3.dynamodb.types import TypeDeserializer

MAX_DIGITS = 38  # significant digits
MIN_ADJUSTED_EXPONENT = -130  # 1E-130, the smallest magnitude
MAX_ADJUSTED_EXPONENT = 125  # 9.9999999999999999999999999999999999999E+125, the largest
# A Number's text: sign, digits with at most one point, an exponent; unambiguous, so matching is linear in its length.
_NUMBER_TEXT = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_TRIM = Context(prec=MAX_DIGITS, traps=[Inexact])  # moves trailing zeros into the exponent, never drops a digit
_OUTPUT_HANDLER = "dynamodb-attr-value-output"  # boto3's id of the resource's response deserializer


class NotADynamoDBNumber(ValueError):
    """A text DynamoDB would not hold as a Number."""


def number(text: str) -> Decimal:
    """The Number `text` as DynamoDB holds it; raises `NotADynamoDBNumber` for what DynamoDB refuses: more than 38
    significant digits, a magnitude outside 1E-130..9.99...E+125, anything but ASCII digits, a point, a sign and an
    exponent. A whole number of up to 38 digits, nearly every number of a trip, is taken at once."""
    if len(text) <= MAX_DIGITS and text.isascii() and text.isdigit():
        return Decimal(text)
    if not _NUMBER_TEXT.fullmatch(text):
        raise NotADynamoDBNumber(text)
    value = Decimal(text)  # the exponent is read as a number: `1e1000000` takes no time
    if len(value.as_tuple().digits) > MAX_DIGITS:
        try:
            value = value.normalize(_TRIM)
        except ArithmeticError:  # Inexact: significant digits beyond 38 (or an exponent beyond any context)
            raise NotADynamoDBNumber(text) from None
    if value and not MIN_ADJUSTED_EXPONENT <= value.adjusted() <= MAX_ADJUSTED_EXPONENT:
        raise NotADynamoDBNumber(text)
    return value


class ExactDeserializer(TypeDeserializer):
    """boto3's deserializer, with Numbers (N, and the members of NS) read by `number`."""

    def _deserialize_n(self, value: str) -> Decimal:
        return number(value)


deserializer = ExactDeserializer()


def deserialize(value: Mapping[str, Any]) -> Any:
    """One attribute value (`{"N": "..."}`) as a Python value."""
    return deserializer.deserialize(value)


def deserialize_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """An item in DynamoDB JSON as Python values."""
    return {name: deserializer.deserialize(value) for name, value in item.items()}


def exact_numbers(resource: Any) -> Any:
    """The boto3 DynamoDB resource, its client and its tables reading items through `ExactDeserializer` instead of
    boto3's (which raises `decimal.Rounded` on `1E+40` as DynamoDB returns it). Returns the resource."""
    events = resource.meta.client.meta.events
    events.unregister("after-call.dynamodb", unique_id=_OUTPUT_HANDLER)
    injector = TransformationInjector(deserializer=deserializer)
    events.register("after-call.dynamodb", injector.inject_attribute_value_output, unique_id=_OUTPUT_HANDLER)
    return resource


def dynamodb_resource(**options: Any) -> Any:
    """`boto3.resource("dynamodb", **options)`, reading numbers exactly (`exact_numbers`)."""
    return exact_numbers(boto3.resource("dynamodb", **options))
