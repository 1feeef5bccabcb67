"""Alarms (DLQ depth, iterator age, errors, throttles) and the side-by-side dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import Synthesized
from tests.infra.template_queries import function_id, logical_id, rendered_join

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

# A throttle in 3 of 5 consecutive minutes: throttling that lasts, not one request an SDK retry absorbed.
SUSTAINED = {
    "Threshold": 0,
    "ComparisonOperator": "GreaterThanThreshold",
    "EvaluationPeriods": 5,
    "DatapointsToAlarm": 3,
    "TreatMissingData": "notBreaching",
}
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
            **SUSTAINED,
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


def _sustained_alarm_on(synthesized: Synthesized, namespace: str, metric: str, dimensions: list[Any]) -> None:
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            **SUSTAINED,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
            "Statistic": "Sum",
            "Period": 60,
        },
    )


@pytest.mark.parametrize("table", ["DataTripTable", "DataTripSearchTable"])
def test_write_throttles_of_each_table_alarm_when_sustained(synthesized: Synthesized, table: str) -> None:
    table_id = logical_id(synthesized.resources, "AWS::DynamoDB::Table", table)

    _sustained_alarm_on(
        synthesized, "AWS/DynamoDB", "WriteThrottleEvents", [{"Name": "TableName", "Value": {"Ref": table_id}}]
    )


def test_write_throttles_of_every_search_table_index_alarm_when_sustained(synthesized: Synthesized) -> None:
    table_id = logical_id(synthesized.resources, "AWS::DynamoDB::Table", "DataTripSearchTable")
    indexes = [index["IndexName"] for index in synthesized.resources[table_id]["Properties"]["GlobalSecondaryIndexes"]]

    assert len(indexes) >= 1
    for index in indexes:
        _sustained_alarm_on(
            synthesized,
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            [{"Name": "GlobalSecondaryIndexName", "Value": index}, {"Name": "TableName", "Value": {"Ref": table_id}}],
        )


def test_throttles_of_the_tables_kinesis_destination_alarm_over_every_delegated_operation(
    synthesized: Synthesized,
) -> None:
    table_id = logical_id(synthesized.resources, "AWS::DynamoDB::Table", "DataTripTable")
    query = (
        'SELECT SUM(ThrottledPutRecordCount) FROM SCHEMA("AWS/DynamoDB", DelegatedOperation, TableName) '
        "WHERE TableName = '<" + table_id + ">'"
    )
    [alarm] = [
        value["Properties"]
        for key, value in synthesized.resources.items()
        if value["Type"] == "AWS::CloudWatch::Alarm" and "KinesisDestinationThrottleAlarm" in key
    ]

    assert {key: alarm[key] for key in SUSTAINED} == SUSTAINED
    [expression] = alarm["Metrics"]
    assert rendered_join(expression["Expression"]) == query
    assert (expression["Period"], expression["ReturnData"]) == (60, True)


@pytest.mark.parametrize("metric", ["WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded"])
def test_change_stream_read_and_write_throttles_alarm_when_sustained(synthesized: Synthesized, metric: str) -> None:
    stream = logical_id(synthesized.resources, "AWS::Kinesis::Stream", "ChangeStream")

    _sustained_alarm_on(synthesized, "AWS/Kinesis", metric, [{"Name": "StreamName", "Value": {"Ref": stream}}])


def test_every_function_alarms_on_sustained_throttles(synthesized: Synthesized) -> None:
    functions = [key for key, value in synthesized.resources.items() if value["Type"] == "AWS::Lambda::Function"]

    # two consumers, SearchTrips, six saga steps, ExecutionEnded, DriftAudit
    assert len(functions) == 11
    for function in functions:
        _sustained_alarm_on(
            synthesized, "AWS/Lambda", "Throttles", [{"Name": "FunctionName", "Value": {"Ref": function}}]
        )


def test_saga_execution_throttles_alarm_when_sustained(synthesized: Synthesized) -> None:
    machine = logical_id(synthesized.resources, "AWS::StepFunctions::StateMachine", "TripSaga")

    _sustained_alarm_on(
        synthesized, "AWS/States", "ExecutionThrottled", [{"Name": "StateMachineArn", "Value": {"Ref": machine}}]
    )
