"""The search-tables parameter: the stack's own table is the first live one, with no shadow."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synthesized
from tests.infra.template_queries import logical_id, rendered_join

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]


def test_the_parameter_names_the_stacks_table_live_and_no_shadow(synthesized: Synthesized) -> None:
    resources = synthesized.resources
    parameter = resources[logical_id(resources, "AWS::SSM::Parameter", "SearchTables")]["Properties"]
    table = logical_id(resources, "AWS::DynamoDB::Table", "DataTripSearchTable")

    assert parameter["Name"] == "/TripSagaStack/search-tables"
    assert parameter["Type"] == "String"
    assert rendered_join(parameter["Value"]) == f'{{"live": "<{table}>", "shadow": null}}'


def test_the_stack_outputs_the_parameters_name(synthesized: Synthesized) -> None:
    outputs = synthesized.template.find_outputs("SearchTablesParameter")
    parameter = logical_id(synthesized.resources, "AWS::SSM::Parameter", "SearchTables")
    assert outputs["SearchTablesParameter"]["Value"] == {"Ref": parameter}
