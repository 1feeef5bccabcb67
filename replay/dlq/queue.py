"""The DLQ as the tool handles it: read without consuming, delete only what was handled.

SQS has no "peek": a received message is hidden for its visibility timeout. Every message the tool receives is
made visible again when the tool is done with it, unless it was deleted because its records were projected. A read
never empties the queue. (Receiving increments ApproximateReceiveCount: the DLQ must not itself have a redrive
policy with a low maxReceiveCount, or reading it would move messages on.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from replay.dlq.messages import DlqMessage, parse_message
from replay.errors import ReplayError, aws_errors

# what SQS answers a ChangeMessageVisibility whose receipt handle another receive superseded (or a deleted message)
_LOST_HOLD_CODES = {"ReceiptHandleIsInvalid", "InvalidParameterValue", "MessageNotInflight"}


class LostHold(ReplayError):
    """The message's visibility timeout ended and another reader may have received it: we no longer hold it."""


HEARTBEATS_PER_HOLD = 3  # while a message is worked on, its hold is renewed every third of the hold


def pause(stop: threading.Event, seconds: float) -> bool:
    """The heartbeat's wait between renewals: `seconds`, or until `stop` is set; True when stopped."""
    return stop.wait(seconds)


_EMPTY_RECEIVES_TO_STOP = 2  # long polls that came back empty before we believe the queue is read to its end
RECEIVE_WAIT_SECONDS = 1  # a long poll (> 0) asks every SQS server, a short one only a sample of them


class HeldMessages:
    """The DLQ's messages, received and hidden from other readers until `release`."""

    def __init__(self, sqs: Any, queue_url: str, messages: list[DlqMessage], hold_seconds: int = 300) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.messages = messages
        self.hold_seconds = hold_seconds
        self._handled: set[str] = set()
        self._lost: dict[str, LostHold] = {}  # message id -> the renewal a heartbeat found refused

    @contextmanager
    def working(self, message: DlqMessage) -> Iterator[None]:
        """Hold `message` while the block works on it, however long one of its steps takes: the hold is renewed
        now (raises `LostHold` if it is gone), then every `hold_seconds / HEARTBEATS_PER_HOLD` seconds on a
        background thread until the block ends. A renewal the heartbeat finds refused makes every later `hold`
        (and so `delete` and `replace`) raise `LostHold`; one that fails otherwise is tried again next beat."""
        self.hold(message)
        stop = threading.Event()

        def beat() -> None:
            while not pause(stop, self.hold_seconds / HEARTBEATS_PER_HOLD):
                try:
                    self.hold(message)
                except LostHold:
                    return
                except (ClientError, BotoCoreError):
                    continue  # the hold still runs: the next beat, or the check before a delete, renews it

        heartbeat = threading.Thread(target=beat, name=f"hold-{message.message_id}", daemon=True)
        heartbeat.start()
        try:
            yield
        finally:
            stop.set()
            heartbeat.join()

    def hold(self, message: DlqMessage) -> None:
        """Renew the hold on `message` for `hold_seconds`, the proof that we still hold it: SQS refuses a
        visibility change with a superseded receipt handle, while a delete with one may succeed without deleting.
        Raises `LostHold` when the hold is gone (now, or at a heartbeat's renewal before)."""
        if message.message_id in self._lost:
            raise self._lost[message.message_id]
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=self.hold_seconds
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code.rsplit(".", 1)[-1] in _LOST_HOLD_CODES:
                self._handled.add(message.message_id)  # nothing of ours to release
                self._lost[message.message_id] = LostHold(
                    f"message {message.message_id} is no longer held by this run (its visibility timeout ended and "
                    f"another reader may have received it: {code}); nothing was deleted or replaced"
                )
                raise self._lost[message.message_id] from error
            raise

    def delete(self, message: DlqMessage) -> None:
        self.hold(message)  # right before the delete: a delete with a stale handle would not tell
        with aws_errors(f"deleting message {message.message_id} from {self.queue_url}"):
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message.receipt_handle)
        self._handled.add(message.message_id)

    def replace(self, message: DlqMessage, body: dict[str, Any]) -> str:
        """Send `body` in place of `message`; the original is deleted only once the replacement is in the queue."""
        self.hold(message)  # never add a copy of a message another reader holds
        with aws_errors(f"replacing message {message.message_id} in {self.queue_url}"):
            sent = self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body, default=str))
        self.delete(message)
        return str(sent["MessageId"])

    def release(self) -> None:
        """Make every message we still hold visible again, at once."""
        held = [m for m in self.messages if m.message_id not in self._handled]
        for start in range(0, len(held), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                for i, m in enumerate(held[start : start + 10])
            ]
            with aws_errors(f"making messages of {self.queue_url} visible again"):
                self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)


@contextmanager
def held_messages(sqs: Any, queue_url: str, hold_seconds: int = 300) -> Iterator[HeldMessages]:
    """Receive every message of the queue, hide them while the block runs, then release those not deleted."""
    held = HeldMessages(sqs, queue_url, [], hold_seconds)
    try:
        empty = 0
        while empty < _EMPTY_RECEIVES_TO_STOP:
            with aws_errors(f"reading the DLQ {queue_url}"):
                response = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
                    VisibilityTimeout=hold_seconds,
                    MessageSystemAttributeNames=["All"],
                )
            received = [parse_message(raw) for raw in response.get("Messages", [])]
            held.messages.extend(received)
            empty = 0 if received else empty + 1
        held.messages.sort(key=lambda m: m.sent_at)
        yield held
    finally:
        held.release()
