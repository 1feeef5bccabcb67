"""The projection's dead-letter queue (SQS): where a record that can never be projected goes, whole."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from services.trip.adapters.search_documents import TransientStoreError

POISON_RECORD = "poison-record"


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
                MessageBody=json.dumps(message.body(), default=str),
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": POISON_RECORD},
                    "source": {"DataType": "String", "StringValue": message.source},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise TransientStoreError(f"could not send to the DLQ: {error}") from error
        return str(response["MessageId"])
