"""Resource properties moto's CloudFormation accepts but does not apply, applied through the services' APIs.

After the stack is created, each deployed resource is given what its template asks for and moto left out,
so that it describes itself as on AWS: a table's TTL and point-in-time recovery (the replay tool copies the
live table's TTL to a rebuild target), a Kinesis stream's encryption and capacity mode, and a function's layers
(the local runtime runs each function with the layers its configuration lists).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from local_runtime.emulator.aws_clients import Endpoint
from local_runtime.emulator.deployer import DeployedStack

log = logging.getLogger(__name__)

Apply = Callable[[Endpoint, str, Any], None]  # endpoint, physical id, the property's value


def _time_to_live(endpoint: Endpoint, table: str, specification: dict[str, Any]) -> None:
    endpoint.client("dynamodb").update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"AttributeName": specification["AttributeName"], "Enabled": specification["Enabled"]},
    )


def _point_in_time_recovery(endpoint: Endpoint, table: str, specification: dict[str, Any]) -> None:
    enabled = specification.get("PointInTimeRecoveryEnabled", False)
    endpoint.client("dynamodb").update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": enabled}
    )


def _stream_encryption(endpoint: Endpoint, stream: str, encryption: dict[str, Any]) -> None:
    endpoint.client("kinesis").start_stream_encryption(
        StreamName=stream, EncryptionType=encryption["EncryptionType"], KeyId=encryption["KeyId"]
    )


def _stream_mode(endpoint: Endpoint, stream: str, mode: dict[str, Any]) -> None:
    kinesis = endpoint.client("kinesis")
    stream_arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    kinesis.update_stream_mode(StreamARN=stream_arn, StreamModeDetails={"StreamMode": mode["StreamMode"]})


IGNORED: dict[tuple[str, str], Apply] = {
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification"): _time_to_live,
    ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification"): _point_in_time_recovery,
    ("AWS::Kinesis::Stream", "StreamEncryption"): _stream_encryption,
    ("AWS::Kinesis::Stream", "StreamModeDetails"): _stream_mode,
}


def _function_layers(endpoint: Endpoint, stack: DeployedStack, function: str, layers: list[Any]) -> None:
    """A function's `Layers`: layer version ARNs, or a `Ref` to a layer version of the stack."""
    lambda_client = endpoint.lambda_client()
    arns = []
    for layer in layers:
        if isinstance(layer, dict) and set(layer) == {"Ref"}:
            # moto's stack resource of a layer version has no physical id: its layer is named as CloudFormation
            # names a resource without a name, "<stack>-<logical id>-<suffix>"
            prefix = f"{stack.name}-{layer['Ref']}-"
            [found] = [
                found for found in lambda_client.list_layers()["Layers"] if found["LayerName"].startswith(prefix)
            ]
            arns.append(found["LatestMatchingVersion"]["LayerVersionArn"])
        elif isinstance(layer, str):
            arns.append(layer)
        else:
            raise ValueError(f"a layer of {function} the local runtime cannot resolve: {layer}")
    lambda_client.update_function_configuration(FunctionName=function, Layers=arns)


def apply_ignored_properties(stack: DeployedStack, endpoint: Endpoint) -> None:
    """Apply each property of ``IGNORED`` the stack's template sets; one naming another resource is left out. Set
    each function's layers."""
    for logical_id, resource in stack.template["Resources"].items():
        physical_id = stack.physical_ids.get(logical_id)
        if resource["Type"] == "AWS::Lambda::Function" and physical_id and "Layers" in resource["Properties"]:
            _function_layers(endpoint, stack, physical_id, resource["Properties"]["Layers"])
        for name, value in (resource.get("Properties") or {}).items():
            apply = IGNORED.get((resource["Type"], name))
            if apply is None or not physical_id:
                continue
            if _has_intrinsic(value):
                log.info("not applied (it names another resource): %s of %s", name, logical_id)
                continue
            apply(endpoint, physical_id, value)


def _has_intrinsic(value: Any) -> bool:
    if isinstance(value, dict):
        return any(key == "Ref" or key.startswith("Fn::") or _has_intrinsic(v) for key, v in value.items())
    return isinstance(value, list) and any(_has_intrinsic(item) for item in value)
