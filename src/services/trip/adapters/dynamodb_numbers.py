"""DynamoDB items read back with every Number DynamoDB can hand back.

DynamoDB keeps up to 38 significant digits but answers in plain notation: a stored `1E+40` comes back as 41 digits
(`10000000000000000000000000000000000000000`). boto3's `TypeDeserializer` creates each Number in a 38-digit context
that traps `decimal.Rounded`, so such an answer raises instead of reading (boto/boto3#2500, #4636). Powertools'
deserializer moves trailing zeros into the exponent first and reads it exactly; every read path uses it:
`exact_numbers` on a boto3 resource, `DESERIALIZER` on the DynamoDB JSON of a raw answer (a refused condition's
item, a low-level Scan).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer
from boto3.dynamodb.transform import TransformationInjector

DESERIALIZER = TypeDeserializer()
# The handler boto3's DynamoDB resource registers to turn AWS-typed answers into Python values
# (boto3.dynamodb.transform.DynamoDBHighLevelResource).
_OUTPUT_EVENT, _OUTPUT_HANDLER = "after-call.dynamodb", "dynamodb-attr-value-output"


def exact_numbers(resource: Any) -> Any:
    """The boto3 DynamoDB `resource`, its answers deserialized by `DESERIALIZER` instead of boto3's own."""
    events = resource.meta.client.meta.events
    events.unregister(_OUTPUT_EVENT, unique_id=_OUTPUT_HANDLER)
    injector = TransformationInjector(deserializer=DESERIALIZER)
    events.register(_OUTPUT_EVENT, injector.inject_attribute_value_output, unique_id=_OUTPUT_HANDLER)
    return resource


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB-JSON item (`{"amount": {"N": "…"}}`) as Python values, Numbers as exact Decimals."""
    return {name: DESERIALIZER.deserialize(value) for name, value in item.items()}
