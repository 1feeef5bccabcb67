"""The product's dead-letter queues: SSE-encrypted (SQS-managed keys), TLS only, messages kept 14 days (SQS's
maximum retention), each the last stop of what it receives."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge

DLQ_RETENTION = Duration.days(14)


def dead_letter_queue(scope: Construct, construct_id: str, *, receives: str) -> sqs.Queue:
    """A dead-letter queue; `receives` says what is sent to it, the reason it needs no dead-letter queue itself
    (cdk-nag AwsSolutions-SQS3)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is a dead-letter queue: {receives}; a DLQ behind it would only move the same messages once more",
    )
    return queue
