"""The two consumers: event source mappings as AWS Solutions Constructs recommend (and more), DLQ, environment."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import Synthesized
from tests.infra.template_queries import function_id, logical_id

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

STREAM_HANDLER = "services.trip.handlers.stream_consumer.lambda_handler"
KINESIS_HANDLER = "services.trip.handlers.kinesis_consumer.lambda_handler"
MAPPING_SETTINGS = {
    "BatchSize": 100,
    "MaximumBatchingWindowInSeconds": 1,
    "BisectBatchOnFunctionError": True,
    # retried until the records are 12 h old (no retry count), inside DynamoDB Streams' 24 h retention
    "MaximumRetryAttempts": Match.absent(),
    "MaximumRecordAgeInSeconds": 12 * 3600,
    "ParallelizationFactor": 2,
    "FunctionResponseTypes": ["ReportBatchItemFailures"],
    "StartingPosition": "TRIM_HORIZON",
}


def dlq(synthesized: Synthesized) -> str:
    return logical_id(synthesized.resources, "AWS::SQS::Queue", "DeadLetterQueue")


def test_stream_consumer_reads_the_table_stream_with_safe_mapping_settings(synthesized: Synthesized) -> None:
    resources = synthesized.resources
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            **MAPPING_SETTINGS,
            "FunctionName": {"Ref": function_id(resources, STREAM_HANDLER)},
            "EventSourceArn": {
                "Fn::GetAtt": [logical_id(resources, "AWS::DynamoDB::Table", "DataTripTable"), "StreamArn"]
            },
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq(synthesized), "Arn"]}}},
        },
    )


def test_kinesis_consumer_reads_the_change_stream_with_safe_mapping_settings(synthesized: Synthesized) -> None:
    resources = synthesized.resources
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            **MAPPING_SETTINGS,
            "FunctionName": {"Ref": function_id(resources, KINESIS_HANDLER)},
            "EventSourceArn": {"Fn::GetAtt": [logical_id(resources, "AWS::Kinesis::Stream", "ChangeStream"), "Arn"]},
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq(synthesized), "Arn"]}}},
        },
    )


def test_dlq_is_encrypted_keeps_fourteen_days_and_refuses_plain_http(synthesized: Synthesized) -> None:
    queue = dlq(synthesized)
    synthesized.template.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 24 * 3600}
    )
    synthesized.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": queue}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "sqs:*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Resource": {"Fn::GetAtt": [queue, "Arn"]},
                    }
                ],
                "Version": "2012-10-17",
            },
        },
    )


@pytest.mark.parametrize("handler", [STREAM_HANDLER, KINESIS_HANDLER])
def test_consumers_get_search_tables_dlq_and_tombstone_ttl(synthesized: Synthesized, handler: str) -> None:
    resources = synthesized.resources
    environment = resources[function_id(resources, handler)]["Properties"]["Environment"]["Variables"]
    assert environment == {
        "POWERTOOLS_SERVICE_NAME": "trip-projection",
        "POWERTOOLS_METRICS_NAMESPACE": "TripSaga",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # which search tables serve: a parameter a cutover switches, read every 30 s at most
        "SEARCH_TABLES_PARAMETER": {"Ref": logical_id(resources, "AWS::SSM::Parameter", "SearchTables")},
        "SEARCH_TABLES_MAX_AGE_SECONDS": "30",
        "DLQ_URL": {"Ref": dlq(synthesized)},
        # Kinesis retention (7 days) + 1 day
        "TOMBSTONE_TTL_SECONDS": str(8 * 24 * 3600),
        # Lambda's active tracing only: the X-Ray SDK stays out of the cold start (context detailedTracing)
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    assert resources[function_id(resources, handler)]["Properties"]["TracingConfig"] == {"Mode": "Active"}


@pytest.mark.parametrize("handler", [STREAM_HANDLER, KINESIS_HANDLER])
def test_consumers_get_one_vcpu_and_a_reserved_concurrency(synthesized: Synthesized, handler: str) -> None:
    properties = synthesized.resources[function_id(synthesized.resources, handler)]["Properties"]

    # 1,769 MB: one full vCPU (AWS Lambda); 100 executions the saga and the search API cannot take
    assert (properties["MemorySize"], properties["ReservedConcurrentExecutions"]) == (1769, 100)


@pytest.mark.parametrize(
    ("construct_id", "memory_mb"),
    # SearchTrips: a page's 64 shard queries take one vCPU (infra/api.py)
    [("SearchTrips", 1769), ("ReserveFlight", 256), ("ExecutionEnded", 256)],
)
def test_other_functions_keep_their_memory_and_the_unreserved_pool(
    synthesized: Synthesized, construct_id: str, memory_mb: int
) -> None:
    function = logical_id(synthesized.resources, "AWS::Lambda::Function", construct_id)
    properties = synthesized.resources[function]["Properties"]

    assert properties["MemorySize"] == memory_mb
    assert "ReservedConcurrentExecutions" not in properties


@pytest.mark.parametrize("construct_id", ["StreamConsumer", "KinesisConsumer", "SearchTrips", "ReserveFlight"])
def test_functions_run_python_313_from_src_with_the_functions_layer(
    template: Template, synthesized: Synthesized, construct_id: str
) -> None:
    function = logical_id(synthesized.resources, "AWS::Lambda::Function", construct_id)
    properties = synthesized.resources[function]["Properties"]
    assert "FunctionName" not in properties
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": properties["Handler"],
            "Runtime": "python3.13",
            "Architectures": ["x86_64"],
            "TracingConfig": {"Mode": "Active"},
            "Layers": [{"Ref": logical_id(synthesized.resources, "AWS::Lambda::LayerVersion", "FunctionsLayer")}],
            "Code": {"S3Bucket": Match.any_value(), "S3Key": Match.string_like_regexp(r"^[0-9a-f]{64}\.zip$")},
            "LoggingConfig": {"LogGroup": Match.any_value()},
        },
    )
