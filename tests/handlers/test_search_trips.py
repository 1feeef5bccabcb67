"""SearchTrips: the search API over TripSearchTable, driven by API Gateway REST proxy events."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from boto3.dynamodb.conditions import Key

from services.trip import config, consumer, schema
from services.trip.handlers import saga_steps, search_trips, stream_consumer
from services.trip.projection import SearchDocument, index_keys
from services.trip.search import page_token
from services.trip.search.criteria import search_query
from tests import factories as f
from tests.conftest import create_search_table

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

CONTEXT: Any = f.LambdaContext()  # a stand-in: only the attributes Powertools reads

SEED_TRIP = {"trip_id": "trip-streams-001", **f.SEED_72_FIELDS, "updated_at": "2026-03-01T09:30:00.123456Z"}


@pytest.fixture(autouse=True)
def fresh_settings_and_clients() -> Iterator[None]:
    yield
    search_trips.clear_caches()


def api_event(
    resource: str, path: str, query: dict[str, str] | None = None, repeated: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """An API Gateway REST proxy event, shaped like `sam local generate-event apigateway aws-proxy`.

    `repeated`: parameters given more than once; API Gateway keeps the last value in queryStringParameters.
    """
    path_parameters = {"trip_id": path.removeprefix("/trips/")} if "{trip_id}" in resource else None
    multi_values = {name: [value] for name, value in (query or {}).items()} | (repeated or {})
    query = (query or {}) | {name: values[-1] for name, values in (repeated or {}).items()}
    headers = {"Accept": "application/json", "Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_values or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "123456",
            "resourcePath": resource,
            "httpMethod": "GET",
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012",
            "apiId": "abc123",
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "curl/8.5.0"},
        },
        "body": None,
        "isBase64Encoded": False,
    }


def search(**query: str) -> tuple[int, dict[str, Any]]:
    response = search_trips.lambda_handler(api_event("/trips/search", "/trips/search", query), CONTEXT)
    return response["statusCode"], json.loads(response["body"])


def get_trip(trip_id: str) -> tuple[int, dict[str, Any]]:
    event = api_event("/trips/{trip_id}", f"/trips/{trip_id}")
    response = search_trips.lambda_handler(event, CONTEXT)
    return response["statusCode"], json.loads(response["body"])


def put_document(table: Any, trip: dict[str, Any]) -> None:
    """A search document as the projection writes it: public fields plus bookkeeping the API must hide."""
    item = {key: Decimal(str(value)) if isinstance(value, int | float) else value for key, value in trip.items()}
    marks = {"dynamodb-streams": {"at": "100000000000000000000000", "removed": False}}
    item |= {"versions": {"FLIGHT": {"generation": 1, "version": 1, "removed": False, "marks": marks}}, "revision": 3}
    fields = {name: value for name, value in item.items() if name != "trip_id"}
    item |= index_keys(SearchDocument(trip["trip_id"], fields))  # the index keys as the projection computes them
    table.put_item(Item=item)


def flight(trip_id: str, departure_time: str, status: str = "CONFIRMED") -> dict[str, Any]:
    return {"trip_id": trip_id, "flight_number": "NH001", "departure_time": departure_time, "flight_status": status}


def test_search_by_status_shows_public_fields_only(search_table: Any) -> None:
    put_document(search_table, SEED_TRIP)

    status, body = search(status="CONFIRMED")

    assert (status, body) == (200, {"trips": [SEED_TRIP], "count": 1})


def test_fractional_amount_is_a_json_number(search_table: Any) -> None:
    put_document(search_table, {**SEED_TRIP, "total_amount": 123.45, "currency": "USD"})

    _, body = search(status="CONFIRMED")

    assert body["trips"][0]["total_amount"] == 123.45


def test_seed_direct_invocation_is_a_search(search_table: Any) -> None:
    put_document(search_table, SEED_TRIP)
    put_document(search_table, flight("trip-april", "2026-04-01T10:00:00"))
    event = {
        "queryStringParameters": {"status": "CONFIRMED", "from": "2026-03-01T00:00:00", "to": "2026-03-31T23:59:59"}
    }

    response = search_trips.lambda_handler(event, CONTEXT)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"trips": [SEED_TRIP], "count": 1}


def test_direct_invocation_keeps_a_comma_in_a_hotel_name(search_table: Any) -> None:
    put_document(search_table, {**SEED_TRIP, "hotel_name": "Hotel, Tokyo Bay"})

    response = search_trips.lambda_handler({"queryStringParameters": {"hotel_name": "hotel, t"}}, CONTEXT)

    assert json.loads(response["body"])["count"] == 1


@pytest.mark.parametrize(
    ("query", "expected_ids"),
    [
        ({"from": "2026-03-15"}, ["mar-15-early", "mar-15-late", "mar-16"]),
        ({"to": "2026-03-15"}, ["mar-14", "mar-15-early", "mar-15-late"]),
        ({"from": "2026-03-15", "to": "2026-03-15"}, ["mar-15-early", "mar-15-late"]),
        ({"from": "2026-03-15T00:00:01", "to": "2026-03-15T23:59:59"}, ["mar-15-late"]),
        ({"to": "2026-03-15T23:59"}, ["mar-14", "mar-15-early"]),
        ({"from": "2026-03-15T23:59:59", "to": "2026-03-16T08:00:00"}, ["mar-15-late", "mar-16"]),
    ],
)
def test_departure_range_is_inclusive_and_a_date_covers_its_whole_day(
    search_table: Any, query: dict[str, str], expected_ids: list[str]
) -> None:
    for trip_id, departure in [
        ("mar-14", "2026-03-14T23:59:59"),
        ("mar-15-early", "2026-03-15T00:00:00"),
        ("mar-15-late", "2026-03-15T23:59:59"),
        ("mar-16", "2026-03-16T08:00:00"),
    ]:
        put_document(search_table, flight(trip_id, departure))

    _, body = search(status="CONFIRMED", **query)

    assert [trip["trip_id"] for trip in body["trips"]] == expected_ids


def test_search_by_status_excludes_other_statuses(search_table: Any) -> None:
    put_document(search_table, flight("kept", "2026-03-15T10:00:00"))
    put_document(search_table, flight("cancelled", "2026-03-15T10:00:00", status="CANCELLED"))

    _, body = search(status="CANCELLED")

    assert [trip["trip_id"] for trip in body["trips"]] == ["cancelled"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({}, "status"),
        ({"status": ""}, "status"),
        ({"status": "CONFIRMED", "limit": "0"}, "limit"),
        ({"status": "CONFIRMED", "limit": "101"}, "limit"),
        ({"status": "CONFIRMED", "limit": "ten"}, "limit"),
        ({"status": "CONFIRMED", "from": "yesterday"}, "from"),
        ({"status": "CONFIRMED", "to": "2026-13-01"}, "to"),
        ({"status": "CONFIRMED", "from": "2026-03-15T10:00:00+09:00"}, "from"),
        ({"status": "CONFIRMED", "from": "2026-03-16", "to": "2026-03-15"}, "to"),
        ({"status": "CONFIRMED", "from": "2026-03-15T10:00:01", "to": "2026-03-15T10:00:00"}, "to"),
        ({"status": "CONFIRMED", "next_token": "not-a-token"}, "next_token"),
        ({"status": "CONFIRMED", "next_token": ""}, "next_token"),
        ({"hotel_name": ""}, "hotel_name"),
        ({"hotel_name": "grand", "status": "CONFIRMED"}, "status"),
        ({"hotel_name": "grand", "from": "2026-03-01"}, "from"),
        ({"hotel_name": "grand", "to": "2026-03-31"}, "to"),
    ],
)
def test_bad_query_parameter_is_a_400_naming_it(search_table: Any, query: dict[str, str], parameter: str) -> None:
    status, body = search(**query)

    assert status == 400
    assert body["parameter"] == parameter
    assert body["message"].startswith(f"invalid query parameter '{parameter}': ")


def walk_pages(limit: int, **query: str) -> list[list[str]]:
    pages: list[list[str]] = []
    token: dict[str, str] = {}
    while True:
        status, body = search(limit=str(limit), **query, **token)
        assert status == 200
        assert body["count"] == len(body["trips"])
        pages.append([trip["trip_id"] for trip in body["trips"]])
        if "next_token" not in body:
            return pages
        token = {"next_token": body["next_token"]}


def test_walking_every_page_returns_each_trip_once(search_table: Any) -> None:
    # Some trips share a departure time: the resume position must break ties by trip_id.
    trip_ids = [f"trip-{n:03d}" for n in range(120)]
    for n, trip_id in enumerate(trip_ids):
        put_document(search_table, flight(trip_id, f"2026-03-{1 + n // 8:02d}T10:00:00"))

    pages = walk_pages(7, status="CONFIRMED")

    assert [len(page) for page in pages] == [7] * 17 + [1]
    assert sorted(trip_id for page in pages for trip_id in page) == trip_ids


def test_last_full_page_carries_no_token(search_table: Any) -> None:
    for n in range(14):
        put_document(search_table, flight(f"trip-{n:02d}", f"2026-03-{n + 1:02d}T10:00:00"))

    pages = walk_pages(7, status="CONFIRMED")

    assert [len(page) for page in pages] == [7, 7]


def test_default_page_size_is_50(search_table: Any) -> None:
    for n in range(51):
        put_document(search_table, flight(f"trip-{n:02d}", f"2026-03-01T10:{n:02d}:00"))

    _, body = search(status="CONFIRMED")

    assert (body["count"], "next_token" in body) == (50, True)


@pytest.fixture
def first_page_token(search_table: Any) -> str:
    for n in range(3):
        put_document(search_table, flight(f"trip-{n}", f"2026-03-0{n + 1}T10:00:00"))
    _, body = search(status="CONFIRMED", limit="1")
    token: str = body["next_token"]
    return token


def test_tampered_token_is_a_400(first_page_token: str) -> None:
    payload = json.loads(base64.urlsafe_b64decode(first_page_token + "=" * (-len(first_page_token) % 4)))
    payload["after"] = payload["after"].replace("trip-0", "trip-2")
    tampered = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()

    status, body = search(status="CONFIRMED", limit="1", next_token=tampered)

    assert (status, body["parameter"]) == (400, "next_token")


@pytest.mark.parametrize(
    "other_search",
    [{"status": "CANCELLED"}, {"status": "CONFIRMED", "from": "2026-03-01"}, {"hotel_name": "grand"}],
)
def test_token_of_another_search_is_a_400(first_page_token: str, other_search: dict[str, str]) -> None:
    status, body = search(next_token=first_page_token, **other_search)

    assert (status, body["parameter"]) == (400, "next_token")


@pytest.mark.parametrize(
    ("query", "position"),
    [
        ({"status": "CONFIRMED"}, ""),
        ({"status": "CONFIRMED"}, "2026-03-01T10:00:00"),  # no trip id
        ({"status": "CONFIRMED"}, "2026-03-01T10:00:00\x00"),
        ({"status": "CONFIRMED"}, "\x00trip-1"),
        ({"status": "CONFIRMED"}, "2026-03-01T10:00:00\x00" + "é" * 502 + "x"),  # 1,025 bytes
        ({"status": "CONFIRMED"}, "2026-03-01T10:00:00\x00trip-\ud800"),
        ({"status": "CONFIRMED", "from": "2026-03-02"}, "2026-03-01T10:00:00\x00trip-1"),
        ({"status": "CONFIRMED", "to": "2026-03-01"}, "2026-03-02T00:00:00\x00trip-1"),
        ({"hotel_name": "grand"}, "tokyo grand\x00trip-1"),
    ],
    ids=[
        "empty",
        "no-trip",
        "empty-trip",
        "empty-value",
        "1025-bytes",
        "surrogate",
        "below-from",
        "above-to",
        "off-prefix",
    ],
)
def test_forged_token_holding_no_position_inside_the_search_is_a_400(
    search_table: Any, query: dict[str, str], position: str
) -> None:
    # The digest is no secret: a forged token passes it. DynamoDB rejects such an ExclusiveStartKey (moto does not).
    searched = search_query(
        status=query.get("status"),
        hotel_name=query.get("hotel_name"),
        departure_from=query.get("from"),
        departure_to=query.get("to"),
    )
    token = page_token.encode(position, searched)

    status, body = search(**query, next_token=token)

    assert (status, body["message"]) == (
        400,
        "invalid query parameter 'next_token': was altered or belongs to a different search",
    )


@pytest.mark.parametrize(
    "prefix",
    # 1,025 and 1,026 bytes; 96 bytes of U+FDFA, a ligature NFKC spells in 18 characters: 1,056 bytes in the key
    ["g" * 1025, "\u0436" * 513, "\ufdfa" * 32],  # ж: two bytes, no accent to fold away
    ids=["ascii", "two-byte", "ligature"],
)
def test_hotel_name_longer_than_any_index_key_is_a_400(search_table: Any, prefix: str) -> None:
    status, body = search(hotel_name=prefix)

    assert (status, body["message"]) == (
        400,
        "invalid query parameter 'hotel_name': is longer than any hotel name (1024 bytes in UTF-8)",
    )


def test_a_hotel_name_holding_a_lone_surrogate_is_a_400_naming_it(search_table: Any) -> None:
    # JSON spells one (`\ud800`): the hands-on's direct invocation passes it on as it is; Powertools refuses it
    event = {"queryStringParameters": {"hotel_name": "Grand \ud800"}}

    response = search_trips.lambda_handler(event, CONTEXT)

    assert (response["statusCode"], json.loads(response["body"])["message"]) == (
        400,
        "invalid query parameter 'hotel_name': Input should be a valid string, unable to parse raw data as a unicode "
        "string",
    )


def test_the_longest_hotel_name_the_index_holds_is_searched(search_table: Any) -> None:
    # Its order key, name U+0000 trip id, is exactly DynamoDB's 1,024-byte sort key: 1,014 bytes of name.
    put_document(search_table, {"trip_id": "long-name", "hotel_name": "G" * 1014})
    put_document(search_table, {"trip_id": "long-name2", "hotel_name": "G" * 1014})  # one byte over: not indexed

    _, body = search(hotel_name="g" * 1014)

    assert [trip["trip_id"] for trip in body["trips"]] == ["long-name"]


# Deeper than Python's recursion limit, and short enough for API Gateway's 10,240-byte request line.
@pytest.mark.parametrize("payload", [b"[" * 2_000, b'{"":' * 1_200], ids=["arrays", "objects"])
def test_token_of_json_nested_too_deep_is_a_400(search_table: Any, payload: bytes) -> None:
    # json.loads raised RecursionError: a 500.
    token = base64.urlsafe_b64encode(payload).decode()

    status, body = search(status="CONFIRMED", next_token=token)

    assert (status, body) == (
        400,
        {
            "statusCode": 400,
            "message": "invalid query parameter 'next_token': is not a token this API issued",
            "parameter": "next_token",
        },
    )


def test_token_may_change_the_page_size(first_page_token: str) -> None:
    _, body = search(status="CONFIRMED", limit="5", next_token=first_page_token)

    assert [trip["trip_id"] for trip in body["trips"]] == ["trip-1", "trip-2"]


def test_hotel_name_prefix_search_ignores_case(search_table: Any) -> None:
    for trip_id, hotel_name in [
        ("grand-tokyo", "Grand Hotel Tokyo"),
        ("grande-plaza", "GRANDE Plaza"),
        ("tokyo-grand", "Tokyo Grand"),
        ("granary", "Granary Inn"),
    ]:
        put_document(search_table, {"trip_id": trip_id, "hotel_name": hotel_name, "hotel_status": "CONFIRMED"})

    _, body = search(hotel_name="gRaNd")

    assert body == {
        "trips": [
            {"trip_id": "grand-tokyo", "hotel_name": "Grand Hotel Tokyo", "hotel_status": "CONFIRMED"},
            {"trip_id": "grande-plaza", "hotel_name": "GRANDE Plaza", "hotel_status": "CONFIRMED"},
        ],
        "count": 2,
    }


def test_hotel_name_search_pages_too(search_table: Any) -> None:
    trip_ids = [f"trip-{n:02d}" for n in range(10)]
    for n, trip_id in enumerate(trip_ids):
        put_document(search_table, {"trip_id": trip_id, "hotel_name": f"Hilton {n:02d}"})

    pages = walk_pages(4, hotel_name="hil")

    assert pages == [trip_ids[0:4], trip_ids[4:8], trip_ids[8:10]]


def test_get_trip_returns_its_public_document(search_table: Any) -> None:
    put_document(search_table, SEED_TRIP)

    assert get_trip("trip-streams-001") == (200, SEED_TRIP)


def test_unknown_trip_is_a_404(search_table: Any) -> None:
    status, body = get_trip("trip-nowhere")

    assert (status, body["message"]) == (404, "trip 'trip-nowhere' not found")


def test_tombstone_is_a_404(search_table: Any) -> None:
    put_document(search_table, {"trip_id": "trip-gone", "expires_at": 1_900_000_000})

    status, _ = get_trip("trip-gone")

    assert status == 404


def test_openapi_schema_lists_both_routes_and_their_parameters() -> None:
    paths = json.loads(search_trips.app.get_openapi_json_schema())["paths"]

    search_parameters = {p["name"]: p["in"] for p in paths["/trips/search"]["get"]["parameters"]}
    trip_parameters = {p["name"]: p["in"] for p in paths["/trips/{trip_id}"]["get"]["parameters"]}
    assert search_parameters == {
        "status": "query",
        "hotel_name": "query",
        "from": "query",
        "to": "query",
        "limit": "query",
        "next_token": "query",
    }
    assert trip_parameters == {"trip_id": "path"}


# Trip ids in paths (docs/design.md, "Trip ids"). API Gateway REST may hand the path decoded or still percent-encoded.
# "यात्रा-1" keeps combining marks in NFC (no precomposed forms), which Powertools' route pattern does not match.
ODD_TRIP_IDS = ["trip 002", "trip@001", "trîp-é1", "ホテル旅行:2026~1", "यात्रा-1", "trip-001"]


@pytest.mark.parametrize("trip_id", ODD_TRIP_IDS)
@pytest.mark.parametrize(
    "arrives", [lambda trip_id: trip_id, lambda trip_id: quote(trip_id, safe="")], ids=["decoded", "encoded"]
)
def test_trip_is_found_whether_its_path_arrives_decoded_or_encoded(
    search_table: Any, trip_id: str, arrives: Any
) -> None:
    put_document(search_table, {**SEED_TRIP, "trip_id": trip_id})

    assert get_trip(arrives(trip_id)) == (200, {**SEED_TRIP, "trip_id": trip_id})


@pytest.mark.parametrize("path_segment", ["tri\u0302p-e\u03011", "tri%CC%82p-e%CC%811"], ids=["decoded", "encoded"])
def test_trip_id_typed_decomposed_finds_the_trip_stored_composed(search_table: Any, path_segment: str) -> None:
    put_document(search_table, {**SEED_TRIP, "trip_id": "tr\u00eep-\u00e91"})

    assert get_trip(path_segment) == (200, {**SEED_TRIP, "trip_id": "tr\u00eep-\u00e91"})


@pytest.mark.parametrize(
    ("path_segment", "reason"),
    [
        ("trip%25002", "may hold letters, digits and - _ . ~ @ : and space only, not '%'"),
        ("trip%2F002", "may hold letters, digits and - _ . ~ @ : and space only, not '/'"),
        ("trip+002", "may hold letters, digits and - _ . ~ @ : and space only, not '+'"),
        ('trip"002', "may hold letters, digits and - _ . ~ @ : and space only, not '\"'"),
        ("%E2%9C%88", "may hold letters, digits and - _ . ~ @ : and space only, not '✈'"),
        ("trip%FF", "'trip%FF' percent-encodes bytes that are not UTF-8"),
        ("%20trip", "must not start or end with a space"),
        ("..", "must not be made of dots only"),
        ("t" * 129, "must be 1 to 128 characters, got 129"),
    ],
)
def test_trip_id_no_trip_can_have_is_a_400_naming_trip_id(search_table: Any, path_segment: str, reason: str) -> None:
    assert get_trip(path_segment) == (
        400,
        {"statusCode": 400, "message": f"invalid path parameter 'trip_id': {reason}", "parameter": "trip_id"},
    )


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/hotels/h1"), ("POST", "/trips/tri\u0302p"), ("DELETE", "/trips/✈")]
)
def test_other_routes_stay_a_404(search_table: Any, method: str, path: str) -> None:
    put_document(search_table, {**SEED_TRIP, "trip_id": "tr\u00eep"})
    event = api_event("/{proxy+}", path) | {"httpMethod": method}

    response = search_trips.lambda_handler(event, CONTEXT)

    assert (response["statusCode"], json.loads(response["body"])) == (404, {"statusCode": 404, "message": "Not found"})


# Times: one canonical form (services.trip.times), written by the saga, normalised by the projection.
@pytest.fixture
def saga_and_projection(trip_table: Any, search_table: Any, dlq_url: str) -> Iterator[None]:
    yield
    for cached in (config.saga_settings, saga_steps.trip_table):
        cached.cache_clear()
    consumer.clear_caches()


def reserve_flight_and_project(trip_table: Any, trip_id: str, departure_time: str) -> None:
    """ReserveFlight, then the stream record of the item it wrote through the DynamoDB Streams consumer."""
    details = {"flight_number": "NH001", "departure_time": departure_time, "arrival_time": "2026-03-15T14:00"}
    saga = {"execution_id": f"arn:aws:states:us-east-1:123456789012:execution:TripSaga:{trip_id}"}
    saga_steps.reserve_flight({"trip_id": trip_id, "flight_details": details, "saga": saga}, CONTEXT)
    project_items(trip_table, trip_id)


def project_items(trip_table: Any, trip_id: str) -> None:
    items = trip_table.query(KeyConditionExpression=Key("PK").eq(f"TRIP#{trip_id}"))["Items"]
    records = [f.stream_record(f.Change("INSERT", item, None)) for item in items]
    assert stream_consumer.lambda_handler(f.event(*records), CONTEXT) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("bounds", "expected_ids"),
    [
        ({"from": "2026-03-15T10:00"}, ["trip-1000", "trip-1030"]),
        ({"to": "2026-03-15T09:00"}, []),
        ({"from": "2026-03-15T10:00:01", "to": "2026-03-15 10:30"}, ["trip-1030"]),
        ({"to": "2026-03-15"}, ["trip-1000", "trip-1030"]),
    ],
)
def test_departure_times_of_other_shapes_compare_as_times(
    saga_and_projection: None, trip_table: Any, bounds: dict[str, str], expected_ids: list[str]
) -> None:
    reserve_flight_and_project(trip_table, "trip-1000", "2026-03-15T10:00")
    reserve_flight_and_project(trip_table, "trip-1030", "2026-03-15 10:30:00")

    status, body = search(status="CONFIRMED", **bounds)

    assert status == 200
    assert [(t["trip_id"], t["departure_time"], t["arrival_time"]) for t in body["trips"]] == [
        (
            trip_id,
            {"trip-1000": "2026-03-15T10:00:00", "trip-1030": "2026-03-15T10:30:00"}[trip_id],
            "2026-03-15T14:00:00",
        )
        for trip_id in expected_ids
    ]


def test_times_others_write_to_the_trip_table_are_projected_in_canonical_form(
    saga_and_projection: None, trip_table: Any
) -> None:
    trip_table.put_item(
        Item=f.flight("trip-other", departure_time="2026-03-15 09:30", arrival_time="2026-03-15T13:30:00.5")
    )
    trip_table.put_item(Item=f.hotel("trip-other", check_in_date="20260315", check_out_date="2026-W11-2"))
    project_items(trip_table, "trip-other")

    status, trip = get_trip("trip-other")

    assert status == 200
    assert (trip["departure_time"], trip["arrival_time"], trip["check_in_date"], trip["check_out_date"]) == (
        "2026-03-15T09:30:00",
        "2026-03-15T13:30:00.500000",
        "2026-03-15",
        "2026-03-10",
    )
    _, body = search(status="CONFIRMED", **{"from": "2026-03-15T09:30", "to": "2026-03-15T09:30"})
    assert [t["trip_id"] for t in body["trips"]] == ["trip-other"]


# Hotel names: one Unicode normalisation (NFKC case fold, schema.hotel_name_index_key) for key and query.
@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("H\u00f4tel Dupont", "Ho\u0302tel"),  # composed stored, decomposed typed (macOS)
        ("Ho\u0302tel Dupont", "H\u00f4tel"),  # and the other way round
        (
            "\u30ac\u30fc\u30c7\u30f3\u30db\u30c6\u30eb",
            "\u30ab\u3099\u30fc\u30c6\u3099\u30f3",
        ),  # ガーデン, dakuten combined
        ("\u30ab\u3099\u30fc\u30c6\u3099\u30f3\u30db\u30c6\u30eb", "\u30ac\u30fc\u30c7\u30f3"),  # and precomposed
        ("ガーデンホテル", "ｶﾞｰﾃﾞﾝ"),  # half-width katakana
        ("Grand Hotel Tokyo", "\uff27\uff52\uff41\uff4e\uff44"),  # full-width Latin
        ("Große Pension", "GROSSE"),  # case folding, not lower-casing
    ],
)
def test_hotel_name_prefix_finds_equivalent_unicode_spellings(search_table: Any, stored: str, query: str) -> None:
    put_document(search_table, {"trip_id": "trip-hotel", "hotel_name": stored})
    put_document(search_table, {"trip_id": "trip-other", "hotel_name": "Hostel Other"})

    _, body = search(hotel_name=query)

    assert body == {"trips": [{"trip_id": "trip-hotel", "hotel_name": stored}], "count": 1}


@pytest.mark.parametrize(
    ("stored", "query"),
    [
        ("\u0130stanbul Grand Hotel", "istanbul"),
        ("\u0130stanbul Grand Hotel", "ISTANBUL"),
        ("H\u00f4tel Plaza Ath\u00e9n\u00e9e", "Hotel"),
        ("H\u00f4tel Plaza Ath\u00e9n\u00e9e", "hotel plaza athenee"),
        ("H\u00f4tel Dupont", "Ho"),  # an accent folds away: the prefix matches
    ],
)
def test_hotel_name_search_ignores_accents(search_table: Any, stored: str, query: str) -> None:
    put_document(search_table, {"trip_id": "trip-hotel", "hotel_name": stored})
    put_document(search_table, {"trip_id": "trip-other", "hotel_name": "Grand Hotel Tokyo"})

    _, body = search(hotel_name=query)

    assert body == {"trips": [{"trip_id": "trip-hotel", "hotel_name": stored}], "count": 1}


# Numbers: every digit DynamoDB holds, in every response.
@pytest.mark.parametrize(
    "amount", ["0.123456789012345678", "1234567890123456.78", "12345678901234567890.123456789012345678", "80000"]
)
def test_amount_comes_back_with_every_digit(search_table: Any, amount: str) -> None:
    put_document(search_table, {**SEED_TRIP, "total_amount": Decimal(amount)})
    expected_text = f'"total_amount":{amount},'

    found = search_trips.lambda_handler(api_event("/trips/{trip_id}", "/trips/trip-streams-001"), CONTEXT)
    searched = search_trips.lambda_handler(
        api_event("/trips/search", "/trips/search", {"status": "CONFIRMED"}), CONTEXT
    )

    for response in (found, searched):
        assert expected_text in response["body"]
    assert json.loads(found["body"], parse_float=Decimal)["total_amount"] == Decimal(amount)
    assert json.loads(searched["body"], parse_float=Decimal)["trips"][0]["total_amount"] == Decimal(amount)


# status: case-insensitive among the flight statuses; anything else a 400 listing them.
@pytest.mark.parametrize(("given", "stored"), [("confirmed", "CONFIRMED"), ("Cancelled", "CANCELLED")])
def test_status_is_matched_in_any_letter_case(search_table: Any, given: str, stored: str) -> None:
    put_document(search_table, flight("trip-1", "2026-03-15T10:00:00", status=stored))

    status, body = search(status=given)

    assert (status, [t["trip_id"] for t in body["trips"]]) == (200, ["trip-1"])


@pytest.mark.parametrize("given", ["COMPLETED", "CONFIRM", "confirmed "])
def test_unknown_status_is_a_400_listing_the_statuses(search_table: Any, given: str) -> None:
    assert search(status=given) == (
        400,
        {
            "statusCode": 400,
            "message": f"invalid query parameter 'status': {given!r} is not a flight status: "
            "one of CONFIRMED, CANCELLED",
            "parameter": "status",
        },
    )


@pytest.mark.parametrize(
    ("query", "repeated"),
    [
        ({}, {"status": ["CONFIRMED", "CANCELLED"]}),
        ({}, {"status": ["CONFIRMED", "CONFIRMED"]}),
        ({"status": "CONFIRMED"}, {"from": ["2026-03-01", "2026-03-02"]}),
        ({"status": "CONFIRMED"}, {"to": ["2026-03-01", "2026-03-02"]}),
        ({"status": "CONFIRMED"}, {"limit": ["5", "5"]}),
        ({"status": "CONFIRMED"}, {"next_token": ["a", "b"]}),
        ({}, {"hotel_name": ["grand", "tokyo"]}),
    ],
)
def test_a_repeated_parameter_is_a_400_saying_it_may_be_given_once(
    search_table: Any, query: dict[str, str], repeated: dict[str, list[str]]
) -> None:
    (parameter,) = repeated
    response = search_trips.lambda_handler(api_event("/trips/search", "/trips/search", query, repeated), CONTEXT)

    assert (response["statusCode"], json.loads(response["body"])) == (
        400,
        {
            "statusCode": 400,
            "message": f"invalid query parameter '{parameter}': may be given once",
            "parameter": parameter,
        },
    )


def test_direct_invocation_with_a_repeated_parameter_is_a_400(search_table: Any) -> None:
    response = search_trips.lambda_handler({"queryStringParameters": {"status": ["CONFIRMED", "CANCELLED"]}}, CONTEXT)

    assert (response["statusCode"], json.loads(response["body"])["message"]) == (
        400,
        "invalid query parameter 'status': may be given once",
    )


def test_openapi_describes_the_responses_with_the_amount_as_a_number() -> None:
    schema_document = json.loads(search_trips.app.get_openapi_json_schema())
    paths, components = schema_document["paths"], schema_document["components"]["schemas"]

    assert paths["/trips/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SearchResult"
    }
    assert paths["/trips/{trip_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TripView"
    }
    assert components["TripView"]["properties"]["total_amount"] == {"type": "number", "title": "Total Amount"}


def test_a_number_dynamodb_hands_back_in_plain_notation_is_read_exactly(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto projects an INCLUDE index through boto3's deserializer, which raises decimal.Rounded on these digits
    # (DynamoDB does not): this table's indexes project ALL; the reader reads numbers the same way either way.
    search_table = create_search_table(boto3.resource("dynamodb"), projection={"ProjectionType": "ALL"})
    monkeypatch.setenv("SEARCH_TABLE_NAME", search_table.name)
    put_document(search_table, {**SEED_TRIP, "total_amount": Decimal("1E+40"), "currency": "JPY"})
    # DynamoDB answers 1E+40 with 41 plain digits (boto3's deserializer raises decimal.Rounded on them); moto
    # answers what was stored: store the digits as DynamoDB answers them.
    boto3.client("dynamodb").update_item(
        TableName=search_table.name,
        Key={schema.SEARCH_KEY: {"S": SEED_TRIP["trip_id"]}},
        UpdateExpression="SET total_amount = :amount",
        ExpressionAttributeValues={":amount": {"N": "1" + "0" * 40}},
    )

    got = search_trips.lambda_handler(api_event("/trips/{trip_id}", f"/trips/{SEED_TRIP['trip_id']}"), CONTEXT)
    found = search_trips.lambda_handler(api_event("/trips/search", "/trips/search", {"status": "CONFIRMED"}), CONTEXT)

    assert got["statusCode"] == 200 and '"total_amount":1E+40' in got["body"]
    assert found["statusCode"] == 200 and '"total_amount":1E+40' in found["body"]
