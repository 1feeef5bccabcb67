"""A realistic saga workload and the per-record baseline the projection's figures are measured against.

Shared by `make bench` (the rebuild's figures) and tests/handlers/test_write_requests.py (the consumers' write
requests), so both compare with the same baseline.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.trip.changes import decode_stream_record
from tests import factories as f


@dataclass(frozen=True)
class TripDetails:
    """What one trip books, drawn by a workload of another shape (`saga_workload(details=...)`)."""

    flight: dict[str, Any]  # attributes over factories.flight's
    hotel: dict[str, Any]  # over factories.hotel's
    payment_rejected: bool


def saga_workload(
    trips: int, seed: int = 7, details: Callable[[random.Random], TripDetails] | None = None
) -> list[f.Change]:
    """The changes of `trips` concurrent sagas, in the order they were written (about 5.3 changes per trip).

    Each trip reserves a flight and a hotel (half change the flight, half upgrade the room), then pays; a third of
    the payments are rejected and compensated in reverse (refund, hotel and flight cancelled). `details`: what each
    trip books and whether its payment is rejected, instead (the factories' flight and hotel, every third rejected).
    """
    rng = random.Random(seed)
    timeline: list[f.Change] = []
    for n in range(trips):
        trip_id = f"trip-{n:03d}"
        clock = f.T0 + timedelta(seconds=n * 4)

        def at(step: int, clock: Any = clock) -> Any:
            return clock + timedelta(seconds=step * 3 + rng.random())

        booked = None if details is None else details(rng)
        flight = f.flight(trip_id, **({} if booked is None else booked.flight))
        hotel = f.hotel(trip_id, **({} if booked is None else booked.hotel))
        timeline += [f.insert(flight, at(0)), f.insert(hotel, at(1))]
        if rng.random() < 0.5:  # the traveller changes flight before paying
            rebooked = {**flight, "version": flight["version"] + 1, "flight_number": "NH005"}
            timeline.append(f.modify(flight, rebooked, at(2)))
            flight = rebooked
        if rng.random() < 0.5:  # and upgrades the room
            suite = {"hotel_name": "Grand Hotel Tokyo Suites"} if booked is None else {"check_out_date": "2027-12-31"}
            upgraded = {**hotel, "version": hotel["version"] + 1, **suite}
            timeline.append(f.modify(hotel, upgraded, at(2)))
            hotel = upgraded
        if (n % 3 == 0) if booked is None else booked.payment_rejected:  # payment rejected: compensate in reverse
            refunded = f.payment(trip_id, status="REFUNDED")
            timeline += [f.insert(refunded, at(3))]
            for step, old in enumerate((hotel, flight), start=4):
                timeline.append(f.modify(old, {**old, "version": old["version"] + 1, "status": "CANCELLED"}, at(step)))
        else:
            pending = f.payment(trip_id, status="PENDING")
            timeline += [f.insert(pending, at(3)), f.modify(pending, {**pending, "version": 2}, at(4))]
    return sorted(timeline, key=lambda change: change.at)


def per_record_baseline(records: list[dict[str, Any]], table: Any) -> None:
    """The seed's projector, made version-safe: one conditional UpdateItem per DynamoDB Streams record, in order.

    `table`: a boto3 DynamoDB `Table` resource.
    """
    for record in records:
        change = decode_stream_record(record)
        assert change is not None
        status_field = f"{change.entity.lower()}_status"
        with contextlib.suppress(table.meta.client.exceptions.ConditionalCheckFailedException):
            table.update_item(
                Key={"trip_id": change.trip_id},
                UpdateExpression="SET #status = :status, #version = :version",
                ConditionExpression="attribute_not_exists(#version) OR #version < :version",
                ExpressionAttributeNames={"#status": status_field, "#version": f"{change.entity.lower()}_version"},
                ExpressionAttributeValues={":status": change.image["status"], ":version": change.version},
            )
