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


def test_a_stack_deployed_before_write_sharding_keeps_its_table_and_names_its_layout(variant: Synthesized) -> None:
    """`searchTableLayout=unsharded`: the indexes exactly as the releases before write sharding declared them, so
    CloudFormation leaves the table as it is; the parameter tells the functions its layout."""
    resources = variant.resources
    table = logical_id(resources, "AWS::DynamoDB::Table", "DataTripSearchTable")
    properties = resources[table]["Properties"]
    parameter = resources[logical_id(resources, "AWS::SSM::Parameter", "SearchTables")]["Properties"]

    assert properties["AttributeDefinitions"] == [
        {"AttributeName": name, "AttributeType": "S"}
        for name in ("trip_id", "flight_status", "departure_time", "hotel_name_initial", "hotel_name_key")
    ]
    assert properties["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "flight_status-departure_time-index",
            "KeySchema": [
                {"AttributeName": "flight_status", "KeyType": "HASH"},
                {"AttributeName": "departure_time", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            "IndexName": "hotel_name_prefix-index",
            "KeySchema": [
                {"AttributeName": "hotel_name_initial", "KeyType": "HASH"},
                {"AttributeName": "hotel_name_key", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ]
    assert rendered_join(parameter["Value"]) == (
        f'{{"live": "<{table}>", "shadow": null, "layouts": {{"<{table}>": "unsharded"}}}}'
    )


def test_the_stack_outputs_the_parameters_name(synthesized: Synthesized) -> None:
    outputs = synthesized.template.find_outputs("SearchTablesParameter")
    parameter = logical_id(synthesized.resources, "AWS::SSM::Parameter", "SearchTables")
    assert outputs["SearchTablesParameter"]["Value"] == {"Ref": parameter}
