"""The projection's dead-letter queue (SQS): where a record that can never be projected goes, whole."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from services.trip.adapters.search_documents import TransientStoreError

POISON_RECORD = "poison-record"
# SQS's message size limit before August 2025 (262,144 bytes; 1 MiB since, for queues that allow it: Amazon SQS
# developer guide, "Amazon SQS message quotas"): the bound that holds whatever the queue's MaximumMessageSize.
# The body keeps 8 KiB of it for the attributes and a redrive's annotation.
SQS_MESSAGE_LIMIT = 262_144
BODY_LIMIT = SQS_MESSAGE_LIMIT - 8_192


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str, ensure_ascii=False).encode())


def fitted_body(body: dict[str, Any], limit: int = BODY_LIMIT) -> dict[str, Any]:
    """The body, whole when it fits `limit` bytes (UTF-8), else with the record's largest parts left out, each
    named in `truncated.omitted` ("record.dynamodb.NewImage.hotel_name"), largest first, until it fits."""
    original = _size(body)
    if original <= limit:
        return body
    fitted = json.loads(json.dumps(body, default=str))
    omitted: list[str] = []
    fitted["truncated"] = {"omitted": omitted, "original_bytes": original}
    while _size(fitted) > limit and isinstance(fitted.get("record"), dict) and fitted["record"]:
        path, node = ["record"], fitted["record"]
        while True:  # down the largest part, three levels at most
            name = max(node, key=lambda key: _size(node[key]))
            if not isinstance(node[name], dict) or not node[name] or len(path) == 3:
                break
            path, node = [*path, name], node[name]
        del node[name]
        omitted.append(".".join([*path, name]))
    if _size(fitted) > limit:
        fitted.pop("record", None)
        omitted.append("record")
    return fitted


@dataclass(frozen=True)
class PoisonMessage:
    """A record the projector gave up on, with why and where it came from (docs/CONTRACT.md)."""

    source: str
    reason: str
    event_source_arn: str | None
    shard_id: str | None
    sequence_number: str | None
    function_name: str | None
    detected_at: str
    record: Any

    def body(self) -> dict[str, Any]:
        # AWS's own field names, so the message reads like the event the record came in.
        return {
            "kind": POISON_RECORD,
            "source": self.source,
            "reason": self.reason,
            "eventSourceARN": self.event_source_arn,
            "shardId": self.shard_id,
            "sequenceNumber": self.sequence_number,
            "functionName": self.function_name,
            "detectedAt": self.detected_at,
            "record": self.record,
        }


class DeadLetters:
    def __init__(self, queue_url: str, sqs: Any | None = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs or boto3.client("sqs")

    def send(self, message: PoisonMessage) -> str:
        """Send one message; returns its id. Failing to park a record is transient: the batch retries it."""
        try:
            response = self._sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=json.dumps(fitted_body(message.body()), default=str, ensure_ascii=False),
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": POISON_RECORD},
                    "source": {"DataType": "String", "StringValue": message.source},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise TransientStoreError(f"could not send to the DLQ: {error}") from error
        return str(response["MessageId"])
