"""One canonical text for every time a trip carries, so that comparing the strings compares the times.

DynamoDB compares strings (the departure-time index, the search's bounds) code point by code point: only one
spelling per time makes that order the order of time. `2026-03-15T10:00` and `2026-03-15 10:30:00` are read as
ISO 8601 and written as follows.

- `departure_time`, `arrival_time`: `YYYY-MM-DDTHH:MM:SS`, and `.ffffff` only when there is a fraction; the
  airport's local time, so a UTC offset is refused.
- `check_in_date`, `check_out_date`: `YYYY-MM-DD`.
- `created_at`, `updated_at`: instants, `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` as the saga writes them; compared as
  instants whatever their spelling (an offset is converted, none means UTC).

A flight time is the wall-clock time at its airport, as the hands-on writes it: one with an offset cannot be
ordered against it without each airport's time zone, so it is refused (the saga: a validation error; the search: a
400; an item written by others: poison, in the DLQ with the reason). These forms sort as the times do for years
0001-9999 (a fraction sorts after the whole second it extends, `.` being below every digit).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.trip.reasons import quoted

LOCAL_TIME_ATTRIBUTES = ("departure_time", "arrival_time")
DATE_ATTRIBUTES = ("check_in_date", "check_out_date")


class NotATime(ValueError):
    """A text that is not the kind of time its attribute holds; the message says why."""


def _why(text: str, invalid: ValueError, kind: str) -> NotATime:
    """A shape that is not ISO 8601 is named as such; a well-shaped impossible time keeps Python's reason
    (`day is out of range for month`)."""
    reason = str(invalid)
    return NotATime(f"{quoted(text)} is not an ISO-8601 {kind}" if reason.startswith("Invalid isoformat") else reason)


def local_date_time(text: str) -> str:
    """The canonical local date-time of an ISO 8601 date-time without offset (`T` or space; minutes or finer)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as invalid:
        raise _why(text, invalid, "date-time") from None
    # datetime.fromisoformat reads a lone date as midnight: only a midnight can be a date without a time of day.
    if not (moment.hour or moment.minute or moment.second or moment.microsecond):
        try:
            date.fromisoformat(text)
        except ValueError:
            pass
        else:
            raise NotATime(f"{quoted(text)} is a date without a time of day")
    if moment.tzinfo is not None:
        raise NotATime(f"{quoted(text)} must be a local time without a UTC offset")
    return moment.isoformat()


def calendar_date(text: str) -> str:
    """The canonical `YYYY-MM-DD` of an ISO 8601 calendar date (`2026-03-15`, `20260315`, `2026-W11-7`)."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as invalid:
        raise _why(text, invalid, "date") from None


def canonicalize_item_times(item: dict[str, Any]) -> None:
    """Put the item's flight times and hotel dates in canonical form, in place (for items others wrote to
    TripTable; the decoder owns the item it built).

    Attributes that are not strings are left for the type check. Raises `NotATime` naming the attribute.
    """
    for names, form in _FORMS:
        for name in names:
            value = item.get(name)
            if type(value) is str and value:
                try:
                    item[name] = form(value)
                except NotATime as error:
                    raise NotATime(f"the item's {name}: {error}") from None


_FORMS = ((LOCAL_TIME_ATTRIBUTES, local_date_time), (DATE_ATTRIBUTES, calendar_date))
