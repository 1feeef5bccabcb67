"""A search request turned into a query of one index's shards, validated before any I/O.

A search is either by flight status (optionally within a departure range) or by hotel-name prefix, never
both: each is one index, and narrowing one with the other's attributes would need a filter that makes
DynamoDB return short or empty pages while still charging for the items it read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from services.trip import schema, times
from services.trip.bookings import BookingStatus
from services.trip.schema import SearchIndex

# What the saga writes into a flight's `status`.
FLIGHT_STATUSES: tuple[str, ...] = (BookingStatus.CONFIRMED, BookingStatus.CANCELLED)
# ISO 8601's own end-of-day time: sorts after every time of that day and before the next day's date.
_END_OF_DAY = "T24:00:00"
ABOVE_SEPARATOR = "\x01"  # a range's upper order key: every order key of the upper value sorts below it


class InvalidSearchParameter(ValueError):
    """A query parameter the search cannot run with; `parameter` names it for the caller."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


@dataclass(frozen=True)
class SearchQuery:
    """One search: an index, the value it asks for (its partitions are that value's shards, `SearchIndex`), and a
    range of order keys (both ends inclusive) or a prefix of them."""

    index: SearchIndex
    value: str
    lower: str | None = None
    upper: str | None = None
    prefix: str | None = None

    @property
    def partitions(self) -> tuple[str, ...]:
        return self.index.partitions(self.value)

    def fingerprint(self) -> str:
        """Stable text identifying the search, so a page token can be bound to it."""
        fields = {"index": self.index.name, "value": self.value, "lower": self.lower, "upper": self.upper}
        return json.dumps({**fields, "prefix": self.prefix}, sort_keys=True, separators=(",", ":"))

    def position_of(self, document: Mapping[str, object]) -> str:
        """The order key of a document: the next page starts after it, in every shard."""
        return str(document[self.index.sort])

    def start_key(self, partition: str, after: str) -> dict[str, str]:
        """The ExclusiveStartKey that resumes `partition` after the order key `after` (which may belong to a
        document of another shard: DynamoDB resumes at the first key above it)."""
        return {
            schema.SEARCH_KEY: schema.trip_of_order_key(after),
            self.index.partition: partition,
            self.index.sort: after,
        }

    def covers(self, after: str) -> bool:
        """Whether a resume position is an order key inside this search, in key values the table can hold (DynamoDB
        rejects an ExclusiveStartKey that does not, or that lies outside the key condition)."""
        value, separator, trip_id = after.partition(schema.ORDER_SEPARATOR)
        return (
            bool(value and separator and trip_id)
            and _is_key_value(after, schema.SORT_KEY_BYTES)
            and _is_key_value(trip_id, schema.PARTITION_KEY_BYTES)
            and (self.lower is None or self.lower <= after)
            and (self.upper is None or after <= self.upper)
            and (self.prefix is None or after.startswith(self.prefix))
        )


def search_query(
    *, status: str | None, hotel_name: str | None, departure_from: str | None, departure_to: str | None
) -> SearchQuery:
    if hotel_name is not None:
        for parameter, value in (("status", status), ("from", departure_from), ("to", departure_to)):
            if value is not None:
                raise InvalidSearchParameter(parameter, "cannot be combined with hotel_name")
        return hotel_name_prefix_query(hotel_name)
    if status is None:
        raise InvalidSearchParameter("status", "is required (or search by hotel_name instead)")
    return flight_status_query(status, departure_from, departure_to)


def flight_status_query(status: str, departure_from: str | None, departure_to: str | None) -> SearchQuery:
    status = flight_status(status)
    lower = None if departure_from is None else _departure_bound("from", departure_from, end_of_day=False)
    upper = None if departure_to is None else _departure_bound("to", departure_to, end_of_day=True)
    if lower is not None and upper is not None and lower > upper:
        raise InvalidSearchParameter("to", f"must not be before from ({departure_from})")
    # Order keys are `<departure_time>` U+0000 `<trip id>`: at or above `lower` exactly when the time is, and below
    # `upper` + U+0001 exactly when the time is at most `upper` (no canonical time holds a control character).
    return SearchQuery(schema.FLIGHT_STATUS_INDEX, status, lower, None if upper is None else upper + ABOVE_SEPARATOR)


def hotel_name_prefix_query(prefix: str) -> SearchQuery:
    key = schema.hotel_name_search_key(prefix)
    if not key:
        raise InvalidSearchParameter("hotel_name", "holds nothing a hotel name is searched by (only accents or U+0000)")
    if not _is_key_value(key, schema.SORT_KEY_BYTES):
        # No index key is longer, so nothing could match; DynamoDB would reject the key condition.
        raise InvalidSearchParameter(
            "hotel_name", f"is longer than any hotel name ({schema.SORT_KEY_BYTES} bytes in UTF-8)"
        )
    return SearchQuery(schema.HOTEL_NAME_INDEX, key[:1], prefix=key)


def flight_status(raw: str) -> str:
    """The flight status a `status` parameter names, in any letter case."""
    for status in FLIGHT_STATUSES:
        if raw.casefold() == status.casefold():
            return status
    raise InvalidSearchParameter("status", f"{raw!r} is not a flight status: one of {', '.join(FLIGHT_STATUSES)}")


def _departure_bound(parameter: str, raw: str, *, end_of_day: bool) -> str:
    """The bound in the stored departure_time's canonical form (`times`), so that the strings compare as times."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        pass
    else:
        return day.isoformat() + (_END_OF_DAY if end_of_day else "")
    try:
        return times.local_date_time(raw)
    except times.NotATime as error:
        raise InvalidSearchParameter(parameter, str(error)) from None


def _is_key_value(value: str, max_bytes: int) -> bool:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: JSON can spell one (\ud800), no stored key holds one
        return False
    return 1 <= size <= max_bytes
