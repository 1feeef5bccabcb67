"""The local API Gateway front answers curl as API Gateway does: UTF-8 URLs, proxy events, its own errors.

AWS facts: a REST API's Lambda proxy event keeps the client's percent-encoding in ``path`` and
``pathParameters`` and decodes the query string parameters (live captures: hotsock/voker
``vokerhttp/paths_test.go``); ``headers`` and ``multiValueHeaders`` of a proxy response merge, the latter
winning (Developer Guide, "Support for multi-value headers and query string parameters"); unknown routes
are a 403 ``MissingAuthenticationTokenException``.
"""

from __future__ import annotations

import http.client
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from boto3.dynamodb.types import TypeDeserializer

from local_runtime.api_gateway.proxy import MAX_URL_CHARACTERS
from local_runtime.scenarios import BOOKED, statuses, trip_input
from tests.local_runtime_session import RunningRuntime, eventually

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("runtime")]

ECHO_FUNCTION = Path(__file__).parent / "functions" / "proxy_echo.py"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _RawUtf8Connection(http.client.HTTPConnection):
    """Sends the request target's characters as raw UTF-8 bytes, as curl does with a URL typed as ``Hôtel``."""

    def _encode_request(self, request: str) -> bytes:
        return request.encode("utf-8")


def http_get(url: str, *, raw_utf8: bool = False) -> HttpAnswer:
    """GET ``url`` byte for byte as written: percent-encoded parts stay so, other characters go as UTF-8."""
    parts = urlsplit(url)
    connection_type = _RawUtf8Connection if raw_utf8 else http.client.HTTPConnection
    connection = connection_type(parts.netloc, timeout=30)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        return HttpAnswer(response.status, response.headers, response.read())
    finally:
        connection.close()


@dataclass(frozen=True)
class BookedTrip:
    trip_id: str
    hotel_name: str


@pytest.fixture(scope="module")
def accented_trip(local_runtime: RunningRuntime) -> BookedTrip:
    """A trip booked through the saga whose id and hotel name are not ASCII, once its document is projected."""
    suffix = uuid.uuid4().hex[:8]
    trip = BookedTrip(trip_id=f"trîp-é1-{suffix}", hotel_name=f"Hôtel-Ünïcode-{suffix}")
    saga = trip_input(trip.trip_id, hotel_name=trip.hotel_name, day="2026-10-05")
    local_runtime.client("stepfunctions").start_execution(
        stateMachineArn=local_runtime.outputs["StateMachineArn"], input=json.dumps(saga)
    )
    table, key = local_runtime.outputs["SearchTableName"], {"trip_id": {"S": trip.trip_id}}

    def booked() -> bool:
        item = local_runtime.client("dynamodb").get_item(TableName=table, Key=key).get("Item", {})
        return statuses({name: TypeDeserializer().deserialize(value) for name, value in item.items()}) == BOOKED

    eventually(booked, timeout=180)
    return trip


def test_percent_encoded_utf8_path_finds_the_trip(local_runtime: RunningRuntime, accented_trip: BookedTrip) -> None:
    answer = http_get(f"{local_runtime.outputs['ApiUrl']}/trips/{quote(accented_trip.trip_id)}")
    assert (answer.status, answer.json()["trip_id"]) == (200, accented_trip.trip_id)


def test_raw_utf8_path_finds_the_trip(local_runtime: RunningRuntime, accented_trip: BookedTrip) -> None:
    answer = http_get(f"{local_runtime.outputs['ApiUrl']}/trips/{accented_trip.trip_id}", raw_utf8=True)
    assert (answer.status, answer.json()["trip_id"]) == (200, accented_trip.trip_id)


@pytest.mark.parametrize("raw_utf8", [False, True], ids=["percent-encoded", "raw"])
def test_utf8_hotel_name_query_finds_the_trip(
    local_runtime: RunningRuntime, accented_trip: BookedTrip, raw_utf8: bool
) -> None:
    prefix = accented_trip.hotel_name.lower()  # the search is a case-insensitive prefix
    query = prefix if raw_utf8 else quote(prefix)
    answer = http_get(f"{local_runtime.outputs['ApiUrl']}/trips/search?hotel_name={query}", raw_utf8=raw_utf8)
    assert answer.status == 200
    assert [trip["trip_id"] for trip in answer.json()["trips"]] == [accented_trip.trip_id]


def test_unknown_route_is_a_missing_authentication_token(local_runtime: RunningRuntime) -> None:
    answer = http_get(f"{local_runtime.outputs['ApiUrl']}/nowhere")
    assert (answer.status, answer.body) == (403, b'{"message":"Missing Authentication Token"}')
    assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_unknown_stage_is_forbidden(local_runtime: RunningRuntime) -> None:
    api_url = local_runtime.outputs["ApiUrl"]
    answer = http_get(api_url.replace("/prod/_user_request_", "/nostage/_user_request_") + "/trips/search")
    assert (answer.status, answer.body) == (403, b'{"message":"Forbidden"}')
    assert answer.headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_a_url_at_the_regional_api_limit_reaches_the_function(local_runtime: RunningRuntime) -> None:
    search = f"{local_runtime.outputs['ApiUrl']}/trips/search?hotel_name="
    target = urlsplit(search).path + "?" + urlsplit(search).query

    answer = http_get(search + "h" * (MAX_URL_CHARACTERS - len(target)))

    # SearchTrips answered it: no hotel name is that long
    assert (answer.status, answer.json()["parameter"]) == (400, "hotel_name")


@pytest.mark.parametrize("characters", [MAX_URL_CHARACTERS + 1, 100_000])
def test_a_url_over_the_regional_api_limit_is_a_414_in_json(local_runtime: RunningRuntime, characters: int) -> None:
    # given a search whose hotel_name makes the request target `characters` long (100,000: past http.server's own
    # 64 KiB request line, which it refused with an HTML page)
    search = f"{local_runtime.outputs['ApiUrl']}/trips/search?hotel_name="
    target = urlsplit(search).path + "?" + urlsplit(search).query

    answer = http_get(search + "h" * (characters - len(target)))

    assert answer.status == 414
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"message": "Request-URI Too Long"}


@pytest.fixture(scope="module")
def echo_api_url(local_runtime: RunningRuntime) -> Iterator[str]:
    """A REST API whose ``/items/{item}`` is a Lambda proxy integration answering with its event."""
    suffix = uuid.uuid4().hex[:8]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.write(ECHO_FUNCTION, ECHO_FUNCTION.name)
    role = local_runtime.client("iam").create_role(
        RoleName=f"proxy-echo-{suffix}", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    function_arn = local_runtime.client("lambda").create_function(
        FunctionName=f"proxy-echo-{suffix}",
        Runtime="python3.12",
        Role=role,
        Handler="proxy_echo.lambda_handler",
        Code={"ZipFile": package.getvalue()},
    )["FunctionArn"]
    apigateway = local_runtime.client("apigateway")
    api_id = apigateway.create_rest_api(name=f"proxy-echo-{suffix}")["id"]
    root = next(r["id"] for r in apigateway.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    items = apigateway.create_resource(restApiId=api_id, parentId=root, pathPart="items")["id"]
    item = apigateway.create_resource(restApiId=api_id, parentId=items, pathPart="{item}")["id"]
    apigateway.put_method(restApiId=api_id, resourceId=item, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(
        restApiId=api_id,
        resourceId=item,
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations",
    )
    apigateway.create_deployment(restApiId=api_id, stageName="test")
    yield f"{local_runtime.endpoint_url}/restapis/{api_id}/test/_user_request_"
    apigateway.delete_rest_api(restApiId=api_id)


def test_proxy_event_keeps_the_path_encoded_and_decodes_the_query(echo_api_url: str) -> None:
    # a "+" in a query is a space (as in aws/aws-cdk#19827's event from AWS), "%2B" a plus
    answer = http_get(f"{echo_api_url}/items/caf%C3%A9%2Fbar?name=caf%C3%A9&tag=a%26b&tag=%E2%9C%93&q=a+b%2Bc")
    event = answer.json()
    assert (event["resource"], event["path"]) == ("/items/{item}", "/items/caf%C3%A9%2Fbar")
    assert event["pathParameters"] == {"item": "caf%C3%A9%2Fbar"}
    assert event["requestContext"]["path"] == "/test/items/caf%C3%A9%2Fbar"
    assert event["queryStringParameters"] == {"name": "café", "tag": "✓", "q": "a b+c"}
    assert event["multiValueQueryStringParameters"] == {"name": ["café"], "tag": ["a&b", "✓"], "q": ["a b+c"]}


def test_raw_utf8_bytes_in_the_url_count_as_their_percent_encoding(echo_api_url: str) -> None:
    event = http_get(f"{echo_api_url}/items/café?name=café", raw_utf8=True).json()
    assert (event["path"], event["pathParameters"]) == ("/items/caf%C3%A9", {"item": "caf%C3%A9"})
    assert event["queryStringParameters"] == {"name": "café"}


def test_multi_value_headers_win_over_headers_of_the_same_name(echo_api_url: str) -> None:
    answer = http_get(f"{echo_api_url}/items/one")
    assert answer.headers.get_all("X-Echo") == ["first", "second"]
    assert answer.headers.get_all("Content-Type") == ["application/json"]


def test_trailing_slash_selects_the_same_resource(echo_api_url: str) -> None:
    event = http_get(f"{echo_api_url}/items/one/").json()
    assert (event["resource"], event["path"], event["pathParameters"]) == (
        "/items/{item}",
        "/items/one/",
        {"item": "one"},
    )


def test_answer_names_the_request_id_the_function_saw(echo_api_url: str) -> None:
    answer = http_get(f"{echo_api_url}/items/one")
    assert answer.headers["x-amzn-RequestId"] == answer.json()["requestContext"]["requestId"]
