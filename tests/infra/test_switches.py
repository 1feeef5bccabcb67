"""Context switches away from their defaults (one more synth): retention, provisioned capacity, a pipeline off."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synthesized
from tests.infra.template_queries import function_id

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]


def test_retention_and_provisioned_capacity_reach_the_stream(variant: Synthesized) -> None:
    variant.template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {"RetentionPeriodHours": 30 * 24, "ShardCount": 2, "StreamModeDetails": {"StreamMode": "PROVISIONED"}},
    )


def test_tombstones_follow_the_retention(variant: Synthesized) -> None:
    resources = variant.resources
    consumer = function_id(resources, "services.trip.handlers.stream_consumer.lambda_handler")
    variables = resources[consumer]["Properties"]["Environment"]["Variables"]
    assert variables["TOMBSTONE_TTL_SECONDS"] == str(31 * 24 * 3600)


def test_detailed_tracing_turns_the_consumers_tracer_on(variant: Synthesized) -> None:
    resources = variant.resources
    consumer = function_id(resources, "services.trip.handlers.stream_consumer.lambda_handler")
    assert resources[consumer]["Properties"]["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "false"
    assert resources[consumer]["Properties"]["TracingConfig"] == {"Mode": "Active"}


def test_switched_off_pipeline_is_not_deployed(variant: Synthesized) -> None:
    handlers = {
        value["Properties"]["Handler"]
        for value in variant.resources.values()
        if value["Type"] == "AWS::Lambda::Function"
    }
    assert "services.trip.handlers.kinesis_consumer.lambda_handler" not in handlers
    assert "services.trip.handlers.stream_consumer.lambda_handler" in handlers
    sources = [
        value["Properties"]["EventSourceArn"]["Fn::GetAtt"][1]
        for value in variant.resources.values()
        if value["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    assert sources == ["StreamArn"]


def test_capacity_switches_reach_the_consumer_and_its_mapping(variant: Synthesized) -> None:
    resources = variant.resources
    consumer = function_id(resources, "services.trip.handlers.stream_consumer.lambda_handler")
    properties = resources[consumer]["Properties"]
    [mapping] = [value for value in resources.values() if value["Type"] == "AWS::Lambda::EventSourceMapping"]

    assert (properties["MemorySize"], properties["ReservedConcurrentExecutions"]) == (1024, 300)
    assert mapping["Properties"]["ParallelizationFactor"] == 4


def test_api_rate_and_burst_reach_the_stage(variant: Synthesized) -> None:
    [stage] = [value for value in variant.resources.values() if value["Type"] == "AWS::ApiGateway::Stage"]
    [method_settings] = stage["Properties"]["MethodSettings"]

    assert (method_settings["ThrottlingRateLimit"], method_settings["ThrottlingBurstLimit"]) == (200, 100)


def test_variant_passes_cdk_nag_too(variant: Synthesized) -> None:
    [report] = variant.validation_report["pluginReports"]
    assert report["violations"] == []
