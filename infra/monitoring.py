"""Alarms (runbook: docs/operations.md, "Alarms") and one dashboard showing both projection pipelines side by side."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
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
# Throttling alarms fire on throttling that lasts, not on one throttled request an SDK retry absorbs: a throttle in
# at least 3 of 5 consecutive minutes. AWS's recommended alarms use 1-minute periods for DynamoDB's
# WriteThrottleEvents (5 of 5) and ThrottledPutRecordCount (10 of 10) (Amazon CloudWatch User Guide, "Best practice
# alarm recommendations for AWS services"); 3 of 5 also catches throttling that comes and goes.
THROTTLE_MINUTES = 5
THROTTLE_MINUTES_TO_ALARM = 3


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipelines: Sequence[Pipeline],
        dlq: sqs.IQueue,
        trip_table: dynamodb.Table,
        change_stream: kinesis.IStream,
        search_table: dynamodb.Table,
        search_function: lambda_.IFunction,
        api: apigw.RestApi,
        state_machine: sfn.StateMachine,
        saga_functions: Sequence[lambda_.IFunction],
        execution_end: ExecutionEnd,
        drift_audit: lambda_.IFunction,
    ) -> None:
        """`drift_audit`: its own alarms are infra/audit.py's; here its throttles, as every function's."""
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
        self._sustained("SearchTableThrottleAlarm", throttles, "Requests to TripSearchTable were throttled")
        write_throttles = self._throttle_alarms(
            trip_table=trip_table,
            change_stream=change_stream,
            search_table=search_table,
            functions=[
                *(pipeline.consumer for pipeline in pipelines),
                search_function,
                *saga_functions,
                execution_end.function,
                drift_audit,
            ],
            state_machine=state_machine,
        )

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
            _graph("DynamoDB write throttle events (tables, indexes)", write_throttles),
            _graph(
                "Consumers' Lambda throttles",
                [pipeline.consumer.metric_throttles(period=ONE_MINUTE, statistic="Sum") for pipeline in pipelines],
            ),
        )
        dashboard.add_widgets(
            _graph(
                "Search API requests and errors",
                [api.metric_count(), api.metric_client_error(), api.metric_server_error()],
            ),
            _graph("Saga executions", [state_machine.metric_succeeded(), state_machine.metric_failed()]),
        )

    def _above_zero(self, construct_id: str, metric: cw.IMetric, description: str) -> None:
        above_zero_alarm(self, construct_id, metric, description)

    def _throttle_alarms(
        self,
        *,
        trip_table: dynamodb.Table,
        change_stream: kinesis.IStream,
        search_table: dynamodb.Table,
        functions: Sequence[lambda_.IFunction],
        state_machine: sfn.StateMachine,
    ) -> list[cw.IMetric]:
        """A sustained-throttling alarm on every part the capacity model sizes (docs/capacity.md); returns the
        tables' and indexes' write-throttle metrics for the dashboard."""
        writes = [
            ("TripTable", "TripTable", _write_throttle_events(trip_table)),
            ("SearchTable", "TripSearchTable", _write_throttle_events(search_table)),
            # A throttled GSI throttles the table's writes (Amazon DynamoDB Developer Guide, "GSI write throttling
            # and back pressure"); its events count only under its own dimension.
            *(
                (
                    f"SearchIndex{_camel_case(index)}",
                    f"TripSearchTable's {index}",
                    _write_throttle_events(search_table, index),
                )
                for index in global_secondary_index_names(search_table)
            ),
        ]
        for alarm_id, title, metric in writes:
            self._sustained(f"{alarm_id}WriteThrottleAlarm", metric, f"Writes to {title} are being throttled")
        self._sustained(
            "TripTableKinesisDestinationThrottleAlarm",
            _kinesis_destination_throttles(trip_table),
            "TripTable's Kinesis destination is throttled by the change stream (ThrottledPutRecordCount): the "
            "stream lacks shards for the table's writes, and its copies of changes are late",
        )
        self._sustained(
            "ChangeStreamWriteThrottleAlarm",
            change_stream.metric_write_provisioned_throughput_exceeded(period=ONE_MINUTE, statistic="Sum"),
            "Writes to the Kinesis change stream exceed its shards' 1 MB/s or 1,000 records/s",
        )
        self._sustained(
            "ChangeStreamReadThrottleAlarm",
            change_stream.metric_read_provisioned_throughput_exceeded(period=ONE_MINUTE, statistic="Sum"),
            "Reads of the Kinesis change stream exceed its shards' 5 GetRecords/s or 2 MB/s, shared by the "
            "consumer and any replay",
        )
        for function in functions:
            self._sustained(
                f"{function.node.id}ThrottlesAlarm",
                function.metric_throttles(period=ONE_MINUTE, statistic="Sum"),
                f"Invocations of {function.node.id} are being throttled (reserved or account concurrency)",
            )
        self._sustained(
            "TripSagaExecutionThrottledAlarm",
            state_machine.metric_throttled(period=ONE_MINUTE, statistic="Sum"),
            "TripSaga's state transitions are being throttled (Step Functions StateTransition quota)",
        )
        return [metric for _, _, metric in writes]

    def _sustained(self, construct_id: str, metric: cw.IMetric, description: str) -> None:
        cw.Alarm(
            self,
            construct_id,
            alarm_description=f"{description}, in {THROTTLE_MINUTES_TO_ALARM} of {THROTTLE_MINUTES} minutes",
            metric=metric,
            threshold=0,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=THROTTLE_MINUTES,
            datapoints_to_alarm=THROTTLE_MINUTES_TO_ALARM,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _errors_alarm(self, function: lambda_.IFunction, description: str) -> None:
        self._above_zero(f"{function.node.id}ErrorsAlarm", function.metric_errors(period=FIVE_MINUTES), description)


def above_zero_alarm(scope: Construct, construct_id: str, metric: cw.IMetric, description: str) -> cw.Alarm:
    """An alarm on any datapoint above 0 in one period; no data is no alarm."""
    return cw.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=metric,
        threshold=0,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )


def global_secondary_index_names(table: dynamodb.Table) -> list[str]:
    """The names of the GSIs the table construct defines, whatever they are (services.trip.schema names them)."""
    cfn = table.node.default_child
    assert isinstance(cfn, dynamodb.CfnTable)
    indexes = Stack.of(table).resolve(cfn.global_secondary_indexes) or []
    return [index["indexName"] for index in indexes]


def _camel_case(name: str) -> str:
    """`flight_status-departure_time-index` as `FlightStatusDepartureTimeIndex`: an index name in a construct id."""
    return "".join(word[:1].upper() + word[1:] for word in re.split(r"[^0-9A-Za-z]+", name))


def _write_throttle_events(table: dynamodb.ITable, index: str | None = None) -> cw.Metric:
    """`WriteThrottleEvents` (Sum a minute) of the table, or of one of its GSIs: the table's own dimension
    excludes its indexes (Amazon DynamoDB Developer Guide, "DynamoDB Metrics and dimensions")."""
    dimensions = {"TableName": table.table_name}
    if index is not None:
        dimensions["GlobalSecondaryIndexName"] = index
    return cw.Metric(
        namespace="AWS/DynamoDB",
        metric_name="WriteThrottleEvents",
        dimensions_map=dimensions,
        statistic="Sum",
        period=ONE_MINUTE,
    )


def _kinesis_destination_throttles(table: dynamodb.ITable) -> cw.MathExpression:
    """`ThrottledPutRecordCount`: records the Kinesis stream throttled while DynamoDB copied the table's changes
    into it (dimensions TableName, DelegatedOperation; Amazon CloudWatch User Guide, "Best practice alarm
    recommendations"). A Metrics Insights query sums it over whatever DelegatedOperation values DynamoDB reports."""
    return cw.MathExpression(
        expression='SELECT SUM(ThrottledPutRecordCount) FROM SCHEMA("AWS/DynamoDB", DelegatedOperation, TableName) '
        f"WHERE TableName = '{table.table_name}'",
        label="ThrottledPutRecordCount",
        period=ONE_MINUTE,
    )


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
