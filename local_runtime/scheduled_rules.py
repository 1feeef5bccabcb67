"""EventBridge's scheduled rules, which moto creates but never fires: each deployed ``AWS::Events::Rule`` with a
``rate(...)`` ``ScheduleExpression`` invokes its Lambda targets on schedule, as EventBridge does.

As on AWS, a rate rule first fires one period after it is created, then every period ("Creating a rule that runs on
a schedule", Amazon EventBridge User Guide), with the "Scheduled Event" EventBridge sends (source ``aws.events``,
detail-type ``Scheduled Event``, the rule's ARN in ``resources``), or the target's ``Input`` when it has one. Each
rule's invocations run one after another: a run longer than the period never overlaps the next, and the times that
passed meanwhile are skipped (on AWS, DriftAudit's reserved concurrency of 1 makes them wait in Lambda's queue, each
for at most its maximum event age, the rate; here they are simply not made up for).
``minute_s`` stretches or shrinks a schedule's minute: tests run a ``rate(1 minute)`` rule every few seconds.
``cron(...)`` rules are listed in the status but not run.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local_runtime.emulator.aws_clients import Endpoint
from local_runtime.emulator.deployer import ACCOUNT_ID, DeployedStack
from local_runtime.stopping import join_within

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_MINUTES = {"minute": 1, "hour": 60, "day": 1440}


@dataclass(frozen=True)
class ScheduledRule:
    name: str  # the rule's physical name
    expression: str
    minutes: int | None  # the rate's period; None for a cron expression (not run)
    targets: tuple[tuple[str, str | None], ...]  # (function name, the target's Input or None)


def scheduled_rules(stack: DeployedStack) -> list[ScheduledRule]:
    """The stack's enabled rules with a schedule and the functions they target, from its template."""
    resources = stack.template["Resources"]
    rules = []
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        expression = properties.get("ScheduleExpression")
        if resource["Type"] != "AWS::Events::Rule" or not expression or properties.get("State") == "DISABLED":
            continue
        targets = tuple(
            (stack.physical_ids[arn["Fn::GetAtt"][0]], target.get("Input"))
            for target in properties.get("Targets", [])
            if isinstance(arn := target.get("Arn"), dict)
            and "Fn::GetAtt" in arn
            and resources.get(arn["Fn::GetAtt"][0], {}).get("Type") == "AWS::Lambda::Function"
        )
        rate = _RATE.match(expression)
        minutes = int(rate.group(1)) * _MINUTES[rate.group(2).rstrip("s")] if rate else None
        rules.append(ScheduledRule(stack.physical_ids.get(logical_id, logical_id), expression, minutes, targets))
    return rules


@dataclass
class _Fired:
    invocations: int = 0
    errors: int = 0
    last_fired_at: str | None = None
    last_error: str | None = None
    next_due_in_s: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Scheduler:
    """Fires each rate rule's targets on schedule until stopped; `status()` for /_local_runtime/status."""

    def __init__(self, rules: list[ScheduledRule], endpoint: Endpoint, minute_s: float = 60.0) -> None:
        self.rules, self.endpoint, self.minute_s = rules, endpoint, minute_s
        self._fired = {rule.name: _Fired() for rule in rules}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for rule in self.rules:
            if rule.minutes is None or not rule.targets:
                continue
            thread = threading.Thread(target=self._run, args=(rule,), name=f"schedule-{rule.name}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            join_within(thread)

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "rule": rule.name,
                "schedule": rule.expression,
                "periodSeconds": None if rule.minutes is None else rule.minutes * self.minute_s,
                "targets": [name for name, _ in rule.targets],
                "invocations": self._fired[rule.name].invocations,
                "errors": self._fired[rule.name].errors,
                "lastFiredAt": self._fired[rule.name].last_fired_at,
                "lastError": self._fired[rule.name].last_error,
                "nextDueInSeconds": self._fired[rule.name].next_due_in_s,
            }
            for rule in self.rules
        ]

    def _run(self, rule: ScheduledRule) -> None:
        assert rule.minutes is not None
        period_s = rule.minutes * self.minute_s
        due = time.monotonic() + period_s
        aws_lambda = self.endpoint.lambda_client()
        fired = self._fired[rule.name]
        while True:
            fired.next_due_in_s = round(max(0.0, due - time.monotonic()), 1)
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            for function_name, target_input in rule.targets:
                self._invoke(aws_lambda, rule, function_name, target_input)
            while due <= time.monotonic():  # the times that passed during a long run are not made up for
                due += period_s

    def _invoke(self, aws_lambda: Any, rule: ScheduledRule, function_name: str, target_input: str | None) -> None:
        now = datetime.now(UTC)
        payload = target_input or json.dumps(scheduled_event(rule, self.endpoint.region, now))
        fired = self._fired[rule.name]
        try:
            response = aws_lambda.invoke(FunctionName=function_name, Payload=payload.encode())
            error = response.get("FunctionError")
            detail = response["Payload"].read().decode(errors="replace")[:500] if error else None
        except Exception as failure:  # the emulator down or the function gone: told in the status, not fatal
            error, detail = type(failure).__name__, str(failure)[:500]
        with fired.lock:
            fired.invocations += 1
            fired.last_fired_at = now.isoformat(timespec="seconds").replace("+00:00", "Z")
            if error:
                fired.errors += 1
                fired.last_error = f"{function_name}: {error}: {detail}"
        if error:
            log.warning("scheduled rule %s: %s failed: %s", rule.name, function_name, detail)


def scheduled_event(rule: ScheduledRule, region: str, now: datetime) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's target (Amazon EventBridge User Guide, "Amazon EventBridge
    events": a scheduled event's `time` is the time it was scheduled, to the second)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule.name}"],
        "detail": {},
    }
