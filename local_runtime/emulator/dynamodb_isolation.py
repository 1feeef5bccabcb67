"""DynamoDB's isolation in the emulator: one request at a time, and a refused transaction writes nothing.

AWS runs each conditional write atomically and each ``TransactWriteItems`` all-or-nothing, isolated from every
other request (DynamoDB developer guide, "Amazon DynamoDB Transactions: How it works", "Isolation levels for
DynamoDB transactions"). moto's server runs requests on concurrent threads without either guarantee:

- two conditional writes of one item may both pass their condition;
- ``TransactWriteItems`` backs every table up by deep copy before writing and, when a condition fails, puts the
  copy in the table's place. Under concurrent requests the copy raises ("dictionary changed size during
  iteration") or loses the writes other requests made meanwhile, and the stream readers' shard iterators stay on
  the replaced table's stream, which no longer grows: changes never reach the projection.

Here every DynamoDB and DynamoDB Streams request holds one lock, and a transaction checks all its conditions
before it writes anything. A transaction that fails part-way through its writes (a malformed update expression,
which moto finds only when it applies it) has the items it wrote put back as they were, and their stream
records taken back, as AWS never emits them.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

MAX_TRANSACTION_ITEMS = 100  # TransactWriteItems: "up to 100 action requests"
_WRITES = ("Put", "Delete", "Update")

Reason = tuple[str, str, Any] | tuple[None, None, None]  # moto's (code, message, item) for each action


@contextmanager
def dynamodb_isolation() -> Iterator[None]:
    """Serialize DynamoDB requests and make ``TransactWriteItems`` all-or-nothing until the context ends."""
    lock = threading.RLock()
    with ExitStack() as stack:
        for handler in (DynamoHandler, DynamoDBStreamsHandler):
            stack.enter_context(mock.patch.object(handler, "call_action", _holding(lock, handler.call_action)))
        stack.enter_context(mock.patch.object(DynamoDBBackend, "transact_write_items", _all_or_nothing))
        yield


def _holding(lock: threading.RLock, call_action: Callable[..., Any]) -> Callable[..., Any]:
    def call_action_alone(handler: Any) -> Any:
        with lock:
            return call_action(handler)

    return call_action_alone


def _all_or_nothing(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``transact_write_items`` (its checks and error reasons) without its table backup; the caller holds
    the lock, so nothing changes between the conditions' checks and the writes."""
    if len(transact_items) > MAX_TRANSACTION_ITEMS:
        raise TooManyTransactionsException()
    actions = [_action(item) for item in transact_items]
    keys = [_key(backend, op_type, op) for op_type, op in actions]
    if len({(op["TableName"], repr(sorted(key.items()))) for (_, op), key in zip(actions, keys, strict=True)}) < len(
        keys
    ):
        raise MultipleTransactionsException()
    reasons = [_refusal(backend, op, key) for (_, op), key in zip(actions, keys, strict=True)]
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    written: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []  # table, key, the item before
    streams = {name: len(table.stream_shard.items) for name, table in backend.tables.items() if table.stream_shard}
    try:
        for (op_type, op), key in zip(actions, keys, strict=True):
            if op_type in _WRITES:
                before = backend.get_item(op["TableName"], key)
                written.append(
                    (op["TableName"], key, copy.deepcopy(before.to_json()["Attributes"]) if before else None)
                )
                _write(backend, op_type, op, key)
    except Exception:
        _put_back(backend, written, streams)
        raise


def _action(item: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if len(item) != 1:
        raise TransactWriteSingleOpException
    op_type, op = next(iter(item.items()))
    if op_type not in {"ConditionCheck", *_WRITES}:
        raise ValueError("Unsupported transaction operation")
    return op_type, op


def _key(backend: DynamoDBBackend, op_type: str, op: Mapping[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key_attributes = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    return {attribute: op["Item"][attribute] for attribute in key_attributes}


def _refusal(backend: DynamoDBBackend, op: Mapping[str, Any], key: dict[str, Any]) -> Reason:
    condition = op.get("ConditionExpression")
    if condition is None:
        return None, None, None
    current = backend.get_item(op["TableName"], key)
    expression = get_filter_expression(
        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if expression.expr(current):
        return None, None, None
    seen = (
        current.to_json()["Attributes"]
        if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
        else None
    )
    return "ConditionalCheckFailed", ConditionalCheckFailed(item=seen).message, seen


def _write(backend: DynamoDBBackend, op_type: str, op: Mapping[str, Any], key: dict[str, Any]) -> None:
    table_name = op["TableName"]
    if op_type == "Put":
        backend.put_item(table_name, op["Item"])
    elif op_type == "Delete":
        backend.delete_item(table_name, key)
    else:
        backend.update_item(
            table_name,
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=op.get("ExpressionAttributeNames") or {},
            expression_attribute_values=op.get("ExpressionAttributeValues") or {},
        )


def _put_back(
    backend: DynamoDBBackend, written: list[tuple[str, dict[str, Any], dict[str, Any] | None]], streams: dict[str, int]
) -> None:
    for table_name, key, before in reversed(written):
        if before is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, before)
    for table_name, length in streams.items():
        del backend.tables[table_name].stream_shard.items[length:]  # type: ignore[union-attr]
