"""SearchTrips: API Gateway REST proxy events (and the seed's direct invocation) to search queries.

The handler only translates: query parameters to a `SearchQuery`, a path to a trip id (`trip_ids`), pages to
JSON whose numbers keep every digit (`exact_json`), domain errors to 400/404.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

# pydantic (the OpenAPI description of the responses) needs this TypedDict before Python 3.12
from typing_extensions import TypedDict

from services.trip import exact_json
from services.trip.config import search_settings
from services.trip.search import page_token
from services.trip.search.criteria import InvalidSearchParameter, search_query
from services.trip.search.documents import SearchResult, TripView, is_tombstone, public_view
from services.trip.search.reader import SearchTableReader
from services.trip.trip_ids import SEARCH_SEGMENT, InvalidTripId, trip_id_of_path_segment

TRIP_PATH_PREFIX = "/trips/"
SEARCH_PATH = f"{TRIP_PATH_PREFIX}{SEARCH_SEGMENT}"
TRIP_PATH = f"{TRIP_PATH_PREFIX}<trip_id>"

logger = Logger()
app = APIGatewayRestResolver(enable_validation=True)


@cache
def _reader() -> SearchTableReader:
    return SearchTableReader(boto3.resource("dynamodb").Table(search_settings().search_table_name))


class ParameterError(TypedDict):
    """The body of a 400: `parameter` names the rejected query or path parameter, `message` says why."""

    statusCode: int
    message: str
    parameter: str


class NotFound(TypedDict):
    """The body of a 404."""

    statusCode: int
    message: str


def _json(model: Any, description: str) -> OpenAPIResponse:
    """An answer's OpenAPI description; 200 bodies are written by `exact_json` (not Powertools' float conversion)."""
    return {"description": description, "content": {content_types.APPLICATION_JSON: {"model": model}}}


# Powertools also lists a 422 for its request validation: `_reject_invalid_request` answers those 400.
REJECTED = _json(ParameterError, "A parameter is rejected: `parameter` names it, `message` says why")


@app.get(
    SEARCH_PATH,
    summary="Search trips by flight status and departure range, or by hotel-name prefix",
    responses={200: _json(SearchResult, "One page of trips"), 400: REJECTED},
)
def search_trips(
    status: Annotated[
        str | None,
        Query(
            min_length=1,
            description="Flight status, CONFIRMED or CANCELLED, in any letter case",
            examples=["CONFIRMED", "cancelled"],
        ),
    ] = None,
    hotel_name: Annotated[
        str | None,
        Query(
            min_length=1,
            description="Hotel-name prefix, any case or Unicode spelling; excludes the others",
            examples=["Grand", "hôtel"],
        ),
    ] = None,
    departure_from: Annotated[
        str | None,
        Query(
            alias="from",
            description="Earliest departure, ISO-8601 local date or date-time",
            examples=["2026-03-01", "2026-03-10T08:00"],
        ),
    ] = None,
    departure_to: Annotated[
        str | None,
        Query(
            alias="to",
            description="Latest departure; a date alone covers the whole day",
            examples=["2026-03-31", "2026-03-20T18:30:00"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Trips per page", examples=[5])] = 50,
    next_token: Annotated[str | None, Query(description="The previous page's next_token")] = None,
) -> Response[Any]:
    query = search_query(status=status, hotel_name=hotel_name, departure_from=departure_from, departure_to=departure_to)
    start_after = None if next_token is None else page_token.decode(next_token, query)
    page = _reader().page(query, limit, start_after)
    result: SearchResult = {"trips": [public_view(d) for d in page.documents], "count": len(page.documents)}
    if page.resume_after is not None:
        result["next_token"] = page_token.encode(page.resume_after, query)
    return _ok(result)


@app.get(
    TRIP_PATH,
    summary="One trip's search document",
    responses={200: _json(TripView, "The trip"), 400: REJECTED, 404: _json(NotFound, "No trip has this id")},
)
def get_trip(
    trip_id: Annotated[str, Path(description="The trip_id, percent-encoded or not (README: trip ids)")],
) -> Response[Any]:
    return _trip(trip_id)


@app.not_found
def _no_route(_: NotFoundError) -> Response[Any]:
    """Powertools matches a path parameter of word characters and some punctuation only: a trip id holding a
    combining mark (`trîp` typed decomposed), or a character no trip id may hold (`"`, `✈`, a `/`), lands here."""
    path = app.current_event.path
    if app.current_event.http_method != "GET" or not path.startswith(TRIP_PATH_PREFIX):
        return _not_found("Not found")
    try:
        return _trip(path.removeprefix(TRIP_PATH_PREFIX))
    except InvalidTripId as error:
        return _reject_invalid_trip_id(error)


def _trip(path_segment: str) -> Response[Any]:
    trip_id = trip_id_of_path_segment(path_segment)
    document = _reader().document(trip_id)
    if document is None or is_tombstone(document):
        return _not_found(f"trip {trip_id!r} not found")
    return _ok(public_view(document))


def _ok(body: Mapping[str, Any]) -> Response[Any]:
    return Response(
        status_code=200, content_type=content_types.APPLICATION_JSON, body=exact_json.dumps(body, separators=(",", ":"))
    )


def _not_found(message: str) -> Response[Any]:
    return Response(
        status_code=404, content_type=content_types.APPLICATION_JSON, body={"statusCode": 404, "message": message}
    )


@app.exception_handler(RequestValidationError)
def _reject_invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    repeated = _repeated_query_parameter()
    if repeated is not None:
        return _bad_request(repeated, "may be given once")
    first = error.errors()[0]
    return _bad_request(str(first["loc"][-1]), first["msg"])


@app.exception_handler(InvalidSearchParameter)
def _reject_invalid_search(error: InvalidSearchParameter) -> Response[dict[str, Any]]:
    return _bad_request(error.parameter, error.reason)


@app.exception_handler(InvalidTripId)
def _reject_invalid_trip_id(error: InvalidTripId) -> Response[dict[str, Any]]:
    return _bad_request("trip_id", str(error), location="path")


def _repeated_query_parameter() -> str | None:
    """The first query parameter given more than once (API Gateway REST lists every value in the multi-value map)."""
    values = app.current_event.multi_value_query_string_parameters or {}
    return next((name for name, given in values.items() if len(given) > 1), None)


def _bad_request(parameter: str, reason: str, location: str = "query") -> Response[dict[str, Any]]:
    return Response(
        status_code=400,
        content_type=content_types.APPLICATION_JSON,
        body={
            "statusCode": 400,
            "message": f"invalid {location} parameter '{parameter}': {reason}",
            "parameter": parameter,
        },
    )


def _as_proxy_event(event: dict[str, Any]) -> dict[str, Any]:
    """The seed's `aws lambda invoke` payload holds only queryStringParameters: a GET /trips/search."""
    if "httpMethod" in event:
        return event
    given = event.get("queryStringParameters") or {}
    # A list is a repeated parameter, as API Gateway's multi-value map would carry it.
    values = {name: [str(v) for v in (value if isinstance(value, list) else [value])] for name, value in given.items()}
    return {
        "resource": SEARCH_PATH,
        "path": SEARCH_PATH,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": {name: value[-1] for name, value in values.items()} or None,
        # Without the multi-value form Powertools splits single values on commas (a hotel name may hold one).
        "multiValueQueryStringParameters": values or None,
        "pathParameters": None,
        "requestContext": {"httpMethod": "GET", "path": SEARCH_PATH, "resourcePath": SEARCH_PATH},
        "body": None,
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(_as_proxy_event(event), context)
