"""Cost: on a realistic saga workload the projection writes far less than one request per record.

Sixty trips run their sagas concurrently (reserve flight, hotel, payment; a third of them fail the payment and
compensate; some change their flight or hotel on the way), their changes land in batches of 100 covering about 17
trips each. The baseline is the seed's projector: one UpdateItem per record. Both run in this test on the same
records, and DynamoDB write requests are counted on the wire (botocore's before-call events).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bench.saga import per_record_baseline, saga_workload
from services.trip import consumer
from services.trip.handlers import stream_consumer
from tests import factories as f

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

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
    consumer.clear_caches()
    yield counted
    consumer.clear_caches()
    boto3.DEFAULT_SESSION = None


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
