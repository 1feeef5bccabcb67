"""The local runtime's scheduled rules: which rules of a deployed template run, how often, and what they invoke."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from local_runtime.emulator.deployer import DeployedStack
from local_runtime.scheduled_rules import ScheduledRule, scheduled_event, scheduled_rules


def rule(expression: str | None, target: str = "Audit", state: str = "ENABLED", **target_extra: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {"State": state, "Targets": [{"Arn": {"Fn::GetAtt": [target, "Arn"]}, **target_extra}]}
    if expression is not None:
        properties["ScheduleExpression"] = expression
    return {"Type": "AWS::Events::Rule", "Properties": properties}


def stack(**rules: dict[str, Any]) -> DeployedStack:
    resources = {
        "Audit": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        **rules,
    }
    physical = {"Audit": "Stack-Audit-ABC", **{name: f"Stack-{name}-XYZ" for name in rules}}
    return DeployedStack("Stack", {"Resources": resources}, physical, {})


def test_rate_rules_run_their_functions_every_period_in_minutes() -> None:
    found = scheduled_rules(
        stack(
            Every15=rule("rate(15 minutes)"),
            Hourly=rule("rate(1 hour)", Input='{"x": 1}'),
            Daily=rule("rate(2 days)"),
        )
    )

    assert found == [
        ScheduledRule("Stack-Every15-XYZ", "rate(15 minutes)", 15, (("Stack-Audit-ABC", None),)),
        ScheduledRule("Stack-Hourly-XYZ", "rate(1 hour)", 60, (("Stack-Audit-ABC", '{"x": 1}'),)),
        ScheduledRule("Stack-Daily-XYZ", "rate(2 days)", 2880, (("Stack-Audit-ABC", None),)),
    ]


def test_disabled_pattern_and_non_function_rules_are_left_out_and_cron_is_listed_but_not_timed() -> None:
    found = scheduled_rules(
        stack(
            Off=rule("rate(1 minute)", state="DISABLED"),
            Pattern=rule(None),
            ToQueue=rule("rate(5 minutes)", target="Queue"),
            Nightly=rule("cron(0 3 * * ? *)"),
        )
    )

    assert [(r.name, r.minutes, r.targets) for r in found] == [
        ("Stack-ToQueue-XYZ", 5, ()),
        ("Stack-Nightly-XYZ", None, (("Stack-Audit-ABC", None),)),
    ]


def test_the_event_is_eventbridgesscheduled_event() -> None:
    event = scheduled_event(ScheduledRule("R", "rate(1 minute)", 1, ()), "us-east-1", datetime(2026, 3, 1, tzinfo=UTC))

    assert json.loads(json.dumps(event)) | {"id": "?"} == {
        "version": "0",
        "id": "?",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-03-01T00:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/R"],
        "detail": {},
    }
