"""SearchTrips: API Gateway REST proxy events (and the hands-on's direct invocation) to search queries.

The handler only translates: query parameters to a `SearchQuery`, a path to a trip id (`trip_ids`), pages to
JSON whose numbers keep every digit (`exact_json`), domain errors to 400/404.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

# pydantic (the OpenAPI description of the responses) needs this TypedDict before Python 3.12
from typing_extensions import TypedDict

from services.trip import config, exact_json, search_tables
from services.trip.dynamodb_values import dynamodb_resource
from services.trip.handlers import search_api_examples
from services.trip.schema import SEARCH_SHARDS, Layout
from services.trip.search import page_token
from services.trip.search.criteria import InvalidSearchParameter, search_query
from services.trip.search.documents import SearchResult, TripView, is_tombstone, public_view
from services.trip.search.reader import SearchTableReader, UnshardedTableReader
from services.trip.trip_ids import MAX_LENGTH, SEARCH_SEGMENT, InvalidTripId, trip_id_of_path_segment

TRIP_PATH_PREFIX = "/trips/"
SEARCH_PATH = f"{TRIP_PATH_PREFIX}{SEARCH_SEGMENT}"
TRIP_PATH = f"{TRIP_PATH_PREFIX}<trip_id>"

# How long a browser may keep a preflight's answer (seconds; Chromium keeps at most 7,200)
CORS_MAX_AGE_SECONDS = 600


def _cors(origins: tuple[str, ...]) -> CORSConfig | None:
    """CORS for the browser origins API_ALLOWED_ORIGINS names (context apiAllowedOrigins), none without one: a GET
    from an allowed origin carries Access-Control-Allow-Origin, and a preflight (OPTIONS, which the stack routes
    here) is a 204 naming the methods."""
    if not origins:
        return None
    return CORSConfig(allow_origin=origins[0], extra_origins=list(origins[1:]), max_age=CORS_MAX_AGE_SECONDS)


def _varies_by_origin(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """`Vary: Origin` on every answer: it names the caller's origin or not, so a shared cache must not hand one
    origin's answer to another (Fetch standard, "CORS protocol and HTTP caches")."""
    response = next_middleware(app)
    response.headers["Vary"] = "Origin"
    return response


logger = Logger()
ALLOWED_ORIGINS = config.allowed_origins()
app = APIGatewayRestResolver(enable_validation=True, cors=_cors(ALLOWED_ORIGINS))
if ALLOWED_ORIGINS and ALLOWED_ORIGINS != (config.ANY_ORIGIN,):
    app.use(middlewares=[_varies_by_origin])


@cache
def _dynamodb() -> Any:
    # One connection a shard: a page's first round queries every shard at once.
    return dynamodb_resource(config=Config(max_pool_connections=SEARCH_SHARDS))


@cache
def _reader_of(table_name: str, layout: Layout) -> SearchTableReader | UnshardedTableReader:
    if layout is Layout.UNSHARDED:
        return UnshardedTableReader(_dynamodb().Table(table_name))
    return SearchTableReader(_dynamodb().Table(table_name), concurrent_queries=SEARCH_SHARDS)


def clear_caches() -> None:
    """Forget the readers built for this execution environment (tests and benches that switch the AWS endpoint)."""
    _reader_of.cache_clear()
    _dynamodb.cache_clear()


def _reader() -> SearchTableReader | UnshardedTableReader:
    """The reader of the live search table (search_tables: a cutover switches it without a redeploy)."""
    tables = search_tables.current()
    return _reader_of(tables.live, tables.layout_of(tables.live))


class ParameterError(TypedDict):
    """The body of a 400: `parameter` names the rejected query or path parameter, `message` says why."""

    statusCode: int
    message: str
    parameter: str


class NotFound(TypedDict):
    """The body of a 404."""

    statusCode: int
    message: str


def _json(model: Any, description: str, examples: dict[str, Any]) -> OpenAPIResponse:
    """An answer's OpenAPI description; 200 bodies are written by `exact_json` (not Powertools' float conversion)."""
    return {
        "description": description,
        "content": {content_types.APPLICATION_JSON: {"model": model, "examples": examples}},
    }


# Powertools also lists a 422 for its request validation: `_reject_invalid_request` answers those 400, and
# infra/openapi.py leaves the 422 out of docs/openapi.json.
REJECTED = (
    "A parameter is rejected: `parameter` names it, `message` says why "
    "(`invalid <query|path> parameter '<name>': <reason>`)"
)
LOCAL_TIME = (
    "an ISO-8601 date (`2026-03-15`, `20260315`, `2026-W11-7`) or local date-time without UTC offset, `T` or a space "
    "between, hours or finer (`2026-03-15T10`, `2026-03-15T10:00`, `2026-03-15 10:30:00`, `2026-03-15T10:30:00.5`)"
)


@app.get(
    SEARCH_PATH,
    summary="Search trips by flight status and departure range, or by hotel-name prefix",
    description=(
        "Either `status` (optionally with `from` and `to`), answered in departure order, or `hotel_name`, answered "
        "in the order of the folded hotel name; never both. Each parameter may be given once; unknown parameters "
        "are ignored. A page holds up to `limit` trips; while there are more, it carries `next_token`, which the "
        "next request passes with the same search parameters (`limit` may change)."
    ),
    responses={
        200: _json(SearchResult, "One page of trips, in index order", search_api_examples.SEARCH_PAGES),
        400: _json(ParameterError, REJECTED, search_api_examples.SEARCH_REJECTIONS),
    },
)
def search_trips(
    status: Annotated[
        str | None,
        Query(
            min_length=1,
            description="Flight status, `CONFIRMED` or `CANCELLED`, in any letter case. Required unless `hotel_name` "
            "is given; cannot be combined with it",
            examples=["CONFIRMED", "cancelled"],
        ),
    ] = None,
    hotel_name: Annotated[
        str | None,
        Query(
            min_length=1,
            description="Hotel-name prefix, insensitive to letter case, accents and width (`istanbul` finds "
            "`İstanbul`, `Hotel` finds `Hôtel`); at most 1,024 UTF-8 bytes once folded. Cannot be combined with "
            "`status`, `from` or `to`",
            examples=["Grand", "hôtel"],
        ),
    ] = None,
    departure_from: Annotated[
        str | None,
        Query(
            alias="from",
            description=f"Earliest departure (inclusive; needs `status`): {LOCAL_TIME}",
            examples=["2026-03-01", "2026-03-10T08:00"],
        ),
    ] = None,
    departure_to: Annotated[
        str | None,
        Query(
            alias="to",
            description=f"Latest departure (inclusive; needs `status`; not before `from`), a date alone covering the "
            f"whole day: {LOCAL_TIME}",
            examples=["2026-03-31", "2026-03-20T18:30:00"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Trips per page, 1 to 100", examples=[5])] = 50,
    next_token: Annotated[
        str | None,
        Query(
            description="The previous page's `next_token`, opaque; valid only with the search parameters of the "
            "page that handed it out"
        ),
    ] = None,
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
    description="The trip's public fields; a field is absent until it is written. A trip whose items were all "
    "deleted from TripTable is not found, like an id no trip has.",
    responses={
        200: _json(TripView, "The trip", search_api_examples.TRIP),
        400: _json(ParameterError, REJECTED, search_api_examples.TRIP_REJECTIONS),
        404: _json(NotFound, "No trip has this id", search_api_examples.TRIP_NOT_FOUND),
    },
)
def get_trip(
    trip_id: Annotated[
        str,
        Path(
            description="The trip id, percent-encoded or not, in any Unicode spelling (it is NFC-normalised): 1 to "
            "128 letters, combining marks and digits of any script and `- _ . ~ @ :` and the space; it neither "
            "starts nor ends with a space, is not dots only, and is not `search`",
            examples=["trip-tour-1"],
            # Documented, not enforced here: min_length/max_length would have Powertools check the raw segment;
            # trip_ids checks the decoded, NFC-normalised id and says which rule it breaks.
            json_schema_extra={"minLength": 1, "maxLength": MAX_LENGTH},
        ),
    ],
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
    """The hands-on's `aws lambda invoke` payload holds only queryStringParameters: a GET /trips/search."""
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
