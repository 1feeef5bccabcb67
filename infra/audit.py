"""DriftAudit: a scheduled function that compares the live search table with TripTable and repairs what drifted
(services.trip.auditor; runbook: docs/drift-audit.md).

An EventBridge rule invokes it every `driftAuditRateMinutes`; each run audits from where the previous one stopped
(the cursor, an SSM parameter of the stack) within `driftAuditReadBudget` read units, and goes through the
`driftAuditSegments` segments of both tables in turn. One run at a time (reserved concurrency 1): the cursor is one
value. A run that fails or is throttled is not retried: the next scheduled run starts where the cursor still says.

The function may read TripTable, read and write the search tables the search-tables parameter may name (as the
consumers may: `SearchTableAccess.grant_read_write`), and read and write its cursor, nothing else. Alarms: any trip
found drifted (`DriftedTrips` above 0), and any run failing.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.lambda_function import METRICS_NAMESPACE, FunctionFactory
from infra.monitoring import above_zero_alarm
from infra.search_tables import SearchTableAccess
from infra.settings import StackSettings

HANDLER = "services.trip.handlers.drift_audit.lambda_handler"
AUDIT_SERVICE = "trip-audit"
# Beyond the settle time a run waits: reading its budget (2,000 read units are about 16 MB of eventually consistent
# reads, a few thousand requests) and the second look. Lambda's own ceiling is 15 minutes.
READING_TIME = Duration.minutes(5)
RUNBOOK = "docs/drift-audit.md"


class DriftAudit(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        functions: FunctionFactory,
        trip_table: dynamodb.ITable,
        search_tables: SearchTableAccess,
    ) -> None:
        super().__init__(scope, construct_id)
        self.cursor = ssm.StringParameter(
            self,
            "Cursor",
            parameter_name=f"/{Stack.of(self).stack_name}/drift-audit-cursor",
            description="Where the next DriftAudit run starts (JSON: segment, phase, scan key); written by DriftAudit",
            string_value="{}",
        )
        rate = Duration.minutes(settings.drift_audit_rate_minutes)
        self.function = functions.function(
            self,
            "DriftAudit",
            handler=HANDLER,
            description="Compares the live search table with TripTable, segment by segment, and repairs what drifted",
            service=AUDIT_SERVICE,
            environment={
                "TABLE_NAME": trip_table.table_name,
                "AUDIT_CURSOR_PARAMETER": self.cursor.parameter_name,
                "AUDIT_SEGMENTS": str(settings.drift_audit_segments),
                "AUDIT_READ_BUDGET": str(settings.drift_audit_read_budget),
                "AUDIT_SETTLE_SECONDS": str(settings.drift_audit_settle_seconds),
                "AUDIT_REPAIR": str(settings.drift_audit_repair).lower(),
                "TOMBSTONE_TTL_SECONDS": str(settings.tombstone_ttl_seconds),
                **search_tables.environment,
            },
            reserved_concurrency=1,
            timeout=Duration.seconds(settings.drift_audit_settle_seconds + READING_TIME.to_seconds()),
        )
        trip_table.grant_read_data(self.function)
        search_tables.grant_read_write(self.function)
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[self.cursor.parameter_arn])
        )
        self.function.configure_async_invoke(retry_attempts=0, max_event_age=rate)
        self.rule = events.Rule(
            self,
            "Schedule",
            description="Runs DriftAudit: the next part of the live search table's comparison with TripTable",
            schedule=events.Schedule.rate(rate),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2, max_event_age=rate)],
        )
        drifted = cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name="DriftedTrips",
            dimensions_map={"service": AUDIT_SERVICE},
            statistic="Sum",
            period=rate,
        )
        above_zero_alarm(
            self,
            "DriftedTripsAlarm",
            drifted,
            "The search table showed trips unlike TripTable, still so after the settle time: the audit logged each "
            f"('trip drifted', with what differs) and repaired it if repair is on. Runbook: {RUNBOOK}",
        )
        above_zero_alarm(
            self,
            "DriftAuditErrorsAlarm",
            self.function.metric_errors(period=rate),
            f"DriftAudit runs fail: that part of the tables goes unaudited. Runbook: {RUNBOOK}",
        )
