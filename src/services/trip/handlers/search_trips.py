"""SearchTrips: API Gateway REST proxy events (and the seed's direct invocation) to search queries.

The handler only translates: query parameters to a `SearchQuery`, pages to JSON, domain errors to 400/404.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any
from urllib.parse import unquote

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.trip.config import search_settings
from services.trip.search import page_token
from services.trip.search.criteria import InvalidSearchParameter, search_query
from services.trip.search.documents import SearchResult, TripView, is_tombstone, public_view
from services.trip.search.reader import SearchTableReader

SEARCH_PATH = "/trips/search"

logger = Logger()
app = APIGatewayRestResolver(enable_validation=True)


@cache
def _reader() -> SearchTableReader:
    return SearchTableReader(boto3.resource("dynamodb").Table(search_settings().search_table_name))


@app.get(SEARCH_PATH, summary="Search trips by flight status and departure range, or by hotel-name prefix")
def search_trips(
    status: Annotated[str | None, Query(min_length=1, description="Flight status, e.g. CONFIRMED")] = None,
    hotel_name: Annotated[
        str | None, Query(min_length=1, description="Case-insensitive hotel-name prefix; excludes the others")
    ] = None,
    departure_from: Annotated[
        str | None, Query(alias="from", description="Earliest departure, ISO-8601 local date or date-time")
    ] = None,
    departure_to: Annotated[
        str | None, Query(alias="to", description="Latest departure; a date alone covers the whole day")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Trips per page")] = 50,
    next_token: Annotated[str | None, Query(description="The previous page's next_token")] = None,
) -> SearchResult:
    query = search_query(status=status, hotel_name=hotel_name, departure_from=departure_from, departure_to=departure_to)
    start_after = None if next_token is None else page_token.decode(next_token, query)
    page = _reader().page(query, limit, start_after)
    result: SearchResult = {"trips": [public_view(d) for d in page.documents], "count": len(page.documents)}
    if page.resume_after is not None:
        result["next_token"] = page_token.encode(page.resume_after, query)
    return result


@app.get("/trips/<trip_id>", summary="One trip's search document")
def get_trip(trip_id: Annotated[str, Path(description="The saga's trip_id")]) -> TripView:
    trip_id = unquote(trip_id)  # a REST API passes the path as the client sent it, percent-encoding kept
    document = _reader().document(trip_id)
    if document is None or is_tombstone(document):
        raise NotFoundError(f"trip {trip_id!r} not found")
    return public_view(document)


@app.exception_handler(RequestValidationError)
def _reject_invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    first = error.errors()[0]
    return _bad_request(str(first["loc"][-1]), first["msg"])


@app.exception_handler(InvalidSearchParameter)
def _reject_invalid_search(error: InvalidSearchParameter) -> Response[dict[str, Any]]:
    return _bad_request(error.parameter, error.reason)


def _bad_request(parameter: str, reason: str) -> Response[dict[str, Any]]:
    return Response(
        status_code=400,
        content_type=content_types.APPLICATION_JSON,
        body={
            "statusCode": 400,
            "message": f"invalid query parameter '{parameter}': {reason}",
            "parameter": parameter,
        },
    )


def _as_proxy_event(event: dict[str, Any]) -> dict[str, Any]:
    """The seed's `aws lambda invoke` payload holds only queryStringParameters: a GET /trips/search."""
    if "httpMethod" in event:
        return event
    parameters = {name: str(value) for name, value in (event.get("queryStringParameters") or {}).items()}
    return {
        "resource": SEARCH_PATH,
        "path": SEARCH_PATH,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": parameters or None,
        # Without the multi-value form Powertools splits single values on commas (a hotel name may hold one).
        "multiValueQueryStringParameters": {name: [value] for name, value in parameters.items()} or None,
        "pathParameters": None,
        "requestContext": {"httpMethod": "GET", "path": SEARCH_PATH, "resourcePath": SEARCH_PATH},
        "body": None,
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(_as_proxy_event(event), context)
