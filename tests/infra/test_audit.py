"""DriftAudit in the template: its schedule and settings (defaults and switches), one run at a time and no retried
run, what it may touch (read TripTable, read and write the search tables and its cursor, nothing else), the alarms."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized, synthesize
from tests.infra.template_queries import actions_of, function_id, logical_id, referenced_ids, statements_of

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

HANDLER = "services.trip.handlers.drift_audit.lambda_handler"
PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId"}
DYNAMODB_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = {
        "driftAuditRateMinutes": "360",  # the longest: Lambda keeps an asynchronous event 6 hours at most
        "driftAuditSegments": "4",
        "driftAuditReadBudget": "500",
        "driftAuditSettleSeconds": "5",
        "driftAuditRepair": "false",
    }
    return synthesize(tmp_path_factory.mktemp("cdk.out.audit"), context)


def test_a_rule_runs_the_audit_every_15_minutes_by_default(synthesized: Synthesized) -> None:
    function = function_id(synthesized.resources, HANDLER)
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(15 minutes)",
            "State": "ENABLED",
            "Targets": [
                {
                    "Arn": {"Fn::GetAtt": [function, "Arn"]},
                    "Id": Match.any_value(),
                    "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 900},
                }
            ],
        },
    )


def test_the_function_audits_96_segments_of_2000_read_units_a_run_after_a_60_s_settle_and_repairs(
    synthesized: Synthesized,
) -> None:
    resources = synthesized.resources
    properties = resources[function_id(resources, HANDLER)]["Properties"]
    variables = properties["Environment"]["Variables"]
    cursor = logical_id(resources, "AWS::SSM::Parameter", "Cursor")

    assert {name: variables[name] for name in variables if name.startswith("AUDIT_")} == {
        "AUDIT_CURSOR_PARAMETER": {"Ref": cursor},
        "AUDIT_SEGMENTS": "96",
        "AUDIT_READ_BUDGET": "2000",
        "AUDIT_SETTLE_SECONDS": "60",
        "AUDIT_REPAIR": "true",
    }
    assert variables["SEARCH_TABLES_PARAMETER"] == {"Ref": logical_id(resources, "AWS::SSM::Parameter", "SearchTables")}
    # one run at a time (the cursor is one value), 256 MB, the settle time + 5 minutes of reading
    assert (properties["ReservedConcurrentExecutions"], properties["MemorySize"], properties["Timeout"]) == (
        1,
        256,
        360,
    )
    assert resources[cursor]["Properties"]["Name"] == "/TripSagaStack/drift-audit-cursor"


def test_a_failed_or_throttled_run_is_not_retried(synthesized: Synthesized) -> None:
    function = function_id(synthesized.resources, HANDLER)
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": function}, "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 900},
    )


def test_the_switches_set_the_rate_segments_budget_settle_time_and_repair(switched: Synthesized) -> None:
    properties = switched.resources[function_id(switched.resources, HANDLER)]["Properties"]
    variables = properties["Environment"]["Variables"]

    assert (variables["AUDIT_SEGMENTS"], variables["AUDIT_READ_BUDGET"]) == ("4", "500")
    assert (variables["AUDIT_SETTLE_SECONDS"], variables["AUDIT_REPAIR"], properties["Timeout"]) == ("5", "false", 305)
    switched.template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(6 hours)"})
    switched.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 21_600}
    )


def test_the_audit_reads_trip_table_and_writes_only_the_search_tables_and_its_cursor(
    synthesized: Synthesized,
) -> None:
    resources = synthesized.resources
    statements = statements_of(resources, function_id(resources, HANDLER))
    trip_table = logical_id(resources, "AWS::DynamoDB::Table", "DataTripTable")
    search_table = logical_id(resources, "AWS::DynamoDB::Table", "DataTripSearchTable")
    cursor = logical_id(resources, "AWS::SSM::Parameter", "Cursor")

    writes = [statement for statement in statements if DYNAMODB_WRITES & set(actions_of(statement))]
    assert writes and all(trip_table not in referenced_ids(statement["Resource"]) for statement in writes)
    assert any(search_table in referenced_ids(statement["Resource"]) for statement in writes)
    assert any(
        "dynamodb:Scan" in actions_of(statement) and trip_table in referenced_ids(statement["Resource"])
        for statement in statements
    )
    ssm_writes = [statement for statement in statements if "ssm:PutParameter" in actions_of(statement)]
    assert [set(referenced_ids(statement["Resource"])) - PSEUDO for statement in ssm_writes] == [{cursor}]


def test_an_alarm_fires_on_any_drifted_trip_and_another_on_failed_runs(synthesized: Synthesized) -> None:
    function = function_id(synthesized.resources, HANDLER)
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "TripSaga",
            "MetricName": "DriftedTrips",
            "Dimensions": [{"Name": "service", "Value": "trip-audit"}],
            "Statistic": "Sum",
            "Period": 900,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            "AlarmDescription": Match.string_like_regexp("docs/drift-audit.md"),
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function}}],
            "Threshold": 0,
        },
    )
