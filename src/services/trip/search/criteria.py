"""A search request turned into one DynamoDB index query, validated before any I/O.

A search is either by flight status (optionally within a departure range) or by hotel-name prefix, never
both: each is one index, and narrowing one with the other's attributes would need a filter that makes
DynamoDB return short or empty pages while still charging for the items it read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date

from services.trip import schema, times
from services.trip.bookings import BookingStatus

# What the saga writes into a flight's `status`.
FLIGHT_STATUSES: tuple[str, ...] = (BookingStatus.CONFIRMED, BookingStatus.CANCELLED)
# ISO 8601's own end-of-day time: sorts after every time of that day and before the next day's date.
_END_OF_DAY = "T24:00:00"


class InvalidSearchParameter(ValueError):
    """A query parameter the search cannot run with; `parameter` names it for the caller."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


@dataclass(frozen=True)
class SearchQuery:
    """One index query: a partition, and optionally a sort-key range (both ends inclusive) or a prefix."""

    index_name: str
    partition_attribute: str
    partition_value: str
    sort_attribute: str
    lower: str | None = None
    upper: str | None = None
    prefix: str | None = None

    def fingerprint(self) -> str:
        """Stable text identifying the query, so a page token can be bound to it."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def position_of(self, document: Mapping[str, object]) -> dict[str, str]:
        """The index key of a document: where the next page starts after it."""
        return {
            attribute: str(document[attribute])
            for attribute in (schema.SEARCH_KEY, self.partition_attribute, self.sort_attribute)
        }

    def covers(self, position: Mapping[str, str]) -> bool:
        """Whether a resume position lies inside this query, in key values the table can hold (DynamoDB rejects
        an ExclusiveStartKey that does not)."""
        if set(position) != {schema.SEARCH_KEY, self.partition_attribute, self.sort_attribute}:
            return False
        if not all(
            _is_key_value(
                value, schema.SORT_KEY_BYTES if attribute == self.sort_attribute else schema.PARTITION_KEY_BYTES
            )
            for attribute, value in position.items()
        ):
            return False
        sort_value = position[self.sort_attribute]
        return (
            position[self.partition_attribute] == self.partition_value
            and (self.lower is None or self.lower <= sort_value)
            and (self.upper is None or sort_value <= self.upper)
            and (self.prefix is None or sort_value.startswith(self.prefix))
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
    partition, sort = schema.FLIGHT_STATUS_INDEX_KEYS
    return SearchQuery(schema.FLIGHT_STATUS_INDEX, partition, status, sort, lower=lower, upper=upper)


def hotel_name_prefix_query(prefix: str) -> SearchQuery:
    initial, key = schema.hotel_name_index_key(prefix)
    if not _is_key_value(key, schema.SORT_KEY_BYTES):
        # No index key is longer, so nothing could match; DynamoDB would reject the key condition.
        raise InvalidSearchParameter(
            "hotel_name", f"is longer than any hotel name ({schema.SORT_KEY_BYTES} bytes in UTF-8)"
        )
    partition, sort = schema.HOTEL_NAME_INDEX_KEYS
    return SearchQuery(schema.HOTEL_NAME_INDEX, partition, initial, sort, prefix=key)


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
