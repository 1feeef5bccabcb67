"""One canonical text per time (services.trip.times): what the decoders make of times others wrote."""

from __future__ import annotations

from typing import Any

import pytest

from services.trip import times
from services.trip.changes import PoisonRecord, decode_kinesis_record, decode_stream_record
from tests import factories as f

DECODERS = pytest.mark.parametrize(
    "decode, to_record",
    [(decode_stream_record, f.stream_record), (decode_kinesis_record, f.kinesis_record)],
    ids=["dynamodb-streams", "kinesis"],
)


@DECODERS
def test_times_of_other_shapes_decode_to_the_canonical_form(decode: Any, to_record: Any) -> None:
    flight = f.flight("trip-001", departure_time="2026-03-15T10:00", arrival_time="2026-03-15 14:30:00.5")

    change = decode(to_record(f.insert(flight)))

    assert (change.image["departure_time"], change.image["arrival_time"]) == (
        "2026-03-15T10:00:00",
        "2026-03-15T14:30:00.500000",
    )


@DECODERS
def test_hotel_dates_of_other_shapes_decode_to_the_canonical_form(decode: Any, to_record: Any) -> None:
    hotel = f.hotel("trip-001", check_in_date="20260315", check_out_date="2026-W11-2")

    change = decode(to_record(f.insert(hotel)))

    assert (change.image["check_in_date"], change.image["check_out_date"]) == ("2026-03-15", "2026-03-10")


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        (
            {"departure_time": "2026-03-15T10:00:00+09:00"},
            "the item's departure_time: '2026-03-15T10:00:00+09:00' must be a local time without a UTC offset",
        ),
        ({"arrival_time": "2 pm"}, "the item's arrival_time: '2 pm' is not an ISO-8601 date-time"),
        ({"departure_time": "2026-03-15"}, "the item's departure_time: '2026-03-15' is a date without a time of day"),
        ({"departure_time": "2026-03-15T25:00"}, "the item's departure_time: hour must be in 0..23"),
        ({"arrival_time": "2026-02-29T10:00"}, "the item's arrival_time: day is out of range for month"),
    ],
)
def test_a_flight_time_that_is_not_a_local_date_time_is_poison(attributes: dict[str, str], reason: str) -> None:
    record = f.stream_record(f.insert(f.flight("trip-001", **attributes)))

    with pytest.raises(PoisonRecord) as raised:
        decode_stream_record(record)

    assert raised.value.reason == reason


def test_a_hotel_date_that_is_not_a_date_is_poison() -> None:
    record = f.kinesis_record(f.insert(f.hotel("trip-001", check_out_date="17/03/2026")))

    with pytest.raises(PoisonRecord) as raised:
        decode_kinesis_record(record)

    assert raised.value.reason == "the item's check_out_date: '17/03/2026' is not an ISO-8601 date"


def test_a_removal_decodes_whatever_the_times_it_removes() -> None:
    removed = f.flight("trip-001", departure_time="not a time")

    change = decode_stream_record(f.stream_record(f.remove(removed)))

    assert change is not None and change.image["departure_time"] == "not a time"


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("2026-03-15T09:59:59.999999", "2026-03-15T10:00:00"),
        ("2026-03-15T10:00:00", "2026-03-15T10:00:00.000001"),
        ("2026-03-15T10:00:00.5", "2026-03-15T10:00:01"),
        ("2026-03-15 23:59", "2026-03-16T00:00"),
        ("0999-12-31T23:59", "2026-01-01T00:00"),
    ],
)
def test_canonical_local_date_times_sort_as_the_times_do(earlier: str, later: str) -> None:
    assert times.local_date_time(earlier) < times.local_date_time(later)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026W11T10", "2026-03-09T10:00:00"),  # a week date and an hour: ten characters, still a date-time
        ("2026W11 10", "2026-03-09T10:00:00"),
        ("2026-03-15T00:00", "2026-03-15T00:00:00"),  # midnight written out is a time of day
        ("20260315T00", "2026-03-15T00:00:00"),
    ],
)
def test_a_short_or_midnight_date_time_is_a_date_time(text: str, canonical: str) -> None:
    assert times.local_date_time(text) == canonical


@pytest.mark.parametrize("text", ["2026-03-15", "20260315", "2026-W11", "2026W11", "2026-W11-7", "2026W117"])
def test_every_iso_date_form_alone_is_a_date_without_a_time_of_day(text: str) -> None:
    with pytest.raises(times.NotATime) as raised:
        times.local_date_time(text)

    assert str(raised.value) == f"{text!r} is a date without a time of day"


def test_a_reason_quotes_a_long_value_by_its_start_and_length() -> None:
    text = "2026-03-15T10:00:00" + "x" * 400_000

    with pytest.raises(times.NotATime) as raised:
        times.local_date_time(text)

    assert str(raised.value) == f"{repr(text)[:80]}... (400,021 characters) is not an ISO-8601 date-time"
