"""cdk-nag finds nothing unacknowledged, every acknowledgment has its reason; cfn-lint finds no error;
the outputs the seed and the local runtime read exist."""

from __future__ import annotations

import pytest
from cfnlint.api import lint
from cfnlint.config import ManualArgs

from tests.infra.conftest import Synthesized

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

OUTPUTS = [
    "ApiUrl",
    "TripTableName",
    "SearchTableName",
    "SearchTablesParameter",
    "ChangeStreamName",
    "DlqUrl",
    "StateMachineArn",
]


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    [report] = synthesized.validation_report["pluginReports"]
    assert report["pluginName"] == "AwsSolutions"
    assert report["violations"] == []
    assert report["conclusion"] == "success"


def test_every_acknowledgment_states_its_reason(synthesized: Synthesized) -> None:
    [report] = synthesized.validation_report["pluginReports"]
    acknowledged = report["suppressedViolations"]
    assert acknowledged, "expected the documented acknowledgments (IAM5, L1, APIG4...)"
    for finding in acknowledged:
        assert len(finding["reason"]) > 40, finding["ruleName"]


def test_cfn_lint_finds_no_error(synthesized: Synthesized) -> None:
    matches = lint(synthesized.template_text, config=ManualArgs(regions=["us-east-1"]))
    errors = [f"{match.rule.id}: {match.message} ({match.path})" for match in matches if match.rule.id[0] == "E"]
    assert errors == []


@pytest.mark.parametrize("output", OUTPUTS)
def test_output_exists(synthesized: Synthesized, output: str) -> None:
    assert output in synthesized.template.to_json()["Outputs"]


def test_the_stack_has_these_outputs_and_no_other_spelling_of_one(synthesized: Synthesized) -> None:
    # the RestApi's automatic Endpoint output named the stage URL again, with a trailing slash
    assert sorted(synthesized.template.to_json()["Outputs"]) == sorted(OUTPUTS)
