"""The search API: two GET routes on SearchTrips, stage throttling, access logs, the ApiUrl the seed reads."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from infra import openapi
from tests.infra.conftest import Synthesized
from tests.infra.template_queries import function_id, logical_id, rendered_join

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

SEARCH_HANDLER = "services.trip.handlers.search_trips.lambda_handler"


def test_stage_throttles_logs_access_and_traces(synthesized: Synthesized) -> None:
    access_logs = logical_id(synthesized.resources, "AWS::Logs::LogGroup", "AccessLogs")
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "prod",
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": [
                Match.object_like(
                    {"HttpMethod": "*", "ResourcePath": "/*", "ThrottlingRateLimit": 1000, "ThrottlingBurstLimit": 500}
                )
            ],
        },
    )
    [stage] = [value for value in synthesized.resources.values() if value["Type"] == "AWS::ApiGateway::Stage"]
    # The log group's ARN without the ":*" its Arn attribute ends in (cdk.json's
    # @aws-cdk/aws-apigateway:logGroupDestinationArnWithoutWildcard), the form API Gateway's AccessLogSetting names.
    assert rendered_join(stage["Properties"]["AccessLogSetting"]["DestinationArn"]) == (
        f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<{access_logs}>"
    )


@pytest.mark.parametrize("path_part", ["search", "{trip_id}"])
def test_get_route_proxies_to_search_trips(synthesized: Synthesized, path_part: str) -> None:
    resources = synthesized.resources
    [resource] = [
        key
        for key, value in resources.items()
        if value["Type"] == "AWS::ApiGateway::Resource" and value["Properties"]["PathPart"] == path_part
    ]
    [trips] = [
        key
        for key, value in resources.items()
        if value["Type"] == "AWS::ApiGateway::Resource" and value["Properties"]["PathPart"] == "trips"
    ]
    assert resources[resource]["Properties"]["ParentId"] == {"Ref": trips}
    method = next(
        value["Properties"]
        for value in resources.values()
        if value["Type"] == "AWS::ApiGateway::Method" and value["Properties"]["ResourceId"] == {"Ref": resource}
    )
    assert method["HttpMethod"] == "GET"
    assert method["Integration"]["Type"] == "AWS_PROXY"
    uri = rendered_join(method["Integration"]["Uri"])
    assert f"<{function_id(resources, SEARCH_HANDLER)}.Arn>" in uri


def test_api_serves_exactly_the_routes_docs_openapi_json_documents(synthesized: Synthesized) -> None:
    resources = synthesized.resources

    def path(resource_id: str) -> str:
        """A resource's path: a parent that is no Ref is the API's root resource."""
        properties = resources[resource_id]["Properties"]
        parent = properties["ParentId"]
        return f"{path(parent['Ref']) if 'Ref' in parent else ''}/{properties['PathPart']}"

    served = [
        (path(value["Properties"]["ResourceId"]["Ref"]), value["Properties"]["HttpMethod"].lower())
        for value in resources.values()
        if value["Type"] == "AWS::ApiGateway::Method"
    ]
    documented = [(route, method) for route, item in openapi.document()["paths"].items() for method in item]

    assert sorted(served) == sorted(documented)


def methods(synthesized: Synthesized) -> dict[tuple[str, str], dict[str, object]]:
    """(resource path part, HTTP method) -> the method's properties."""
    resources = synthesized.resources
    return {
        (
            resources[value["Properties"]["ResourceId"]["Ref"]]["Properties"]["PathPart"],
            value["Properties"]["HttpMethod"],
        ): value["Properties"]
        for value in resources.values()
        if value["Type"] == "AWS::ApiGateway::Method"
    }


def test_without_allowed_origins_there_is_no_preflight_route(synthesized: Synthesized) -> None:
    assert sorted(methods(synthesized)) == [("search", "GET"), ("{trip_id}", "GET")]


def test_allowed_origins_route_each_preflight_to_search_trips_which_knows_them(variant: Synthesized) -> None:
    resources = variant.resources
    found = methods(variant)
    search_trips = f"<{function_id(resources, SEARCH_HANDLER)}.Arn>"

    assert sorted(found) == [("search", "GET"), ("search", "OPTIONS"), ("{trip_id}", "GET"), ("{trip_id}", "OPTIONS")]
    for part in ("search", "{trip_id}"):
        integration = found[(part, "OPTIONS")]["Integration"]
        assert integration["Type"] == "AWS_PROXY"  # type: ignore[index]
        assert search_trips in rendered_join(integration["Uri"])  # type: ignore[index]
    variables = resources[function_id(resources, SEARCH_HANDLER)]["Properties"]["Environment"]["Variables"]
    assert variables["API_ALLOWED_ORIGINS"] == "http://127.0.0.1:8000,https://app.example.com"


def test_search_trips_finds_the_live_search_table_through_the_parameter(synthesized: Synthesized) -> None:
    resources = synthesized.resources
    variables = resources[function_id(resources, SEARCH_HANDLER)]["Properties"]["Environment"]["Variables"]
    assert variables["SEARCH_TABLES_PARAMETER"] == {"Ref": logical_id(resources, "AWS::SSM::Parameter", "SearchTables")}
    assert variables["SEARCH_TABLES_MAX_AGE_SECONDS"] == "30"
    assert not {"SEARCH_TABLE_NAME", "TABLE_NAME", "DLQ_URL", "API_ALLOWED_ORIGINS"} & set(variables)


def test_api_url_output_is_the_stage_url_without_trailing_slash(template: Template, synthesized: Synthesized) -> None:
    api = logical_id(synthesized.resources, "AWS::ApiGateway::RestApi", "TripSearchApi")
    outputs = template.find_outputs("ApiUrl")
    assert rendered_join(outputs["ApiUrl"]["Value"]) == (
        f"https://<{api}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/prod"
    )
