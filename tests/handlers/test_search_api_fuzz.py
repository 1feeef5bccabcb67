"""SearchTrips fuzzed from its published OpenAPI document (schemathesis, infra/openapi.py), in process, on moto.

Every request goes the way API Gateway sends it: the local runtime's REST proxy event builder turns the HTTP
request into the event, `lambda_handler` answers it, and the runtime's response mapping turns the answer back.
The search table holds trips the stream consumer projected, so searches also answer 200 with pages; every
`next_token` a page hands out is followed with the same query and that page checked too.

Checks on every answer: no 5xx; the status code and the body are the ones the description documents; a 400
names the parameter it rejects (in `parameter` and in the message); a 404 comes only from GET /trips/{trip_id}.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from werkzeug.wrappers import Request

from infra import openapi
from local_runtime.api_gateway.proxy import gateway_error, http_response, path_pattern, proxy_event
from local_runtime.emulator.api_fidelity import raw_path
from services.trip import consumer
from services.trip.handlers import search_trips, stream_consumer
from tests import factories as f

CONTEXT: Any = f.LambdaContext(function_name="TripSagaStack-SearchTrips")
SCHEMA = schemathesis.openapi.from_dict(openapi.document())
# API Gateway's resources are the description's paths; a literal segment wins over a path parameter.
RESOURCES = sorted(SCHEMA.raw_schema["paths"].items(), key=lambda resource: resource[0].count("{"))
# Bounded for CI: each example is one moto query; a fixed seed makes a failure reproducible. The examples share
# one projected table: the API only reads it.
FUZZ_SETTINGS = settings(
    max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

Environ = dict[str, Any]


def search_api(environ: Environ, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI app serving the search API as API Gateway's Lambda proxy integration does."""
    request, path = Request(environ), raw_path(environ)
    for resource_path, methods in RESOURCES:
        match = path_pattern(resource_path).fullmatch(path)
        if match is not None and request.method.lower() in methods:
            resource = {"id": "fuzz", "path": resource_path}
            event = proxy_event(request, str(uuid.uuid4()), "fuzz", "prod", path, resource, match.groupdict())
            answer = search_trips.lambda_handler(event, CONTEXT)
            return http_response(None, json.dumps(answer).encode())(environ, start_response)
    # API Gateway answers a method or path without a resource itself (the Lambda never sees it)
    return gateway_error(403, "Missing Authentication Token", "MissingAuthenticationTokenException")(
        environ, start_response
    )


def names_the_parameter(_: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A 400 names one of the operation's parameters, in `parameter` and in the message; a 404 is an unknown trip."""
    if response.status_code == 404:
        assert case.operation.path == "/trips/{trip_id}", f"404 from {case.operation.path}: {response.text}"
        return
    if response.status_code != 400:
        return
    body = response.json()
    parameters = {parameter.name: parameter.location.value for parameter in case.operation.iter_parameters()}
    name = body.get("parameter")
    assert name in parameters, f"400 names {name!r}, not a parameter of {case.operation.label}: {body}"
    assert body["message"].startswith(f"invalid {parameters[name]} parameter '{name}': "), body


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, names_the_parameter]


TRIP_IDS = [f"trip-{n:02d}" for n in range(30)]


@pytest.fixture
def projected_trips(search_table: Any, dlq_url: str) -> Iterator[None]:
    """Trips the stream consumer projected: both statuses, a spread of departures, hotels that share prefixes."""
    changes = []
    for n, trip_id in enumerate(TRIP_IDS):
        status = "CANCELLED" if n % 3 == 0 else "CONFIRMED"
        departure = f"2026-03-{1 + n % 28:02d}T{n % 24:02d}:00:00"
        changes.append(f.insert(f.flight(trip_id, status=status, departure_time=departure)))
        changes.append(f.insert(f.hotel(trip_id, hotel_name=f"{('Grand', 'Grande', 'Hôtel')[n % 3]} {n:02d}")))
        changes.append(f.insert(f.payment(trip_id)))
    records = [f.stream_record(change) for change in changes]
    assert stream_consumer.lambda_handler(f.event(*records), CONTEXT) == {"batchItemFailures": []}
    yield
    consumer.clear_caches()
    search_trips.clear_caches()


def call_and_validate_every_page(case: schemathesis.Case) -> None:
    response = case.call_and_validate(app=search_api, checks=CHECKS)
    while response.status_code == 200 and "next_token" in response.json():
        case.query = {**(case.query or {}), "next_token": response.json()["next_token"]}
        response = case.call_and_validate(app=search_api, checks=CHECKS)


@SCHEMA.parametrize()
@FUZZ_SETTINGS
def test_search_api_answers_every_request_as_described(projected_trips: None, case: schemathesis.Case) -> None:
    call_and_validate_every_page(case)


# Generated values rarely name a status or a hotel that exists: these searches find trips, over many pages
# (hotel names decomposed and full-width too).
MATCHING_SEARCHES = st.one_of(
    st.fixed_dictionaries(
        {"status": st.sampled_from(["CONFIRMED", "cancelled", "Confirmed"])},
        optional={
            "from": st.sampled_from(["2026-03-01", "2026-03-10T08:00", "2026-03-10 08:00:00"]),
            "to": st.sampled_from(["2026-03-31", "2026-03-20T18:30:00", "2026-03-20T18:30:00.5"]),
        },
    ),
    st.fixed_dictionaries(
        {
            "hotel_name": st.sampled_from(
                ["g", "GRAND", "Grande 0", "hôtel", "HO\u0302TEL", "\uff47\uff52\uff41\uff4e\uff44"]
            )
        }
    ),
)


@given(criteria=MATCHING_SEARCHES, limit=st.integers(min_value=1, max_value=100))
@settings(FUZZ_SETTINGS, max_examples=30)
def test_every_page_of_a_matching_search_is_as_described(
    projected_trips: None, criteria: dict[str, str], limit: int
) -> None:
    call_and_validate_every_page(SCHEMA["/trips/search"]["GET"].Case(query={**criteria, "limit": limit}))


def test_every_projected_trip_is_answered_as_described(projected_trips: None) -> None:
    for trip_id in TRIP_IDS:
        response = (
            SCHEMA["/trips/{trip_id}"]["GET"]
            .Case(path_parameters={"trip_id": trip_id})
            .call_and_validate(app=search_api, checks=CHECKS)
        )
        assert (response.status_code, response.json()["trip_id"]) == (200, trip_id)
