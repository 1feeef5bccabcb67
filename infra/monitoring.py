"""Alarms (runbook: docs/operations.md, "Alarms") and one dashboard showing both projection pipelines side by side."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.execution_end import ExecutionEnd
from infra.lambda_function import METRICS_NAMESPACE
from infra.projection import PROJECTION_SERVICE, Pipeline

# A healthy consumer stays seconds behind its stream; a minute for five minutes running means it is stuck.
ITERATOR_AGE_THRESHOLD_MS = 60_000
ITERATOR_AGE_MINUTES = 5
# Freshness: 99 of 100 applied changes searchable within 30 s of their write, or the alarm, for five minutes running.
FRESHNESS_P99_THRESHOLD_MS = 30_000
FRESHNESS_MINUTES = 5
ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)
# Every operation the projection and the search API issue against TripSearchTable.
SEARCH_TABLE_OPERATIONS = [
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.BATCH_GET_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.BATCH_WRITE_ITEM,
]
WIDGET_WIDTH = 12


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipelines: Sequence[Pipeline],
        dlq: sqs.IQueue,
        search_table: dynamodb.ITable,
        search_function: lambda_.IFunction,
        api: apigw.RestApi,
        state_machine: sfn.StateMachine,
        execution_end: ExecutionEnd,
    ) -> None:
        super().__init__(scope, construct_id)
        dlq_depth = dlq.metric_approximate_number_of_messages_visible(period=ONE_MINUTE, statistic="Maximum")
        self._above_zero("DlqDepthAlarm", dlq_depth, "The projection's DLQ holds records it could not project")

        for pipeline in pipelines:
            name = pipeline.consumer.node.id
            cw.Alarm(
                self,
                f"{name}IteratorAgeAlarm",
                alarm_description=f"{pipeline.title}: {name} lags its stream by more than a minute",
                metric=_iterator_age(pipeline.consumer),
                threshold=ITERATOR_AGE_THRESHOLD_MS,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=ITERATOR_AGE_MINUTES,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            cw.Alarm(
                self,
                f"{name}FreshnessAlarm",
                alarm_description=f"{pipeline.title}: the p99 age of the changes {name} applies exceeds 30 s",
                metric=_change_age(pipeline, "p99"),
                threshold=FRESHNESS_P99_THRESHOLD_MS,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=FRESHNESS_MINUTES,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            self._errors_alarm(pipeline.consumer, f"{pipeline.title}: {name} failed whole invocations")
        self._errors_alarm(search_function, "SearchTrips failed requests (API 5xx)")
        # An ended execution whose release failed every retry: it may still hold its bookings (docs/operations.md).
        unreleased = execution_end.dlq.metric_approximate_number_of_messages_visible(
            period=ONE_MINUTE, statistic="Maximum"
        )
        self._above_zero(
            "ExecutionEndDlqDepthAlarm",
            unreleased,
            "A TripSaga execution that ended without its compensations could not be released: it may still hold "
            "its bookings",
        )
        self._errors_alarm(execution_end.function, "ExecutionEnded failed to release an ended TripSaga execution")

        throttles = search_table.metric_throttled_requests_for_operations(
            operations=SEARCH_TABLE_OPERATIONS, period=ONE_MINUTE
        )
        self._above_zero("SearchTableThrottleAlarm", throttles, "Requests to TripSearchTable were throttled")

        dashboard = cw.Dashboard(self, "TripSagaDashboard")
        # One row per view, the pipelines side by side in it: the same metric of both sources compares at a glance.
        dashboard.add_widgets(
            *(cw.TextWidget(markdown=f"## {p.title}", width=WIDGET_WIDTH, height=1) for p in pipelines)
        )
        dashboard.add_widgets(
            *(
                _graph(
                    f"{p.title}: invocations and errors",
                    [p.consumer.metric_invocations(), p.consumer.metric_errors()],
                )
                for p in pipelines
            )
        )
        dashboard.add_widgets(
            *(_graph(f"{p.title}: iterator age (ms, max)", [_iterator_age(p.consumer)]) for p in pipelines)
        )
        dashboard.add_widgets(
            *(
                _graph(
                    f"{p.title}: freshness, age of applied changes (ms)",
                    [_change_age(p, "p50"), _change_age(p, "p99")],
                )
                for p in pipelines
            )
        )
        dashboard.add_widgets(*(_graph(f"{p.title}: duration (ms)", [p.consumer.metric_duration()]) for p in pipelines))
        dashboard.add_widgets(
            _graph("Projection DLQ depth", [dlq_depth]),
            _graph("TripSearchTable throttled requests", [throttles]),
        )
        dashboard.add_widgets(
            _graph(
                "Search API requests and errors",
                [api.metric_count(), api.metric_client_error(), api.metric_server_error()],
            ),
            _graph("Saga executions", [state_machine.metric_succeeded(), state_machine.metric_failed()]),
        )

    def _above_zero(self, construct_id: str, metric: cw.IMetric, description: str) -> None:
        cw.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _errors_alarm(self, function: lambda_.IFunction, description: str) -> None:
        self._above_zero(f"{function.node.id}ErrorsAlarm", function.metric_errors(period=FIVE_MINUTES), description)


def _iterator_age(consumer: lambda_.IFunction) -> cw.Metric:
    return consumer.metric("IteratorAge", statistic="Maximum", period=ONE_MINUTE)


def _change_age(pipeline: Pipeline, statistic: str) -> cw.Metric:
    """The consumer's `ChangeAge` (ms): write to searchable, one value per applied change (consumer._count)."""
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name="ChangeAge",
        dimensions_map={"service": PROJECTION_SERVICE, "source": pipeline.source},
        statistic=statistic,
        period=ONE_MINUTE,
    )


def _graph(title: str, metrics: Sequence[cw.IMetric]) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=list(metrics), width=WIDGET_WIDTH)
