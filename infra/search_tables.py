"""Which search tables serve: the SSM parameter the functions read (services.trip.search_tables), and their grants.

The stack's own TripSearchTable is the first live table. A cutover (`trip-replay cutover`) creates the next
version beside it, named `<stack name>-search-<suffix>`, and points the parameter at it: the functions may use any
table of that name, so the switch needs no deploy. CloudFormation writes the parameter when the stack is created,
and again only if its template value changes (the stack's table replaced): a redeploy leaves a cutover's switch in
place (docs/operations.md, "Changing the read model").
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.nag import acknowledge, arn_finding
from services.trip.schema import Layout
from services.trip.search_tables import SearchTables


def cutover_table_prefix(stack_name: str) -> str:
    """The names a cutover's tables take: the functions are granted these, and no other table."""
    return f"{stack_name}-search-"


def _first_tables(stack_table: str, layout: Layout) -> SearchTables:
    """The stack's table live, named in `layouts` unless sharded (so a sharded stack's value is what it always was)."""
    return SearchTables(stack_table, layouts={} if layout is Layout.SHARDED else {stack_table: layout})


class SearchTableAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        search_table: dynamodb.ITable,
        search_table_layout: Layout,
        max_age_seconds: int,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=f"/{stack.stack_name}/search-tables",
            description="The live search table and its shadow (JSON); written by trip-replay cutover",
            string_value=_first_tables(search_table.table_name, search_table_layout).to_json(),
        )
        self._stack_table = search_table
        self._prefix = cutover_table_prefix(stack.stack_name)
        self._cutover_tables = dynamodb.Table.from_table_name(self, "CutoverTables", f"{self._prefix}*")
        self.environment = {
            "SEARCH_TABLES_PARAMETER": self.parameter.parameter_name,
            "SEARCH_TABLES_MAX_AGE_SECONDS": str(max_age_seconds),
        }

    def grant_read(self, function: lambda_.Function) -> None:
        """The search API: read the parameter and the tables it may name."""
        self._grant_parameter(function)
        for table in (self._stack_table, self._cutover_tables):
            table.grant_read_data(function)
        self._acknowledge(function)

    def grant_read_write(self, function: lambda_.Function) -> None:
        """The consumers: read the parameter, read and write the tables it may name."""
        self._grant_parameter(function)
        for table in (self._stack_table, self._cutover_tables):
            table.grant_read_write_data(function)
        self._acknowledge(function)

    def _grant_parameter(self, function: lambda_.Function) -> None:
        # GetParameter alone: StringParameter.grant_read adds GetParameters, GetParameterHistory, DescribeParameters
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.parameter.parameter_arn])
        )

    def _acknowledge(self, function: lambda_.Function) -> None:
        role = function.role  # FunctionFactory gives each function a role of its own, beside it
        assert role is not None
        reason = (
            "The stack's TripSearchTable, its GSIs, and the tables a cutover creates beside it (<stack>-search-*) "
            "with theirs: the live table is switched by a parameter, not by a deploy"
        )
        acknowledge(role, arn_finding(self._stack_table, "/index/*"), reason)
        # IAM's `*` matches `/` too: `table/<prefix>*` covers those tables' indexes (`.../index/<name>`)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:"
            f"table/{self._prefix}*]",
            reason,
        )
