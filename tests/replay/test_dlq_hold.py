"""A redrive holds what it works on: a heartbeat renews the hold while one long step runs (driven by a clock of the
test's, not the wall clock), and a redrive that lost its hold anyway deletes and replaces nothing: SQS refuses a
visibility change with a superseded receipt handle (moto accepts any handle the message ever had; the fixture makes
it answer as SQS does). Two operators redriving one queue at once leave one copy."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import SQSBackend

from replay.dlq import queue as dlq_queue
from replay.dlq import redrive as redrive_module
from replay.dlq.messages import DlqMessage
from replay.dlq.queue import LostHold, held_messages
from replay.dlq.records import MessageRecords
from replay.stack import Connection
from tests.conftest import REGION
from tests.replay.conftest import History
from tests.replay.dlq_messages import kinesis_pointer, kinesis_poison

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local


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


class ManualClock:
    """The heartbeat's pause, driven by the test instead of the wall clock: `tick()` ends the pause under way."""

    def __init__(self) -> None:
        self.ticks = threading.Semaphore(0)
        self.pauses: list[float] = []  # the seconds each pause was asked to last

    def pause(self, stop: threading.Event, seconds: float) -> bool:
        self.pauses.append(seconds)
        while not stop.is_set():
            if self.ticks.acquire(timeout=0.05):
                return False
        return True

    def tick(self) -> None:
        self.ticks.release()


class Renewals:
    """Counts the hold renewals (ChangeMessageVisibility) a client sends, and lets the test wait for the n-th."""

    def __init__(self, sqs: Any) -> None:
        self.timeouts: list[int] = []
        self.changed = threading.Condition()
        real = sqs.change_message_visibility

        def change_message_visibility(**request: Any) -> Any:
            answer = real(**request)
            with self.changed:
                self.timeouts.append(request["VisibilityTimeout"])
                self.changed.notify_all()
            return answer

        sqs.change_message_visibility = change_message_visibility

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.timeouts) >= count, timeout=60), self.timeouts


def test_the_hold_is_renewed_while_one_long_step_runs(
    dlq_url: str, quick_queue_reads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock()
    monkeypatch.setattr(dlq_queue, "pause", clock.pause)
    sqs: Any = boto3.client("sqs", region_name=REGION)
    sqs.send_message(QueueUrl=dlq_url, MessageBody='{"requestContext": {}}')
    renewals = Renewals(sqs)
    with held_messages(sqs, dlq_url, hold_seconds=300) as held:
        [message] = held.messages
        with held.working(message):  # one step (a slow pointer read) that lasts three thirds of the hold
            renewals.wait_for(1)
            for beat in range(1, 4):
                clock.tick()
                renewals.wait_for(1 + beat)
            unseen = sqs.receive_message(QueueUrl=dlq_url, VisibilityTimeout=0).get("Messages", [])
        after_the_step = list(renewals.timeouts)

    assert (after_the_step, unseen) == ([300, 300, 300, 300], [])
    assert clock.pauses == [100.0, 100.0, 100.0, 100.0]  # the last one ended by the step's end


def _two_operators(dlq_url: str, replay: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """Operator A redrives --all and stalls past its hold in its first message's read; operator B redrives --all
    meanwhile (it receives what A no longer holds), to its end; then A goes on. (A's result, B's result)."""
    sqs: Any = boto3.client("sqs", region_name=REGION)
    read = redrive_module.records_of
    second: list[Any] = []

    def stalled_read(message: DlqMessage, connection: Connection) -> MessageRecords:
        if not second:
            second.append(None)
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=0)
            second[0] = replay("dlq", "redrive", "--all")
        return read(message, connection)

    monkeypatch.setattr(redrive_module, "records_of", stalled_read)
    first = replay("dlq", "redrive", "--all")
    return first, second[0]


def _lost(message_id: str) -> str:
    return (
        f"message {message_id} is no longer held by this run (its visibility timeout ended and another reader may "
        "have received it: ReceiptHandleIsInvalid); nothing was deleted or replaced"
    )


def test_two_operators_redriving_a_poison_record_at_once_leave_one_copy(
    stack: Any, dlq_url: str, replay: Any, sqs_like_handles: None, quick_queue_reads: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    poison = kinesis_poison(dlq_url)

    (code_a, [a]), (code_b, [b]) = _two_operators(dlq_url, replay, monkeypatch)

    still_poison = b["reason"]
    assert still_poison.startswith("1 record(s) still poison, first at ")
    assert (code_b, b["message_id"], b["handled"]) == (1, poison, False)
    assert (code_a, a["message_id"], a["handled"], a["replaced_by"]) == (1, poison, False, None)
    assert a["reason"] == f"{still_poison}; not replaced: {_lost(poison)}"
    _, listed = replay("dlq", "list")
    assert [(m["message_id"], m["redrive_attempts"], m["reason"]) for m in listed] == [
        (b["replaced_by"], 1, still_poison)
    ]


def test_two_operators_redriving_a_projectable_pointer_at_once_report_one_delete(
    history: History, dlq_url: str, search_table: Any, replay: Any, sqs_like_handles: None,
    quick_queue_reads: None, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    pointer = kinesis_pointer(dlq_url, history, "trip-045")

    (code_a, [a]), (code_b, [b]) = _two_operators(dlq_url, replay, monkeypatch)

    assert (code_b, b["handled"], b["reason"], b["tally"]["applied"]) == (0, True, "projected", 3)
    assert (code_a, a["handled"], a["tally"]["stale"]) == (1, False, 3)
    assert a["reason"] == f"projected, but not deleted: {_lost(pointer)}"
    _, listed = replay("dlq", "list")
    assert listed == []
    assert search_table.get_item(Key={"trip_id": "trip-045"})["Item"]["payment_status"] == "COMPLETED"
