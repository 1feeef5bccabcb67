"""Both consumers on moto: projection, stale changes, poison records to the DLQ, partial batch failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from services.trip import config, consumer
from services.trip.adapters import search_documents
from services.trip.handlers import kinesis_consumer, stream_consumer
from tests import factories as f

CONTEXT = f.LambdaContext()


@pytest.fixture(autouse=True)
def projection_env(search_table: Any, dlq_url: str) -> Iterator[None]:
    config.projector_settings.cache_clear()
    consumer._adapters.cache_clear()
    yield
    config.projector_settings.cache_clear()
    consumer._adapters.cache_clear()


def document(search_table: Any, trip_id: str) -> dict[str, Any]:
    return search_table.get_item(Key={"trip_id": trip_id}, ConsistentRead=True).get("Item", {})


def dlq_messages(dlq_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    response = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(message["Body"]) for message in response.get("Messages", [])]


SAGA = [
    f.insert(f.flight("trip-001"), at=f.later(0)),
    f.insert(f.hotel("trip-001"), at=f.later(1)),
    f.insert(f.payment("trip-001"), at=f.later(2)),
]


@pytest.mark.parametrize(
    "handler, to_record",
    [(stream_consumer.lambda_handler, f.stream_record), (kinesis_consumer.lambda_handler, f.kinesis_record)],
    ids=["dynamodb-streams", "kinesis"],
)
def test_each_consumer_projects_a_saga_into_one_document(search_table: Any, handler: Any, to_record: Any) -> None:
    response = handler(f.event(*(to_record(change) for change in SAGA)), CONTEXT)

    assert response == {"batchItemFailures": []}
    item = document(search_table, "trip-001")
    assert (item["flight_status"], item["hotel_status"], item["payment_status"]) == (
        "CONFIRMED",
        "CONFIRMED",
        "COMPLETED",
    )
    assert item["total_amount"] == Decimal(80000)
    assert item["updated_at"] == "2026-03-01T09:02:00Z"


def test_the_same_change_from_both_sources_is_applied_once(search_table: Any) -> None:
    stream_consumer.lambda_handler(f.event(*(f.stream_record(c) for c in SAGA)), CONTEXT)
    written = document(search_table, "trip-001")

    response = kinesis_consumer.lambda_handler(f.event(*(f.kinesis_record(c) for c in SAGA)), CONTEXT)

    assert response == {"batchItemFailures": []}
    assert document(search_table, "trip-001") == written


def test_poison_records_go_to_the_dlq_whole_and_the_batch_goes_on(search_table: Any, dlq_url: str) -> None:
    poison = f.kinesis_record(data=b"not json at all", sequence_number="4951", shard_id="shardId-000000000002")
    batch = f.event(f.kinesis_record(SAGA[0]), poison, f.kinesis_record(SAGA[1]))

    response = kinesis_consumer.lambda_handler(batch, CONTEXT)

    assert response == {"batchItemFailures": []}
    assert document(search_table, "trip-001")["hotel_status"] == "CONFIRMED"
    [message] = dlq_messages(dlq_url)
    assert message["kind"] == "poison-record"
    assert message["source"] == "kinesis"
    assert message["reason"].startswith("kinesis data is not JSON")
    assert (message["shardId"], message["sequenceNumber"]) == ("shardId-000000000002", "4951")
    assert message["eventSourceARN"] == f.KINESIS_ARN
    assert message["functionName"] == CONTEXT.function_name
    assert message["record"] == poison


def test_a_stream_record_with_a_wrong_type_is_poison(search_table: Any, dlq_url: str) -> None:
    poison = f.stream_record(f.insert(f.payment("trip-002", amount="eighty")), sequence_number="222")

    response = stream_consumer.lambda_handler(f.event(poison), CONTEXT)

    assert response == {"batchItemFailures": []}
    [message] = dlq_messages(dlq_url)
    assert (message["source"], message["sequenceNumber"]) == ("dynamodb-streams", "222")
    assert message["reason"] == "PAYMENT NewImage attribute 'amount' must be a DynamoDB Number (N), got String (S)"
    assert document(search_table, "trip-002") == {}


def test_irrelevant_items_are_skipped_without_error(search_table: Any, dlq_url: str) -> None:
    header = {"PK": "TRIP#trip-003", "SK": "TRIP#trip-003", "version": Decimal(1)}

    response = stream_consumer.lambda_handler(f.event(f.stream_record(f.insert(header))), CONTEXT)

    assert response == {"batchItemFailures": []}
    assert document(search_table, "trip-003") == {}
    assert dlq_messages(dlq_url) == []


def test_a_throttled_trip_is_reported_for_retry_and_the_others_are_projected(
    search_table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = search_documents.SearchDocuments.save

    def throttle_trip_002(self: Any, doc: Any, ttl: int) -> Any:
        if doc.trip_id == "trip-002":
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise search_documents._translate(ClientError(error, "PutItem"))
        return real_save(self, doc, ttl)

    monkeypatch.setattr(search_documents.SearchDocuments, "save", throttle_trip_002)
    records = [
        f.stream_record(f.insert(f.flight("trip-001")), sequence_number="301"),
        f.stream_record(f.insert(f.flight("trip-002")), sequence_number="302"),
        f.stream_record(f.insert(f.hotel("trip-002")), sequence_number="303"),
        f.stream_record(f.insert(f.hotel("trip-001")), sequence_number="304"),
    ]

    response = stream_consumer.lambda_handler(f.event(*records), CONTEXT)

    assert response == {"batchItemFailures": [{"itemIdentifier": "302"}, {"itemIdentifier": "303"}]}
    assert document(search_table, "trip-001")["hotel_status"] == "CONFIRMED"
    assert document(search_table, "trip-002") == {}


def test_a_change_that_cannot_be_stored_is_parked_with_the_store_error(
    search_table: Any, dlq_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reject(self: Any, doc: Any, ttl: int) -> Any:
        error = {"Error": {"Code": "ValidationException", "Message": "Item size has exceeded the maximum allowed size"}}
        raise search_documents._translate(ClientError(error, "PutItem"))

    monkeypatch.setattr(search_documents.SearchDocuments, "save", reject)

    response = kinesis_consumer.lambda_handler(f.event(f.kinesis_record(SAGA[0], sequence_number="77")), CONTEXT)

    assert response == {"batchItemFailures": []}
    [message] = dlq_messages(dlq_url)
    assert message["sequenceNumber"] == "77"
    assert "Item size has exceeded" in message["reason"]


def test_a_dlq_that_cannot_be_reached_turns_poison_into_a_retry(search_table: Any, dlq_url: str) -> None:
    boto3.client("sqs").delete_queue(QueueUrl=dlq_url)
    poison = f.kinesis_record(data=b"garbage", sequence_number="91")

    response = kinesis_consumer.lambda_handler(
        f.event(f.kinesis_record(SAGA[0], sequence_number="90"), poison), CONTEXT
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "91"}]}
    assert document(search_table, "trip-001")["flight_status"] == "CONFIRMED"


def test_a_conflicting_writer_is_absorbed_by_refolding(search_table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The other pipeline writes the hotel between our read and our write.
    real_load = search_documents.SearchDocuments.load_many
    interleaved: list[bool] = []

    def load_then_race(self: Any, trip_ids: Any) -> Any:
        documents = real_load(self, trip_ids)
        if not interleaved:
            interleaved.append(True)
            kinesis_consumer.lambda_handler(f.event(f.kinesis_record(SAGA[1])), CONTEXT)
        return documents

    monkeypatch.setattr(search_documents.SearchDocuments, "load_many", load_then_race)

    response = stream_consumer.lambda_handler(f.event(f.stream_record(SAGA[0])), CONTEXT)

    assert response == {"batchItemFailures": []}
    item = document(search_table, "trip-001")
    assert (item["flight_status"], item["hotel_status"], item["revision"]) == ("CONFIRMED", "CONFIRMED", Decimal(2))
