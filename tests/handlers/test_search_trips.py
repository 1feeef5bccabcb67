"""SearchTrips: the search API over TripSearchTable, driven by API Gateway REST proxy events."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from services.trip import config, schema
from services.trip.handlers import search_trips
from tests import factories as f

CONTEXT: Any = f.LambdaContext()  # a stand-in: only the attributes Powertools reads

SEED_TRIP = {"trip_id": "trip-streams-001", **f.SEED_72_FIELDS, "updated_at": "2026-03-01T09:30:00.123456Z"}


@pytest.fixture(autouse=True)
def fresh_settings_and_clients() -> Iterator[None]:
    yield
    config.search_settings.cache_clear()
    search_trips._reader.cache_clear()


def api_event(resource: str, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event, shaped like `sam local generate-event apigateway aws-proxy`."""
    path_parameters = {"trip_id": path.rsplit("/", 1)[1]} if "{trip_id}" in resource else None
    headers = {"Accept": "application/json", "Host": "abc123.execute-api.us-east-1.amazonaws.com"}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} if query else None,
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
    item |= {"versions": {"FLIGHT": {"generation": 1, "version": 1, "removed": False}}, "revision": 3}
    if "hotel_name" in trip:
        item |= dict(zip(schema.HOTEL_NAME_INDEX_KEYS, schema.hotel_name_index_key(trip["hotel_name"]), strict=True))
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
    payload["after"]["trip_id"] = "trip-2"
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
