"""The temporary copy of the Kinesis consumer that a `--via-mapping` rebuild feeds, and how it is removed.

A mapping feeds a function, and the live consumer writes the live table: the rebuild runs a copy of it (same code
from the stack's template, handler, runtime, role, layers, logging) whose `SEARCH_TABLE_NAME` is the target. The
copy reuses the consumer's role, which on AWS may write only the live table: the run adds an inline policy to that
role that allows the target table (and its indexes) only, and removes it with the copy.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from replay.errors import ReplayError, aws_errors, error_code
from replay.stack import Connection, StackResources

REBUILD_BATCH_SIZE = 1000  # whole trips coalesce within a batch: fewer writes than the live consumer's 100
PARALLELIZATION_FACTOR = 10  # AWS's maximum: ten concurrent batches per shard, in order per partition key
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
    "MaximumRetryAttempts",
    "FunctionResponseTypes",
    "DestinationConfig",
)
_DELETED_WITHIN_S = 300


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
    leftovers: list[str] = field(default_factory=list)  # found from an interrupted run: removed first


def temporary_name(target_table: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"trip-replay-{target_table}")[:64]


def plan_copy(
    connection: Connection, resources: StackResources, stream_arn: str, target_table_arn: str, start: datetime | None
) -> ConsumerCopy:
    aws_lambda = connection.client("lambda")
    live_mapping, logical_id = _live_mapping(connection, aws_lambda, resources.stack_name, stream_arn)
    with aws_errors("reading the Kinesis consumer's configuration"):
        consumer = aws_lambda.get_function_configuration(FunctionName=live_mapping["FunctionArn"])
    target_table = target_table_arn.rsplit("/", 1)[-1]
    name = temporary_name(target_table)
    variables = {**consumer.get("Environment", {}).get("Variables", {}), "SEARCH_TABLE_NAME": target_table}
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
        "Tags": {"trip-replay:target-table": target_table},
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
        **{key: live_mapping[key] for key in _COPIED_SETTINGS if key in live_mapping},
    }
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
    return ConsumerCopy(
        live_function=consumer["FunctionName"],
        function_name=name,
        role_name=consumer["Role"].rsplit("/", 1)[-1],
        policy_name=name,
        function=function,
        mapping=mapping,
        policy=policy,
        leftovers=_leftovers(aws_lambda, name),
    )


def create_copy(connection: Connection, copy: ConsumerCopy) -> str:
    """Grant the role the target, create the function and its mapping; returns the mapping's UUID."""
    aws_lambda, iam = connection.client("lambda"), connection.client("iam")
    with aws_errors(f"adding inline policy {copy.policy_name} to role {copy.role_name}"):
        iam.put_role_policy(
            RoleName=copy.role_name, PolicyName=copy.policy_name, PolicyDocument=json.dumps(copy.policy)
        )
    with aws_errors(f"creating function {copy.function_name}"):
        aws_lambda.create_function(**copy.function)
        aws_lambda.get_waiter("function_active_v2").wait(FunctionName=copy.function_name)
    with aws_errors(f"creating the event source mapping of {copy.function_name}"):
        uuid = str(aws_lambda.create_event_source_mapping(**copy.mapping)["UUID"])
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


_NOT_FOUND = frozenset({"ResourceNotFoundException", "NoSuchEntity"})


def _found(call: Callable[[], object]) -> bool:
    """Whether the call found what it names (a not-found error is an answer; any other error propagates)."""
    try:
        call()
    except ClientError as error:
        if error_code(error) not in _NOT_FOUND:
            raise
        return False
    return True
