"""The temporary copy of the Kinesis consumer that a `--via-mapping` rebuild feeds, and how it is removed.

A mapping feeds a function, and the live consumer writes the live table: the rebuild runs a copy of it (same code
from the stack's template, handler, runtime, role, layers, logging) whose `SEARCH_TABLE_NAME` is the target. The
copy reuses the consumer's role, which on AWS may write only the live table: the run adds an inline policy to that
role that allows the target table (and its indexes) only, and removes it with the copy.

The window's old poison records and any failed batch of the copy go to a queue of the run (`DLQ_URL` of the copy,
the on-failure destination of its mapping), never to the live DLQ, whose alarm means "the live pipeline lost
something". The policy lets the role send to that queue too. The queue outlives the copy only until the run has
read it, unless the operator keeps it (tagged kept; an interrupted run's queue is removed by the next run).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from replay.errors import ReplayError, aws_errors, error_code
from replay.stack import Connection, StackResources

REBUILD_BATCH_SIZE = 1000  # whole trips coalesce within a batch: fewer writes than the live consumer's 100
PARALLELIZATION_FACTOR = 10  # AWS's maximum: ten concurrent batches per shard, in order per partition key
# The live mappings retry until their records are 12 h old and set no count (infra/projection.py); a rebuild reads
# older history and has no age limit, so a count bounds its retries: a batch still failing goes to the run's queue.
REBUILD_RETRY_ATTEMPTS = 10
TARGET_TABLE_ACTIONS = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
_COPIED_SETTINGS = (
    "MaximumBatchingWindowInSeconds",
    "BisectBatchOnFunctionError",
    "FunctionResponseTypes",
)
_DELETED_WITHIN_S = 300
TARGET_TAG = "trip-replay:target-table"
KEPT_TAG = "trip-replay:kept"
_RUN_QUEUE_ATTRIBUTES = {"SqsManagedSseEnabled": "true", "MessageRetentionPeriod": str(14 * 24 * 3600)}


@dataclass(frozen=True)
class ConsumerCopy:
    """Everything the run will create, named and configured before anything is created."""

    live_function: str
    function_name: str
    role_name: str
    policy_name: str
    function: dict[str, Any]  # CreateFunction's arguments
    mapping: dict[str, Any]  # CreateEventSourceMapping's arguments
    policy: dict[str, Any]
    queue_name: str  # the run's queue: the copy's poison records and its mapping's failed batches
    leftovers: list[str] = field(default_factory=list)  # found from an interrupted run: removed first
    leftover_queues: list[str] = field(default_factory=list)  # their URLs


def temporary_name(target_table: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"trip-replay-{target_table}")[:64]


def plan_copy(
    connection: Connection,
    resources: StackResources,
    stream_arn: str,
    target_table_arn: str,
    start: datetime | None,
    started_at: datetime,
) -> ConsumerCopy:
    aws_lambda = connection.client("lambda")
    live_mapping, logical_id = _live_mapping(connection, aws_lambda, resources.stack_name, stream_arn)
    with aws_errors("reading the Kinesis consumer's configuration"):
        consumer = aws_lambda.get_function_configuration(FunctionName=live_mapping["FunctionArn"])
    target_table = target_table_arn.rsplit("/", 1)[-1]
    name = temporary_name(target_table)
    # The copy writes the target alone: not the tables the live consumers' parameter names (services.trip.search_tables)
    variables = {
        **{
            name: value
            for name, value in consumer.get("Environment", {}).get("Variables", {}).items()
            if not name.startswith("SEARCH_TABLES_")
        },
        "SEARCH_TABLE_NAME": target_table,
    }
    function: dict[str, Any] = {
        "FunctionName": name,
        "Description": f"Temporary copy of {consumer['FunctionName']} rebuilding {target_table} (python -m replay)",
        "Runtime": consumer["Runtime"],
        "Role": consumer["Role"],
        "Handler": consumer["Handler"],
        "Code": _code_location(connection, resources.stack_name, logical_id, consumer["FunctionArn"]),
        "Timeout": consumer["Timeout"],
        "MemorySize": consumer["MemorySize"],
        "Architectures": consumer.get("Architectures", ["x86_64"]),
        "Layers": [layer["Arn"] for layer in consumer.get("Layers", [])],
        "Environment": {"Variables": variables},
        "Tags": {TARGET_TAG: target_table},
    }
    if "LoggingConfig" in consumer:  # the role may write only the consumer's own log group
        function["LoggingConfig"] = consumer["LoggingConfig"]
    mapping: dict[str, Any] = {
        "EventSourceArn": stream_arn,
        "FunctionName": name,
        "Enabled": True,
        "BatchSize": REBUILD_BATCH_SIZE,
        "ParallelizationFactor": PARALLELIZATION_FACTOR,
        "MaximumRecordAgeInSeconds": -1,  # the live mapping's age limit would skip the old history we came for
        "MaximumRetryAttempts": REBUILD_RETRY_ATTEMPTS,
        **{key: live_mapping[key] for key in _COPIED_SETTINGS if key in live_mapping},
    }  # its on-failure destination becomes the run's queue when the queue exists (create_copy)
    if start is None:
        mapping["StartingPosition"] = "TRIM_HORIZON"
    else:
        mapping |= {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": start}
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RebuildTargetTable",
                "Effect": "Allow",
                "Action": TARGET_TABLE_ACTIONS,
                "Resource": [target_table_arn, f"{target_table_arn}/index/*"],
            }
        ],
    }
    leftover_queues = _leftover_queues(connection.client("sqs"), name, target_table)
    return ConsumerCopy(
        live_function=consumer["FunctionName"],
        function_name=name,
        role_name=consumer["Role"].rsplit("/", 1)[-1],
        policy_name=name,
        function=function,
        mapping=mapping,
        policy=policy,
        queue_name=f"{name}-{started_at:%Y%m%dT%H%M%S}",  # at most 80: SQS's limit; unique per run
        leftovers=_leftovers(aws_lambda, name) + [f"queue {url.rsplit('/', 1)[-1]}" for url in leftover_queues],
        leftover_queues=leftover_queues,
    )


def create_run_queue(connection: Connection, copy: ConsumerCopy) -> str:
    """The run's queue (encrypted like the live DLQ, 14 days), tagged with its target; returns its URL."""
    target = copy.function["Environment"]["Variables"]["SEARCH_TABLE_NAME"]
    with aws_errors(f"creating queue {copy.queue_name}"):
        return str(
            connection.client("sqs").create_queue(
                QueueName=copy.queue_name, Attributes=_RUN_QUEUE_ATTRIBUTES, tags={TARGET_TAG: target}
            )["QueueUrl"]
        )


def create_copy(connection: Connection, copy: ConsumerCopy, queue_url: str) -> str:
    """Grant the role the target and the run's queue, create the function and its mapping, both sending what they
    cannot project to the run's queue; returns the mapping's UUID."""
    aws_lambda, iam = connection.client("lambda"), connection.client("iam")
    with aws_errors(f"reading the attributes of queue {copy.queue_name}"):
        queue_arn = connection.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    policy = {
        **copy.policy,
        "Statement": [
            *copy.policy["Statement"],
            {"Sid": "RunQueue", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [queue_arn]},
        ],
    }
    variables = {**copy.function["Environment"]["Variables"], "DLQ_URL": queue_url}
    function = {**copy.function, "Environment": {"Variables": variables}}
    mapping = {**copy.mapping, "DestinationConfig": {"OnFailure": {"Destination": queue_arn}}}
    with aws_errors(f"adding inline policy {copy.policy_name} to role {copy.role_name}"):
        iam.put_role_policy(RoleName=copy.role_name, PolicyName=copy.policy_name, PolicyDocument=json.dumps(policy))
    with aws_errors(f"creating function {copy.function_name}"):
        aws_lambda.create_function(**function)
        aws_lambda.get_waiter("function_active_v2").wait(FunctionName=copy.function_name)
    with aws_errors(f"creating the event source mapping of {copy.function_name}"):
        uuid = str(aws_lambda.create_event_source_mapping(**mapping)["UUID"])
        while aws_lambda.get_event_source_mapping(UUID=uuid)["State"] != "Enabled":
            time.sleep(1)
    return uuid


def remove_copy(connection: Connection, copy: ConsumerCopy) -> list[str]:
    """Delete the copy's mappings, the copy, and the inline policy; what existed. Safe to call more than once."""
    aws_lambda, iam = connection.client("lambda"), connection.client("iam")
    removed: list[str] = []
    with aws_errors(f"deleting the event source mappings of {copy.function_name}"):
        for uuid in _mappings_of(aws_lambda, copy.function_name):
            aws_lambda.delete_event_source_mapping(UUID=uuid)
            _wait_until_deleted(aws_lambda, uuid)
            removed.append(f"event source mapping {uuid}")
    with aws_errors(f"deleting function {copy.function_name}"):
        if _found(lambda: aws_lambda.delete_function(FunctionName=copy.function_name)):
            removed.append(f"function {copy.function_name}")
    with aws_errors(f"removing inline policy {copy.policy_name} from role {copy.role_name}"):
        if _found(lambda: iam.delete_role_policy(RoleName=copy.role_name, PolicyName=copy.policy_name)):
            removed.append(f"inline policy {copy.policy_name} of role {copy.role_name}")
    return removed


def remove_queues(connection: Connection, queue_urls: list[str]) -> list[str]:
    """Delete these run queues; what existed."""
    sqs, removed = connection.client("sqs"), []
    for url in queue_urls:
        with aws_errors(f"deleting queue {url}"):
            if _found(partial(sqs.delete_queue, QueueUrl=url)):
                removed.append(f"queue {url.rsplit('/', 1)[-1]}")
    return removed


def keep_queue(connection: Connection, queue_url: str) -> None:
    """Mark the run's queue as kept on purpose: the next run for the target leaves it alone."""
    with aws_errors(f"tagging queue {queue_url}"):
        connection.client("sqs").tag_queue(QueueUrl=queue_url, Tags={KEPT_TAG: "true"})


def _live_mapping(connection: Connection, aws_lambda: Any, stack_name: str, stream_arn: str) -> tuple[dict, str]:
    """The stack's own mapping on the change stream, and the logical id of the function it feeds."""
    cloudformation = connection.client("cloudformation")
    with aws_errors(f"finding the Kinesis consumer of stack {stack_name}"):
        functions = {
            resource["PhysicalResourceId"]: resource["LogicalResourceId"]
            for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
            for resource in page["StackResourceSummaries"]
            if resource["ResourceType"] == "AWS::Lambda::Function" and "PhysicalResourceId" in resource
        }
        for page in aws_lambda.get_paginator("list_event_source_mappings").paginate(EventSourceArn=stream_arn):
            for mapping in page["EventSourceMappings"]:
                function_name = mapping["FunctionArn"].split(":")[6]
                if function_name in functions:
                    return mapping, functions[function_name]
    raise ReplayError(f"stack {stack_name} has no function mapped to {stream_arn}: is its Kinesis pipeline on?")


def _code_location(connection: Connection, stack_name: str, logical_id: str, function_arn: str) -> dict[str, str]:
    """The consumer's code package as the stack deployed it (the CDK assets bucket and key)."""
    with aws_errors(f"reading the template of stack {stack_name}"):
        body = connection.client("cloudformation").get_template(StackName=stack_name)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    code = template["Resources"][logical_id]["Properties"].get("Code", {})
    if "S3Key" not in code:
        raise ReplayError(f"function {logical_id} of stack {stack_name} has no S3 code package to copy")
    partition, region, account = function_arn.split(":")[1], function_arn.split(":")[3], function_arn.split(":")[4]
    bucket = code["S3Bucket"]
    if isinstance(bucket, dict):  # {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
        bucket = (
            bucket["Fn::Sub"]
            .replace("${AWS::AccountId}", account)
            .replace("${AWS::Region}", region)
            .replace("${AWS::Partition}", partition)
        )
    return {"S3Bucket": bucket, "S3Key": code["S3Key"]}


def _leftovers(aws_lambda: Any, name: str) -> list[str]:
    if not _found(lambda: aws_lambda.get_function(FunctionName=name)):
        return []
    return [f"function {name}", *(f"event source mapping {uuid}" for uuid in _mappings_of(aws_lambda, name))]


def _leftover_queues(sqs: Any, name: str, target_table: str) -> list[str]:
    """Queues of earlier runs for this target that no one asked to keep: left by an interrupted run."""
    with aws_errors(f"listing the queues of earlier runs ({name}-...)"):
        urls = sqs.list_queues(QueueNamePrefix=f"{name}-").get("QueueUrls", [])
        tagged = {url: sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) for url in urls}
    return [url for url, tags in tagged.items() if tags.get(TARGET_TAG) == target_table and KEPT_TAG not in tags]


def _mappings_of(aws_lambda: Any, function_name: str) -> list[str]:
    try:
        response = aws_lambda.list_event_source_mappings(FunctionName=function_name)
    except ClientError as error:
        if error_code(error) not in _NOT_FOUND:
            raise
        return []
    return [mapping["UUID"] for mapping in response["EventSourceMappings"]]


def _wait_until_deleted(aws_lambda: Any, uuid: str) -> None:
    deadline = time.monotonic() + _DELETED_WITHIN_S
    while time.monotonic() < deadline:
        if not _found(lambda: aws_lambda.get_event_source_mapping(UUID=uuid)):
            return
        time.sleep(1)
    raise ReplayError(f"event source mapping {uuid} was still being deleted after {_DELETED_WITHIN_S} s")


_NOT_FOUND = frozenset(
    {"ResourceNotFoundException", "NoSuchEntity", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
)


def _found(call: Callable[[], object]) -> bool:
    """Whether the call found what it names (a not-found error is an answer; any other error propagates)."""
    try:
        call()
    except ClientError as error:
        if error_code(error) not in _NOT_FOUND:
            raise
        return False
    return True
