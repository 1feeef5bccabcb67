"""The two kinds of message in the projection's DLQ, read into one model (docs/CONTRACT.md, "DLQ messages").

- poison record: sent by a consumer, carries the whole record and why it could not be decoded or projected;
- batch pointer: sent by the event source mapping's on-failure destination when retries ran out; it carries only
  the shard and the sequence range of the failed batch, the records stay in the stream (while retained).
A redrive that fails again replaces the message by one annotated with `redrive` (attempts, last reason).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

POISON_RECORD = "poison-record"
BATCH_POINTER = "batch-pointer"
UNREADABLE = "unreadable"
_BATCH_INFO = {"KinesisBatchInfo": "kinesis", "DDBStreamBatchInfo": "dynamodb-streams"}


class Kind(StrEnum):
    POISON_RECORD = POISON_RECORD
    BATCH_POINTER = BATCH_POINTER
    UNREADABLE = UNREADABLE  # neither shape: shown, never redriven, never deleted


@dataclass(frozen=True)
class DlqMessage:
    message_id: str
    receipt_handle: str
    sent_at: datetime  # when the failure was first parked (a message a redrive put back: the first one's)
    receive_count: int
    body: dict[str, Any] | str  # the parsed body, or the raw text when it is not a JSON object
    kind: Kind
    source: str  # "kinesis", "dynamodb-streams" or "unknown"
    stream_arn: str | None
    shard_id: str | None
    first_sequence: str | None
    last_sequence: str | None
    reason: str
    first_arrival: datetime | None = None  # batch pointers: when the batch's records arrived in the stream
    last_arrival: datetime | None = None

    def age(self, now: datetime) -> str:
        seconds = int((now - self.sent_at).total_seconds())
        days, rest = divmod(seconds, 86_400)
        return f"{days}d{rest // 3600}h" if days else f"{rest // 3600}h{rest % 3600 // 60:02d}m"

    @property
    def redrive_attempts(self) -> int:
        return int(self.body.get("redrive", {}).get("attempts", 0)) if isinstance(self.body, dict) else 0


def parse_message(message: dict[str, Any]) -> DlqMessage:
    """An SQS message (ReceiveMessage shape, with its attributes) as a `DlqMessage`."""
    attributes = message.get("Attributes", {})
    common = {
        "message_id": message["MessageId"],
        "receipt_handle": message["ReceiptHandle"],
        "sent_at": datetime.fromtimestamp(int(attributes.get("SentTimestamp", 0)) / 1000, tz=UTC),
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
    }
    try:
        body = json.loads(message["Body"])
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _unreadable(common, message["Body"], "the message body is not a JSON object")
    redrive: dict[str, Any] = body["redrive"] if isinstance(body.get("redrive"), dict) else {}
    # A message put back by a failed redrive is a new SQS message: its failure is as old as the first one's
    common["sent_at"] = _time(redrive.get("firstSentAt")) or common["sent_at"]
    redrive_reason = redrive.get("lastReason")
    if body.get("kind") == POISON_RECORD:
        return DlqMessage(
            **common,
            body=body,
            kind=Kind.POISON_RECORD,
            source=str(body.get("source", "unknown")),
            stream_arn=body.get("eventSourceARN"),
            shard_id=body.get("shardId") or _shard_of(body.get("record")),
            first_sequence=body.get("sequenceNumber"),
            last_sequence=body.get("sequenceNumber"),
            reason=redrive_reason or str(body.get("reason", "")),
        )
    for key, source in _BATCH_INFO.items():
        if isinstance(body.get(key), dict):
            return _pointer(common, body, body[key], source, redrive_reason)
    return _unreadable(common, body, "neither a poison record nor an on-failure batch pointer")


def _pointer(
    common: dict[str, Any], body: dict[str, Any], info: dict[str, Any], source: str, redrive: str | None
) -> DlqMessage:
    context, response = body.get("requestContext", {}), body.get("responseContext", {})
    condition = str(context.get("condition", "unknown condition"))
    error = response.get("functionError")
    return DlqMessage(
        **common,
        body=body,
        kind=Kind.BATCH_POINTER,
        source=source,
        stream_arn=info.get("streamArn"),
        shard_id=info.get("shardId"),
        first_sequence=info.get("startSequenceNumber"),
        last_sequence=info.get("endSequenceNumber"),
        reason=redrive or (f"{condition} ({error})" if error else condition),
        first_arrival=_time(info.get("approximateArrivalOfFirstRecord")),
        last_arrival=_time(info.get("approximateArrivalOfLastRecord")),
    )


def _unreadable(common: dict[str, Any], body: dict[str, Any] | str, reason: str) -> DlqMessage:
    return DlqMessage(
        **common, body=body, kind=Kind.UNREADABLE, source="unknown", stream_arn=None, shard_id=None,
        first_sequence=None, last_sequence=None, reason=reason,
    )  # fmt: skip


def _shard_of(record: Any) -> str | None:
    """The shard a Lambda event record names: a Kinesis record's `eventID` is `<shard id>:<sequence number>`. A
    DynamoDB Streams record names none (its `eventID` is a random id)."""
    event_id = record.get("eventID") if isinstance(record, dict) else None
    if isinstance(event_id, str) and event_id.startswith("shardId-") and ":" in event_id:
        return event_id.partition(":")[0]
    return None


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def annotated_body(message: DlqMessage, reason: str, attempted_at: datetime) -> dict[str, Any]:
    """The body of the replacement for a message whose redrive failed: the same body, with the new reason."""
    assert isinstance(message.body, dict)  # unreadable messages are never redriven
    return {
        **message.body,
        "redrive": {
            "firstSentAt": message.sent_at.isoformat(),
            "attempts": message.redrive_attempts + 1,
            "lastReason": reason,
            "lastAttemptAt": attempted_at.isoformat(),
        },
    }
