"""The hands-on's saga inputs (section 7.2: a trip that succeeds; 7.4: a payment that fails and is compensated)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATUS_FIELDS = ("flight_status", "hotel_status", "payment_status")
BOOKED = ("CONFIRMED", "CONFIRMED", "COMPLETED")  # 7.2: what a trip's document shows once its saga succeeded
COMPENSATED = ("CANCELLED", "CANCELLED", "REFUNDED")  # 7.4: ... and once its saga compensated


def statuses(document: Mapping[str, Any]) -> tuple[Any, ...]:
    """The flight's, hotel's and payment's status in a trip's search document (None where absent)."""
    return tuple(document.get(field) for field in STATUS_FIELDS)


def trip_input(
    trip_id: str,
    *,
    flight_number: str = "NH001",
    day: str = "2026-03-15",
    hotel_name: str = "Grand Hotel Tokyo",
    payment_amount: str = "80000",
) -> dict[str, Any]:
    year, month, date = day.split("-")
    check_out = f"{year}-{month}-{int(date) + 2:02d}"
    return {
        "trip_id": trip_id,
        "flight_details": {
            "flight_number": flight_number,
            "departure_time": f"{day}T10:00:00",
            "arrival_time": f"{day}T14:00:00",
            "price": {"amount": "50000", "currency": "JPY"},
        },
        "hotel_details": {
            "hotel_name": hotel_name,
            "check_in_date": day,
            "check_out_date": check_out,
            "price": {"amount": "30000", "currency": "JPY"},
        },
        "payment_details": {"amount": payment_amount, "currency": "JPY"},
    }


SEED_SUCCESS = trip_input("trip-streams-001")  # 7.2
SEED_COMPENSATED = trip_input(  # 7.4: the payment is rejected, the saga compensates
    "trip-streams-cancel-001", flight_number="NH999", day="2026-04-01", hotel_name="Test Hotel", payment_amount="-1"
)
