"""What the API shows of a search document: the public fields, numbers exactly as stored, no bookkeeping."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, NotRequired, Required, cast

from pydantic import WithJsonSchema

# pydantic (the OpenAPI description of the responses) needs this TypedDict before Python 3.12
from typing_extensions import TypedDict

from services.trip import schema
from services.trip.projection import PUBLIC_FIELDS


class TripView(TypedDict, total=False):
    """A trip as the API returns it (the projection's PUBLIC_FIELDS); fields but trip_id appear once written."""

    trip_id: Required[str]  # the table's key: always there
    flight_number: str
    departure_time: str
    arrival_time: str
    flight_status: str
    hotel_name: str
    check_in_date: str
    check_out_date: str
    hotel_status: str
    # Every digit DynamoDB holds (up to 38), written as a JSON number by `exact_json`.
    total_amount: Annotated[Decimal, WithJsonSchema({"type": "number"})]
    currency: str
    payment_status: str
    updated_at: str


class SearchResult(TypedDict):
    trips: list[TripView]
    count: int
    next_token: NotRequired[str]


def is_tombstone(document: Mapping[str, Any]) -> bool:
    """A document whose trip has no live entity left: kept only to stop late changes, never shown."""
    return schema.TTL_ATTRIBUTE in document


def public_view(document: Mapping[str, Any]) -> TripView:
    return cast(TripView, {field: document[field] for field in PUBLIC_FIELDS if field in document})
