"""Cost: on a realistic saga workload the projection writes far less than one request per record.

Sixty trips run their sagas concurrently (reserve flight, hotel, payment; a third of them fail the payment and
compensate; some change their flight or hotel on the way), their changes land in batches of 100 covering about 15
trips each. The baseline is the seed's projector: one UpdateItem per record. Both run in this test on the same
records, and DynamoDB write requests are counted on the wire (botocore's before-call events).
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from services.trip import config, consumer
from services.trip.changes import decode_stream_record
from services.trip.handlers import stream_consumer
from tests import factories as f

WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
BATCH_SIZE = 100


@pytest.fixture
def write_requests(search_table: Any, dlq_url: str) -> Iterator[Counter[str]]:
    counted: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        if model.name in WRITE_OPERATIONS:
            counted[model.name] += 1

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", count)  # type: ignore[union-attr]
    config.projector_settings.cache_clear()
    consumer._adapters.cache_clear()
    yield counted
    consumer._adapters.cache_clear()
    config.projector_settings.cache_clear()
    boto3.DEFAULT_SESSION = None


def saga_workload(trips: int, seed: int = 7) -> list[f.Change]:
    rng = random.Random(seed)
    timeline: list[f.Change] = []
    for n in range(trips):
        trip_id = f"trip-{n:03d}"
        clock = f.T0 + timedelta(seconds=n * 4)

        def at(step: int, clock: Any = clock) -> Any:
            return clock + timedelta(seconds=step * 3 + rng.random())

        flight, hotel = f.flight(trip_id), f.hotel(trip_id)
        timeline += [f.insert(flight, at(0)), f.insert(hotel, at(1))]
        if rng.random() < 0.5:  # the traveller changes flight before paying
            rebooked = {**flight, "version": flight["version"] + 1, "flight_number": "NH005"}
            timeline.append(f.modify(flight, rebooked, at(2)))
            flight = rebooked
        if rng.random() < 0.5:  # and upgrades the room
            upgraded = {**hotel, "version": hotel["version"] + 1, "hotel_name": "Grand Hotel Tokyo Suites"}
            timeline.append(f.modify(hotel, upgraded, at(2)))
            hotel = upgraded
        if n % 3 == 0:  # payment rejected: compensate in reverse
            refunded = f.payment(trip_id, status="REFUNDED")
            timeline += [f.insert(refunded, at(3))]
            for step, old in enumerate((hotel, flight), start=4):
                timeline.append(f.modify(old, {**old, "version": old["version"] + 1, "status": "CANCELLED"}, at(step)))
        else:
            pending = f.payment(trip_id, status="PENDING")
            timeline += [f.insert(pending, at(3)), f.modify(pending, {**pending, "version": 2}, at(4))]
    return sorted(timeline, key=lambda change: change.at)


def per_record_baseline(records: list[dict[str, Any]], table: Any) -> None:
    """The seed's projector, made version-safe: one conditional UpdateItem per record."""
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


def test_projection_writes_at_most_a_third_of_the_per_record_requests(
    write_requests: Counter[str], search_table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [f.stream_record(change) for change in saga_workload(trips=60)]
    batches = [records[i : i + BATCH_SIZE] for i in range(0, len(records), BATCH_SIZE)]
    trips_per_batch = [len({r["dynamodb"]["Keys"]["PK"]["S"] for r in batch}) for batch in batches]

    for batch in batches:
        assert stream_consumer.lambda_handler(f.event(*batch), f.LambdaContext()) == {"batchItemFailures": []}
    projection_writes = sum(write_requests.values())
    write_requests.clear()
    baseline_table = boto3.resource("dynamodb").Table(search_table.name)
    for batch in batches:
        per_record_baseline(batch, baseline_table)
    baseline_writes = sum(write_requests.values())

    ratio = projection_writes / baseline_writes
    with capsys.disabled():
        print(
            f"\n[write requests] {len(records)} records in {len(batches)} batches of <= {BATCH_SIZE}, "
            f"{sum(trips_per_batch) / len(batches):.1f} trips per batch: projection {projection_writes}, "
            f"per-record baseline {baseline_writes}, ratio {ratio:.3f}"
        )
    assert baseline_writes == len(records)
    assert 12 <= sum(trips_per_batch) / len(batches) <= 18
    assert ratio <= 1 / 3
