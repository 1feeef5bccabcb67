"""Alarms (DLQ depth, iterator age, errors, throttles) and the side-by-side dashboard."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import Synthesized
from tests.infra.template_queries import function_id, logical_id, rendered_join

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

CONSUMERS = {
    "DynamoDB Streams pipeline": "services.trip.handlers.stream_consumer.lambda_handler",
    "Kinesis pipeline": "services.trip.handlers.kinesis_consumer.lambda_handler",
}


def test_dlq_depth_above_zero_alarms(synthesized: Synthesized) -> None:
    queue = logical_id(synthesized.resources, "AWS::SQS::Queue", "DeadLetterQueue")
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Statistic": "Maximum",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
        },
    )


@pytest.mark.parametrize("handler", CONSUMERS.values())
def test_each_mapping_alarms_on_iterator_age_and_errors(synthesized: Synthesized, handler: str) -> None:
    function = {"Name": "FunctionName", "Value": {"Ref": function_id(synthesized.resources, handler)}}
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "IteratorAge",
            "Dimensions": [function],
            "Statistic": "Maximum",
            "Period": 60,
            "Threshold": 60_000,
            "EvaluationPeriods": 5,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [function],
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )


def test_search_table_throttles_alarm_sums_every_operation(synthesized: Synthesized) -> None:
    table = logical_id(synthesized.resources, "AWS::DynamoDB::Table", "DataTripSearchTable")
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "Metrics": Match.array_with(
                [
                    Match.object_like(
                        {
                            "MetricStat": Match.object_like(
                                {
                                    "Metric": {
                                        "Namespace": "AWS/DynamoDB",
                                        "MetricName": "ThrottledRequests",
                                        "Dimensions": Match.array_with(
                                            [
                                                {"Name": "Operation", "Value": "UpdateItem"},
                                                {"Name": "TableName", "Value": {"Ref": table}},
                                            ]
                                        ),
                                    }
                                }
                            )
                        }
                    )
                ]
            ),
        },
    )


def test_dashboard_shows_the_two_pipelines_side_by_side(template: Template) -> None:
    [dashboard] = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(rendered_join(dashboard["Properties"]["DashboardBody"]))
    headers = {
        widget["properties"]["markdown"]: (widget["x"], widget["y"])
        for widget in body["widgets"]
        if widget["type"] == "text"
    }
    assert headers == {f"## {title}": (x, 0) for title, x in zip(CONSUMERS, (0, 12), strict=True)}


@pytest.mark.parametrize("source", ["dynamodb-streams", "kinesis"])
def test_each_pipeline_alarms_on_the_p99_age_of_the_changes_it_applies(synthesized: Synthesized, source: str) -> None:
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "TripSaga",
            "MetricName": "ChangeAge",
            "Dimensions": [{"Name": "service", "Value": "trip-projection"}, {"Name": "source", "Value": source}],
            "ExtendedStatistic": "p99",
            "Period": 60,
            "Threshold": 30_000,
            "EvaluationPeriods": 5,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    )


def test_dashboard_shows_each_pipelines_freshness(template: Template) -> None:
    [dashboard] = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(rendered_join(dashboard["Properties"]["DashboardBody"]))
    freshness = {
        widget["properties"]["title"]: [metric[-1]["stat"] for metric in widget["properties"]["metrics"]]
        for widget in body["widgets"]
        if "freshness" in widget["properties"].get("title", "")
    }
    assert freshness == {f"{title}: freshness, age of applied changes (ms)": ["p50", "p99"] for title in CONSUMERS}
