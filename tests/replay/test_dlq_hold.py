"""A redrive that outlived its hold: SQS refuses a visibility change with a superseded receipt handle (moto accepts
any handle the message ever had; the fixture makes it answer as SQS does)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import SQSBackend

from replay.dlq.queue import LostHold, held_messages
from tests.conftest import REGION


@pytest.fixture
def sqs_like_handles(monkeypatch: pytest.MonkeyPatch) -> None:
    original = SQSBackend.change_message_visibility

    def change(self: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        queue = self.get_queue(queue_name)
        if not any(m.receipt_handle == receipt_handle for m in queue._messages):
            raise ReceiptHandleIsInvalid()
        original(self, queue_name, receipt_handle, visibility_timeout)

    monkeypatch.setattr(SQSBackend, "change_message_visibility", change)


def test_a_delete_after_the_hold_passed_to_another_reader_is_refused_and_reported(
    dlq_url: str, sqs_like_handles: None, quick_queue_reads: None
) -> None:
    sqs: Any = boto3.client("sqs", region_name=REGION)
    sqs.send_message(QueueUrl=dlq_url, MessageBody='{"requestContext": {}}')
    with held_messages(sqs, dlq_url, hold_seconds=300) as first:
        [message] = first.messages
        # the hold ends (as after 300 s of a slow pointer) and another operator receives the message
        sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0)
        other = sqs.receive_message(QueueUrl=dlq_url, VisibilityTimeout=300)["Messages"]
        with pytest.raises(LostHold):
            first.delete(message)
    assert len(other) == 1
    attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    assert (
        int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 1
    )
