"""Synthesize the app once per test session (a synth costs ~10-20 s) as `cdk synth` does: cdk.json's context (the
feature flags) and app.py's cdk-nag checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build_app
from infra.stack import STACK_NAME
from local_runtime.emulator.deployer import cdk_json_context

REPO_ROOT = Path(__file__).resolve().parents[2]

# Every switch away from its default, given as `cdk -c` gives them: strings.
VARIANT_CONTEXT = {
    "changeStreamRetentionDays": "30",
    "changeStreamCapacityMode": "provisioned",
    "changeStreamShardCount": "2",
    "kinesisPipeline": "false",
    "detailedTracing": "true",
    "parallelizationFactor": "4",
    "consumerMemoryMb": "1024",
    "consumerReservedConcurrency": "300",
    "lambdaConcurrencyQuota": "2000",
    "apiThrottlingRateLimit": "200",
    "apiThrottlingBurstLimit": "100",
    "searchTableLayout": "unsharded",
    "apiAllowedOrigins": "http://127.0.0.1:8000,https://app.example.com",
}


def pytest_configure(config: pytest.Config) -> None:
    # Registered by pytest-xdist; declared here too so `-p no:xdist` runs pass --strict-markers.
    config.addinivalue_line("markers", "xdist_group(name): run all tests of the group on one xdist worker")


@dataclass(frozen=True)
class Synthesized:
    template: Template
    resources: Mapping[str, Any]
    validation_report: Mapping[str, Any]
    template_text: str
    outdir: Path  # the cloud assembly


def synthesize(outdir: Path, context: Mapping[str, str] | None = None) -> Synthesized:
    app = cdk.App(outdir=str(outdir), context={**cdk_json_context(REPO_ROOT), **(context or {})})
    build_app(app)
    assembly = app.synth()
    raw = assembly.get_stack_by_name(STACK_NAME).template
    return Synthesized(
        template=Template.from_json(raw),
        resources=raw["Resources"],
        validation_report=json.loads((outdir / "validation-report.json").read_text()),
        template_text=json.dumps(raw),
        outdir=outdir,
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out.variant"), VARIANT_CONTEXT)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template
