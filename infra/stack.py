"""TripSagaStack: the whole product, composed from one construct per concern."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.api import SearchApi
from infra.audit import DriftAudit
from infra.change_stream import ChangeStream
from infra.data import TripData
from infra.execution_end import ExecutionEnd
from infra.lambda_function import FunctionFactory
from infra.monitoring import Monitoring
from infra.projection import Projection
from infra.saga import Saga
from infra.search_tables import SearchTableAccess
from infra.settings import StackSettings

STACK_NAME = "TripSagaStack"


class TripSagaStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings) -> None:
        super().__init__(
            scope,
            construct_id,
            description="TripSaga: booking saga, change streams, search projection and search API",
        )
        functions = FunctionFactory(self)
        change_stream = ChangeStream(self, "ChangeStream", settings=settings)
        data = TripData(
            self, "Data", change_stream=change_stream.stream, search_table_layout=settings.search_table_layout
        )
        search_tables = SearchTableAccess(
            self,
            "SearchTables",
            search_table=data.search_table,
            search_table_layout=settings.search_table_layout,
            max_age_seconds=settings.search_tables_max_age_seconds,
        )
        projection = Projection(
            self,
            "Projection",
            settings=settings,
            functions=functions,
            trip_table=data.trip_table,
            change_stream=change_stream.stream,
            search_tables=search_tables,
        )
        search = SearchApi(self, "Api", settings=settings, functions=functions, search_tables=search_tables)
        saga = Saga(self, "Saga", functions=functions, trip_table=data.trip_table)
        execution_end = ExecutionEnd(
            self, "ExecutionEnd", functions=functions, trip_table=data.trip_table, state_machine=saga.state_machine
        )
        audit = DriftAudit(
            self,
            "Audit",
            settings=settings,
            functions=functions,
            trip_table=data.trip_table,
            search_tables=search_tables,
        )
        Monitoring(
            self,
            "Monitoring",
            pipelines=projection.pipelines,
            dlq=projection.dlq,
            trip_table=data.trip_table,
            change_stream=change_stream.stream,
            search_table=data.search_table,
            search_function=search.function,
            api=search.api,
            state_machine=saga.state_machine,
            saga_functions=saga.step_functions,
            execution_end=execution_end,
            drift_audit=audit.function,
        )

        CfnOutput(self, "ApiUrl", value=search.url, description="Search API stage URL, no trailing slash")
        CfnOutput(self, "TripTableName", value=data.trip_table.table_name)
        CfnOutput(
            self,
            "SearchTableName",
            value=data.search_table.table_name,
            description="The stack's own search table: the first live one (SearchTablesParameter names the live one)",
        )
        CfnOutput(self, "SearchTablesParameter", value=search_tables.parameter.parameter_name)
        CfnOutput(self, "ChangeStreamName", value=change_stream.stream.stream_name)
        CfnOutput(self, "DlqUrl", value=projection.dlq.queue_url)
        CfnOutput(self, "StateMachineArn", value=saga.state_machine.state_machine_arn)
