"""A test function whose behaviour each record chooses, deployed into the local runtime by the tests.

Stream records carry JSON (Kinesis ``data``, or a DynamoDB item's ``behaviour`` attribute):
``{"fail_times": n}`` is reported in ``batchItemFailures`` the first n times it is delivered, and
``{"raise": true}`` fails the whole invocation, ``{"put_into": TABLE}`` writes an item keyed by the record's
sequence number into that DynamoDB table. Every invocation is recorded in the SQS queue named by
``RECORDING_QUEUE_URL``: the sequence numbers it received, in order. Direct invocations with an ``action``
exercise the sandbox: ``context`` describes the context and environment, ``sleep`` outlives the timeout,
``raise`` fails. ``INIT_SLEEP_S`` in the environment makes the import (the Init phase) take that long.
"""

import base64
import collections
import json
import os
import time

import boto3

time.sleep(float(os.environ.get("INIT_SLEEP_S", "0")))
sqs = boto3.client("sqs")
dynamodb = boto3.client("dynamodb")
deliveries = collections.Counter()  # per sandbox, like any module-level state in Lambda


def behaviour(record):
    if "kinesis" in record:
        return json.loads(base64.b64decode(record["kinesis"]["data"]))
    return json.loads(record["dynamodb"]["NewImage"]["behaviour"]["S"])


def sequence_number(record):
    return record["kinesis"]["sequenceNumber"] if "kinesis" in record else record["dynamodb"]["SequenceNumber"]


def handle_batch(event):
    numbers = [sequence_number(record) for record in event["Records"]]
    sqs.send_message(QueueUrl=os.environ["RECORDING_QUEUE_URL"], MessageBody=json.dumps(numbers))
    failures = []
    for record in event["Records"]:
        wanted = behaviour(record)
        deliveries[sequence_number(record)] += 1
        if wanted.get("put_into"):
            item = {"id": {"S": sequence_number(record)}}
            dynamodb.put_item(TableName=wanted["put_into"], Item=item)
        if wanted.get("raise"):
            raise RuntimeError(f"record {sequence_number(record)} asked to fail the batch")
        if deliveries[sequence_number(record)] <= wanted.get("fail_times", 0):
            failures.append({"itemIdentifier": sequence_number(record)})
    return {"batchItemFailures": failures}


def lambda_handler(event, context):
    action = event.get("action")
    if action == "context":
        return {
            "function_name": context.function_name,
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "greeting": os.environ["GREETING"],
            "endpoint": os.environ["AWS_ENDPOINT_URL"],
        }
    if action == "sleep":
        time.sleep(event["seconds"])
        return {"slept": event["seconds"]}
    if action == "raise":
        raise ValueError("asked to fail")
    return handle_batch(event)
