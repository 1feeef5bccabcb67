"""Examples of SearchTrips' answers for its OpenAPI description (docs/openapi.json, docs/API.md).

Each example is `{"summary": <the request>, "value": <the body answered>}`, keyed by what it shows. The answers are
the handler's own, over two trips the projection built (`trip-tour-1`, the README tour's booking, and
`trip-tour-2`); tests/handlers/test_openapi.py sends every request to the handler and checks the answer is the
example, so an example cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Example = dict[str, Any]

TOUR_1 = {
    "trip_id": "trip-tour-1",
    "flight_number": "NH001",
    "departure_time": "2026-03-15T10:00:00",
    "arrival_time": "2026-03-15T14:00:00",
    "flight_status": "CONFIRMED",
    "hotel_name": "Grand Hotel Tokyo",
    "check_in_date": "2026-03-15",
    "check_out_date": "2026-03-17",
    "hotel_status": "CONFIRMED",
    "total_amount": 80000,
    "currency": "JPY",
    "payment_status": "COMPLETED",
    "updated_at": "2026-03-01T09:00:00Z",
}
TOUR_2 = {
    "trip_id": "trip-tour-2",
    "flight_number": "NH005",
    "departure_time": "2026-03-20T08:30:00",
    "arrival_time": "2026-03-20T09:55:00",
    "flight_status": "CONFIRMED",
    "hotel_name": "Hotel Nikko Osaka",
    "check_in_date": "2026-03-20",
    "check_out_date": "2026-03-22",
    "hotel_status": "CONFIRMED",
    "total_amount": 412.35,
    "currency": "USD",
    "payment_status": "COMPLETED",
    "updated_at": "2026-03-01T09:00:00Z",
}
# The first page's next_token: the position after trip-tour-1, bound to the query (services.trip.search.page_token)
NEXT_TOKEN = (
    "eyJhZnRlciI6IjIwMjYtMDMtMTVUMTA6MDA6MDBcdTAwMDB0cmlwLXRvdXItMSIsImNoZWNrIjoiNjcxOTM5OThhNmZhYTRiOWQ3YWQwYmU5YzU1"
    "M2JhNjEifQ"
)
MARCH = "/trips/search?status=CONFIRMED&from=2026-03-01&to=2026-03-31&limit=1"


def example(request: str, value: Mapping[str, Any]) -> Example:
    return {"summary": f"GET {request}", "value": value}


def rejected(request: str, location: str, parameter: str, reason: str) -> Example:
    """A 400: the body names the parameter (services.trip.handlers.search_trips._bad_request)."""
    message = f"invalid {location} parameter '{parameter}': {reason}"
    return example(request, {"statusCode": 400, "message": message, "parameter": parameter})


SEARCH_PAGES = {
    "first_page": example(MARCH, {"trips": [TOUR_1], "count": 1, "next_token": NEXT_TOKEN}),
    "last_page": example(f"{MARCH}&next_token={NEXT_TOKEN}", {"trips": [TOUR_2], "count": 1}),
    "hotel_name_prefix": example("/trips/search?hotel_name=grand", {"trips": [TOUR_1], "count": 1}),
    "nothing_found": example("/trips/search?status=cancelled", {"trips": [], "count": 0}),
}

SEARCH_REJECTIONS = {
    name: rejected(request, "query", parameter, reason)
    for name, (request, parameter, reason) in {
        "status_missing": ("/trips/search", "status", "is required (or search by hotel_name instead)"),
        "status_unknown": (
            "/trips/search?status=COMPLETED",
            "status",
            "'COMPLETED' is not a flight status: one of CONFIRMED, CANCELLED",
        ),
        "status_with_hotel_name": (
            "/trips/search?hotel_name=grand&status=CONFIRMED",
            "status",
            "cannot be combined with hotel_name",
        ),
        "status_repeated": ("/trips/search?status=CONFIRMED&status=CANCELLED", "status", "may be given once"),
        "hotel_name_empty": ("/trips/search?hotel_name=", "hotel_name", "String should have at least 1 character"),
        "from_not_a_time": (
            "/trips/search?status=CONFIRMED&from=yesterday",
            "from",
            "'yesterday' is not an ISO-8601 date-time",
        ),
        "from_with_offset": (
            "/trips/search?status=CONFIRMED&from=2026-03-15T10:00:00%2B09:00",
            "from",
            "'2026-03-15T10:00:00+09:00' must be a local time without a UTC offset",
        ),
        "to_impossible_date": ("/trips/search?status=CONFIRMED&to=2026-02-30", "to", "day is out of range for month"),
        "to_before_from": (
            "/trips/search?status=CONFIRMED&from=2026-03-31&to=2026-03-01",
            "to",
            "must not be before from (2026-03-31)",
        ),
        "limit_out_of_range": (
            "/trips/search?status=CONFIRMED&limit=101",
            "limit",
            "Input should be less than or equal to 100",
        ),
        "limit_not_a_number": (
            "/trips/search?status=CONFIRMED&limit=ten",
            "limit",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        "next_token_not_issued": (
            "/trips/search?status=CONFIRMED&next_token=not-a-token",
            "next_token",
            "is not a token this API issued",
        ),
        "next_token_of_another_search": (
            f"/trips/search?status=CANCELLED&next_token={NEXT_TOKEN}",
            "next_token",
            "was altered or belongs to a different search",
        ),
    }.items()
}

TRIP = {"trip": example("/trips/trip-tour-1", TOUR_1)}

TRIP_REJECTIONS = {
    "trip_id_with_slash": rejected(
        "/trips/trip%2F001", "path", "trip_id", "may hold letters, digits and - _ . ~ @ : and space only, not '/'"
    ),
    "trip_id_with_symbol": rejected(
        "/trips/%E2%9C%88", "path", "trip_id", "may hold letters, digits and - _ . ~ @ : and space only, not '✈'"
    ),
    "trip_id_not_utf8": rejected(
        "/trips/trip%FF", "path", "trip_id", "'trip%FF' percent-encodes bytes that are not UTF-8"
    ),
    "trip_id_too_long": rejected(f"/trips/{'t' * 129}", "path", "trip_id", "must be 1 to 128 characters, got 129"),
}

TRIP_NOT_FOUND = {
    "unknown_trip": example("/trips/trip-nowhere", {"statusCode": 404, "message": "trip 'trip-nowhere' not found"}),
}
