"""Deploying the CDK app into the emulator the way ``cdk deploy`` deploys it into an account.

Synthesize (``python app.py`` with ``CDK_OUTDIR``), bootstrap (the assets bucket and the bootstrap-version
parameter the template checks), publish the assets of ``<stack>.assets.json`` (folders zipped), then create
each stack of the cloud assembly with CloudFormation and wait for it. Nothing about the stack is known in
advance: what the runtime needs afterwards is read from the deployed stack and its template.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_runtime.emulator.aws_clients import Endpoint

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"  # the emulator's account
BOOTSTRAP_VERSION = "30"
BAD_CONTEXT_EXIT = 2  # app.py's exit code for a context value the stack refuses (its one `error:` line on stderr)


class DeploymentError(RuntimeError):
    """Synthesis or stack creation failed; the message says where."""


class ContextError(DeploymentError):
    """The stack refused a context value (`--context`); the message is its one line (infra.settings)."""


@dataclass(frozen=True)
class StackArtifact:
    name: str
    template: dict[str, Any]
    assets_file: Path | None
    bootstrap_parameter: str | None


@dataclass(frozen=True)
class DeployedStack:
    name: str
    template: dict[str, Any]
    physical_ids: dict[str, str]  # logical id -> physical id
    outputs: dict[str, str]


def cdk_json_context(project_dir: Path) -> dict[str, Any]:
    """The context in the project's ``cdk.json`` (its feature flags): the CDK CLI hands it to the app on every
    synth (as ``CDK_CONTEXT_JSON``), so every other synth does too, or it would build another template."""
    context: dict[str, Any] = json.loads((project_dir / "cdk.json").read_text()).get("context", {})
    return context


def synthesize(project_dir: Path, out_dir: Path, context: Mapping[str, str] | None = None) -> list[StackArtifact]:
    """The CDK app's stacks, synthesized with cdk.json's context and `context` over it (`cdk -c key=value`)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    env = {
        **os.environ,
        "CDK_OUTDIR": str(out_dir),
        "CDK_CONTEXT_JSON": json.dumps({**cdk_json_context(project_dir), **(context or {})}),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    log.info("synthesizing the CDK app (python app.py) into %s", out_dir)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=project_dir, env=env, capture_output=True, text=True, check=False
    )
    refused = [line.removeprefix("error: ") for line in result.stderr.splitlines() if line.startswith("error: ")]
    if result.returncode == BAD_CONTEXT_EXIT and refused:
        raise ContextError(refused[-1])
    if result.returncode != 0:
        raise DeploymentError(f"synthesis failed (python app.py, exit {result.returncode}):\n{result.stderr[-4000:]}")
    log.info("synthesized in %.1f s", time.monotonic() - started)
    return read_cloud_assembly(out_dir)


def read_cloud_assembly(out_dir: Path) -> list[StackArtifact]:
    artifacts = json.loads((out_dir / "manifest.json").read_text())["artifacts"]
    stacks = []
    for artifact_id, artifact in artifacts.items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        properties = artifact["properties"]
        asset_manifests = [
            artifacts[dependency]["properties"]
            for dependency in artifact.get("dependencies", [])
            if artifacts.get(dependency, {}).get("type") == "cdk:asset-manifest"
        ]
        stacks.append(
            StackArtifact(
                name=properties.get("stackName", artifact_id),
                template=json.loads((out_dir / properties["templateFile"]).read_text()),
                assets_file=out_dir / asset_manifests[0]["file"] if asset_manifests else None,
                bootstrap_parameter=asset_manifests[0].get("bootstrapStackVersionSsmParameter")
                if asset_manifests
                else None,
            )
        )
    return stacks


def _resolve_placeholders(text: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", ACCOUNT_ID)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def _packaged(source: Path, packaging: str) -> bytes:
    if packaging == "file":
        return source.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                package.write(path, path.relative_to(source).as_posix())
    return buffer.getvalue()


def publish_assets(stack: StackArtifact, endpoint: Endpoint) -> None:
    if stack.assets_file is None:
        return
    s3 = endpoint.client("s3")
    manifest = json.loads(stack.assets_file.read_text())
    buckets: set[str] = set()
    for asset in manifest.get("files", {}).values():
        body = _packaged(stack.assets_file.parent / asset["source"]["path"], asset["source"].get("packaging", "file"))
        for destination in asset["destinations"].values():
            bucket = _resolve_placeholders(destination["bucketName"], endpoint.region)
            if bucket not in buckets:
                s3.create_bucket(Bucket=bucket)  # the bootstrap stack's bucket (idempotent in us-east-1)
                buckets.add(bucket)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)
        log.info("published asset %s (%d bytes)", asset.get("displayName", asset["source"]["path"]), len(body))
    if manifest.get("dockerImages"):
        raise DeploymentError("the stack has Docker image assets; the local runtime runs without Docker")


def deploy(stack: StackArtifact, endpoint: Endpoint) -> DeployedStack:
    if stack.bootstrap_parameter:
        endpoint.client("ssm").put_parameter(
            Name=stack.bootstrap_parameter, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
        )
    publish_assets(stack, endpoint)
    cloudformation = endpoint.client("cloudformation")
    log.info("creating stack %s (%d resources)", stack.name, len(stack.template["Resources"]))
    cloudformation.create_stack(
        StackName=stack.name,
        TemplateBody=json.dumps(stack.template),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    description = _wait_for_creation(cloudformation, stack.name)
    physical_ids = _physical_ids(cloudformation, stack.name)
    _report_not_emulated(stack.template, physical_ids)
    outputs = {output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])}
    return DeployedStack(stack.name, stack.template, physical_ids, outputs)


def _wait_for_creation(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        description: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = description["StackStatus"]
        if status == "CREATE_COMPLETE":
            log.info("stack %s is CREATE_COMPLETE", stack_name)
            return description
        if not status.endswith("IN_PROGRESS"):
            raise DeploymentError(f"stack {stack_name} ended {status}: {description.get('StackStatusReason', '')}")
        time.sleep(0.2)
    raise DeploymentError(f"stack {stack_name} was not created within 120 s")


def _physical_ids(cloudformation: Any, stack_name: str) -> dict[str, str]:
    physical_ids: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            physical_ids[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return physical_ids


def _report_not_emulated(template: dict[str, Any], physical_ids: dict[str, str]) -> None:
    skipped = Counter(
        resource["Type"]
        for logical_id, resource in template["Resources"].items()
        if logical_id not in physical_ids and resource["Type"] != "AWS::CDK::Metadata"
    )
    if skipped:
        listed = ", ".join(f"{kind} x{count}" for kind, count in sorted(skipped.items()))
        log.info("not emulated, so not created: %s", listed)
