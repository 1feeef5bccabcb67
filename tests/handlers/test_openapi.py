"""docs/openapi.json: generated from SearchTrips' resolver, valid OpenAPI 3.1, and true of the handler.

Every example in the document is a request (its summary, `GET <path>?<query>`) and the body answered: each is sent
to the handler, as API Gateway REST would hand it over, over trips the stream consumer projected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import openapi_spec_validator
import pytest

from infra import openapi
from services.trip import consumer
from services.trip.handlers import search_trips, stream_consumer
from tests import factories as f
from tests.handlers.test_search_trips import api_event

CONTEXT: Any = f.LambdaContext()
DOCUMENT = openapi.document()
OPERATIONS = {path: item["get"] for path, item in DOCUMENT["paths"].items()}
EXAMPLES = [
    pytest.param(path, int(status), example, id=name)
    for path, operation in OPERATIONS.items()
    for status, response in operation["responses"].items()
    for name, example in response["content"]["application/json"]["examples"].items()
]
# The trips the examples show, written to TripTable as the saga writes them (tests/factories.py).
TOUR_ITEMS = [
    f.flight("trip-tour-1"),
    f.hotel("trip-tour-1"),
    f.payment("trip-tour-1"),
    f.flight("trip-tour-2", flight_number="NH005", departure_time="2026-03-20T08:30", arrival_time="2026-03-20T09:55"),
    f.hotel("trip-tour-2", hotel_name="Hotel Nikko Osaka", check_in_date="2026-03-20", check_out_date="2026-03-22"),
    f.payment("trip-tour-2", amount=Decimal("412.35"), currency="USD"),
]


def test_docs_openapi_json_is_what_the_resolver_generates() -> None:
    published = openapi.DOCUMENT_PATH.read_text(encoding="utf-8")

    assert published == openapi.render(), "docs/openapi.json is stale: run `make openapi` and commit the result"


def test_document_is_valid_openapi_3_1() -> None:
    assert DOCUMENT["openapi"] == "3.1.0"

    openapi_spec_validator.validate(DOCUMENT)  # raises OpenAPIValidationError naming the fault


def test_document_lists_only_the_answers_the_handler_gives() -> None:
    # Powertools' 422 is answered 400 (`_reject_invalid_request`), so it is left out.
    answers = {path: sorted(operation["responses"]) for path, operation in OPERATIONS.items()}

    assert answers == {"/trips/{trip_id}": ["200", "400", "404"], "/trips/search": ["200", "400"]}
    assert sorted(DOCUMENT["components"]["schemas"]) == ["NotFound", "ParameterError", "SearchResult", "TripView"]


@pytest.fixture
def tour_trips(search_table: Any, dlq_url: str) -> Iterator[None]:
    records = [f.stream_record(f.insert(item)) for item in TOUR_ITEMS]
    assert stream_consumer.lambda_handler(f.event(*records), CONTEXT) == {"batchItemFailures": []}
    yield
    consumer.clear_caches()
    search_trips.clear_caches()


def answer(request: str) -> tuple[str, int, Any]:
    """The route a request line (`GET /trips/search?status=A&status=B`) reaches, and the handler's answer."""
    method, target = request.split(" ", 1)
    url = urlsplit(target)
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True, strict_parsing=bool(url.query)):
        values.setdefault(name, []).append(value)
    route = url.path if url.path == search_trips.SEARCH_PATH else "/trips/{trip_id}"
    query = {name: given[0] for name, given in values.items() if len(given) == 1}
    repeated = {name: given for name, given in values.items() if len(given) > 1}
    response = search_trips.lambda_handler(
        api_event(route, url.path, query, repeated) | {"httpMethod": method}, CONTEXT
    )
    return route, response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(("path", "status", "example"), EXAMPLES)
def test_each_example_is_what_the_handler_answers_to_its_request(
    tour_trips: None, path: str, status: int, example: dict[str, Any]
) -> None:
    route, answered_status, body = answer(example["summary"])

    assert (route, answered_status, body) == (path, status, example["value"])


@pytest.mark.parametrize(("path", "status", "example"), EXAMPLES)
def test_each_example_fits_its_response_schema(path: str, status: int, example: dict[str, Any]) -> None:
    schema = OPERATIONS[path]["responses"][str(status)]["content"]["application/json"]["schema"]

    jsonschema.Draft202012Validator({**schema, "components": DOCUMENT["components"]}).validate(example["value"])


@pytest.mark.parametrize(("path", "status", "example"), [e for e in EXAMPLES if e.values[1] == 400])
def test_each_rejection_names_a_documented_parameter(path: str, status: int, example: dict[str, Any]) -> None:
    parameters = {parameter["name"]: parameter["in"] for parameter in OPERATIONS[path]["parameters"]}
    name = example["value"]["parameter"]

    assert name in parameters
    assert example["value"]["message"].startswith(f"invalid {parameters[name]} parameter '{name}': ")


def test_every_rule_of_the_search_has_an_example() -> None:
    rejected = {e.values[2]["value"]["parameter"] for e in EXAMPLES if e.values[:2] == ("/trips/search", 400)}

    assert rejected == {parameter["name"] for parameter in OPERATIONS["/trips/search"]["parameters"]}


def test_docs_api_md_shows_every_documented_error() -> None:
    guide = (openapi.DOCUMENT_PATH.parent / "API.md").read_text(encoding="utf-8")
    messages = [e.values[2]["value"]["message"] for e in EXAMPLES if e.values[1] != 200]

    assert [message for message in messages if f"`{message}`" not in guide] == []
