"""The stack's REST API stages, and the local URL of each ``execute-api`` URL of its APIs.

moto's CloudFormation skips the ``AWS::ApiGateway::Stage`` resource: after deployment the stages are created
through the API Gateway API, and the API URLs among the stack's outputs are rewritten to the local endpoint.
"""

from __future__ import annotations

import re

from local_runtime.emulator.aws_clients import Endpoint
from local_runtime.emulator.deployer import DeployedStack

_EXECUTE_API_URL = re.compile(r"https://(?P<api_id>[a-z0-9]+)\.execute-api\.[^/]+/(?P<stage>[^/]+)(?P<rest>/.*)?")


def create_stages(stack: DeployedStack, endpoint: Endpoint) -> dict[str, str]:
    """Create the stack's stages that the emulator skipped; returns REST API id -> stage name."""
    apigateway = endpoint.client("apigateway")
    stages: dict[str, str] = {}
    for resource in stack.template["Resources"].values():
        if resource["Type"] != "AWS::ApiGateway::Stage":
            continue
        properties = resource["Properties"]
        api_id = stack.physical_ids[properties["RestApiId"]["Ref"]]
        existing = {stage["stageName"] for stage in apigateway.get_stages(restApiId=api_id)["item"]}
        if properties["StageName"] not in existing:
            apigateway.create_stage(
                restApiId=api_id,
                stageName=properties["StageName"],
                deploymentId=stack.physical_ids[properties["DeploymentId"]["Ref"]],
            )
        stages[api_id] = properties["StageName"]
    return stages


def local_api_url(url: str, stages: dict[str, str], endpoint_url: str) -> str | None:
    """The local URL of an ``execute-api`` URL of one of our APIs (moto names the skipped stage ``None``)."""
    match = _EXECUTE_API_URL.fullmatch(url)
    if match is None or match["api_id"] not in stages:
        return None
    stage = stages[match["api_id"]] if match["stage"] == "None" else match["stage"]
    return f"{endpoint_url}/restapis/{match['api_id']}/{stage}/_user_request_{match['rest'] or ''}"
