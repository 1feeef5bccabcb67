"""Both consumers on moto: projection, stale changes, poison records to the DLQ, partial batch failures."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from services.trip import changes, consumer
from services.trip.adapters import search_documents
from services.trip.handlers import kinesis_consumer, stream_consumer
from services.trip.projection import content
from tests import factories as f
from tests.conftest import metric_sums

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

CONTEXT = f.LambdaContext()


@pytest.fixture(autouse=True)
def projection_env(search_table: Any, dlq_url: str) -> Iterator[None]:
    consumer.clear_caches()
    yield
    consumer.clear_caches()


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
    both = document(search_table, "trip-001")
    assert content(both) == content(written)  # nothing applied twice: the same fields, versions and seconds
    # one write that keeps Kinesis' marks: the next fold decides by what is stored, and a mark not written is lost
    assert both["revision"] == written["revision"] + 1
    assert {entity: set(revision["marks"]) for entity, revision in both["versions"].items()} == {
        entity: {"dynamodb-streams", "kinesis"} for entity in written["versions"]
    }


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
            raise search_documents.translate_error(ClientError(error, "PutItem"))
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
        raise search_documents.translate_error(ClientError(error, "PutItem"))

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


SOURCES = pytest.mark.parametrize(
    "handler, to_record",
    [(stream_consumer.lambda_handler, f.stream_record), (kinesis_consumer.lambda_handler, f.kinesis_record)],
    ids=["dynamodb-streams", "kinesis"],
)


def binary(text: str) -> dict[str, str]:
    """A Binary attribute value as both streams carry it: base64 text under "B"."""
    return {"B": base64.b64encode(text.encode()).decode()}


def with_attribute(record: dict[str, Any], image: str, name: str, value: dict[str, Any]) -> dict[str, Any]:
    """The record with one attribute of its image (or Keys) replaced by a raw DynamoDB attribute value."""
    if "kinesis" not in record:
        record["dynamodb"][image][name] = value
        return record
    payload = json.loads(base64.b64decode(record["kinesis"]["data"]))
    payload["dynamodb"][image][name] = value
    record["kinesis"]["data"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return record


@SOURCES
def test_binary_hotel_name_is_poison(search_table: Any, dlq_url: str, handler: Any, to_record: Any) -> None:
    record = with_attribute(
        to_record(f.insert(f.hotel("trip-010")), sequence_number="4101"), "NewImage", "hotel_name", binary("Okura")
    )

    response = handler(f.event(record), CONTEXT)

    assert response == {"batchItemFailures": []}
    [message] = dlq_messages(dlq_url)
    assert message["reason"] == "HOTEL NewImage attribute 'hotel_name' must be a DynamoDB String (S), got Binary (B)"
    assert message["sequenceNumber"] == "4101"
    assert document(search_table, "trip-010") == {}


@pytest.mark.parametrize(
    "image, name, value, reason",
    [
        (
            "NewImage",
            "status",
            {"SS": ["CONFIRMED"]},
            "FLIGHT NewImage attribute 'status' must be a DynamoDB String (S), got String Set (SS)",
        ),
        (
            "NewImage",
            "departure_time",
            {"N": "20260315"},
            "FLIGHT NewImage attribute 'departure_time' must be a DynamoDB String (S), got Number (N)",
        ),
        (
            "NewImage",
            "flight_number",
            {"BOOL": True},
            "FLIGHT NewImage attribute 'flight_number' must be a DynamoDB String (S), got Boolean (BOOL)",
        ),
        (
            "NewImage",
            "version",
            {"S": "2"},
            "FLIGHT NewImage attribute 'version' must be a DynamoDB Number (N), got String (S)",
        ),
        (
            "NewImage",
            "created_at",
            binary("2026-03-01T09:00:00"),
            "FLIGHT NewImage attribute 'created_at' must be a DynamoDB String (S), got Binary (B)",
        ),
        (
            "NewImage",
            "updated_at",
            {"L": []},
            "FLIGHT NewImage attribute 'updated_at' must be a DynamoDB String (S), got List (L)",
        ),
        (
            "OldImage",
            "version",
            binary("1"),
            "FLIGHT OldImage attribute 'version' must be a DynamoDB Number (N), got Binary (B)",
        ),
        ("Keys", "PK", binary("TRIP#trip-011"), "Keys attribute 'PK' must be a DynamoDB String (S), got Binary (B)"),
    ],
    ids=[
        "string-set-status",
        "number-time",
        "boolean-flight-number",
        "string-version",
        "binary-created-at",
        "list-updated-at",
        "binary-old-version",
        "binary-key",
    ],
)
@SOURCES
def test_every_attribute_is_checked_against_its_dynamodb_type(
    dlq_url: str, handler: Any, to_record: Any, image: str, name: str, value: dict[str, Any], reason: str
) -> None:
    change = f.modify(f.flight("trip-011"), f.flight("trip-011", 2, "CANCELLED"), at=f.later(1))
    record = with_attribute(to_record(change), image, name, value)

    assert handler(f.event(record), CONTEXT) == {"batchItemFailures": []}

    assert [message["reason"] for message in dlq_messages(dlq_url)] == [reason]


def throttled_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    def throttle(self: Any, doc: Any, ttl: int) -> Any:
        error = {"Error": {"Code": "ThrottlingException", "Message": "Rate of requests exceeds the allowed throughput"}}
        raise search_documents.translate_error(ClientError(error, "PutItem"))

    monkeypatch.setattr(search_documents.SearchDocuments, "save", throttle)


@SOURCES
def test_a_batch_whose_only_record_is_throttled_returns_its_item_failure(
    monkeypatch: pytest.MonkeyPatch, handler: Any, to_record: Any
) -> None:
    throttled_writes(monkeypatch)

    response = handler(f.event(to_record(SAGA[0], sequence_number="5001")), CONTEXT)

    assert response == {"batchItemFailures": [{"itemIdentifier": "5001"}]}


@SOURCES
def test_a_batch_whose_documents_cannot_be_read_returns_every_item_failure(
    monkeypatch: pytest.MonkeyPatch, handler: Any, to_record: Any
) -> None:
    def throttle(self: Any, trip_ids: Any) -> Any:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
        raise search_documents.translate_error(ClientError(error, "BatchGetItem"))

    monkeypatch.setattr(search_documents.SearchDocuments, "load_many", throttle)

    response = handler(f.event(*(to_record(c, sequence_number=str(5101 + n)) for n, c in enumerate(SAGA))), CONTEXT)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "5101"}, {"itemIdentifier": "5102"}, {"itemIdentifier": "5103"}]
    }


@SOURCES
def test_a_batch_whose_only_poison_record_cannot_be_parked_returns_its_item_failure(
    dlq_url: str, handler: Any, to_record: Any
) -> None:
    boto3.client("sqs").delete_queue(QueueUrl=dlq_url)
    record = with_attribute(
        to_record(f.insert(f.hotel("trip-012")), sequence_number="5201"), "NewImage", "hotel_name", binary("Okura")
    )

    response = handler(f.event(record), CONTEXT)

    assert response == {"batchItemFailures": [{"itemIdentifier": "5201"}]}


def test_a_batch_whose_every_record_fails_for_different_reasons_returns_every_item_failure(
    search_table: Any, dlq_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    throttled_writes(monkeypatch)
    boto3.client("sqs").delete_queue(QueueUrl=dlq_url)  # the poison record cannot be parked either
    records = [
        f.kinesis_record(SAGA[0], sequence_number="6001"),
        f.kinesis_record(data=b"garbage", sequence_number="6002"),
        f.kinesis_record(SAGA[1], sequence_number="6003"),
    ]

    response = kinesis_consumer.lambda_handler(f.event(*records), CONTEXT)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "6001"}, {"itemIdentifier": "6002"}, {"itemIdentifier": "6003"}]
    }


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    """The metrics of the handler calls so far, read from Powertools' EMF lines on stdout."""
    return metric_sums(capsys.readouterr().out)


TRIP_ITEMS = [f.flight("trip-020"), f.hotel("trip-020"), f.payment("trip-020")]


@SOURCES
def test_a_trip_put_back_unchanged_after_its_delete_reappears(search_table: Any, handler: Any, to_record: Any) -> None:
    created = [f.insert(item, at=f.later(0)) for item in TRIP_ITEMS]
    removed = [f.remove(f.written(item, f.later(0)), at=f.later(5)) for item in TRIP_ITEMS]
    handler(f.event(*(to_record(change) for change in created + removed)), CONTEXT)
    assert document(search_table, "trip-020")["expires_at"] == int(f.later(5).timestamp()) + 8 * 24 * 3600

    # an operator puts the exported items back: same version, created_at and updated_at
    restored = [f.Change("INSERT", change.new, None, f.later(9)) for change in created]
    response = handler(f.event(*(to_record(change) for change in restored)), CONTEXT)

    assert response == {"batchItemFailures": []}
    item = document(search_table, "trip-020")
    assert {key: item[key] for key in f.SEED_72_FIELDS} == f.SEED_72_FIELDS
    assert "expires_at" not in item
    assert item["updated_at"] == "2026-03-01T09:00:00Z"  # the restored items' own updated_at


def test_a_late_kinesis_duplicate_of_the_original_insert_does_not_resurrect_the_item(
    search_table: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    original = f.kinesis_record(f.insert(f.hotel("trip-021"), at=f.later(0)))
    kinesis_consumer.lambda_handler(f.event(original), CONTEXT)
    kinesis_consumer.lambda_handler(f.event(f.kinesis_record(f.remove(f.hotel("trip-021"), at=f.later(5)))), CONTEXT)
    capsys.readouterr()

    response = kinesis_consumer.lambda_handler(f.event(dict(original)), CONTEXT)  # the same record, again

    assert response == {"batchItemFailures": []}
    assert "hotel_name" not in document(search_table, "trip-021")
    metrics = emitted_metrics(capsys)
    assert (metrics["ChangesStale"], metrics["ChangesApplied"], metrics["ChangesAmbiguous"]) == (1, 0, 0)


@pytest.mark.parametrize(
    "arrival", [["insert", "remove", "restore"], ["restore", "insert", "remove"]], ids=["in-order", "restore-first"]
)
def test_a_restore_within_the_second_of_its_delete_is_ordered_by_the_kinesis_time_and_shown(
    search_table: Any, dlq_url: str, capsys: pytest.CaptureFixture[str], arrival: list[str]
) -> None:
    # INSERT, REMOVE and the identical INSERT within one second; the Kinesis copies arrive in either order
    hotel = f.written(f.hotel("trip-022"), f.T0)
    changes = {
        "insert": f.Change("INSERT", hotel, None, f.T0),
        "remove": f.remove(hotel, at=f.T0 + timedelta(milliseconds=300)),
        "restore": f.Change("INSERT", hotel, None, f.T0 + timedelta(milliseconds=600)),
    }

    for name in arrival:
        assert kinesis_consumer.lambda_handler(f.event(f.kinesis_record(changes[name])), CONTEXT) == {
            "batchItemFailures": []
        }

    assert document(search_table, "trip-022")["hotel_name"] == "Grand Hotel Tokyo"
    assert emitted_metrics(capsys)["ChangesAmbiguous"] == 0
    assert dlq_messages(dlq_url) == []


@pytest.mark.parametrize(
    "arrival, decided",
    [(["insert", "remove"], "change applied"), (["remove", "insert"], "change stale")],
    ids=["in-order", "removal-first"],
)
def test_a_write_and_its_removal_in_one_millisecond_of_a_millisecond_kinesis_copy_are_reported_ambiguous(
    search_table: Any,
    dlq_url: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    arrival: list[str],
    decided: str,
) -> None:
    # ApproximateCreationDateTimePrecision MILLISECOND: both copies say 09:00:00.300; nothing orders them
    hotel = f.written(f.hotel("trip-023"), f.T0)
    changes = {
        "insert": f.Change("INSERT", hotel, None, f.T0 + timedelta(microseconds=300_100)),
        "remove": f.remove(hotel, at=f.T0 + timedelta(microseconds=300_600)),
    }

    for name in arrival:
        record = f.kinesis_record(changes[name], precision="MILLISECOND")
        assert kinesis_consumer.lambda_handler(f.event(record), CONTEXT) == {"batchItemFailures": []}

    assert "hotel_name" not in document(search_table, "trip-023")  # the removal wins in either order
    warnings = [(getattr(r, "trip_id", None), r.getMessage()) for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [("trip-023", decided)]
    assert emitted_metrics(capsys)["ChangesAmbiguous"] == 1
    assert dlq_messages(dlq_url) == []


@SOURCES
def test_a_modify_that_does_not_advance_version_is_parked_and_counted(
    search_table: Any, dlq_url: str, capsys: pytest.CaptureFixture[str], handler: Any, to_record: Any
) -> None:
    v3 = f.written(f.hotel("trip-023", 3), f.later(0))
    handler(f.event(to_record(f.insert(v3, at=f.later(0)))), CONTEXT)
    capsys.readouterr()
    renamed_in_place = f.modify(v3, {**v3, "hotel_name": "Hotel Okura"}, at=f.later(1))  # update-item, no version bump

    response = handler(f.event(to_record(renamed_in_place, sequence_number="7003")), CONTEXT)

    assert response == {"batchItemFailures": []}
    [message] = dlq_messages(dlq_url)
    assert (message["reason"], message["sequenceNumber"]) == ("version did not advance: old 3, new 3", "7003")
    assert document(search_table, "trip-023")["hotel_name"] == "Grand Hotel Tokyo"
    metrics = emitted_metrics(capsys)
    assert (metrics["WriterContractViolations"], metrics["ChangesPoison"]) == (1, 1)


@pytest.mark.parametrize(
    "old, new, reason",
    [
        (f.hotel("trip-024", 4), f.hotel("trip-024", 2, "CANCELLED"), "version did not advance: old 4, new 2"),
        (
            f.hotel("trip-024", 4, created_at=f.later(60)),
            f.hotel("trip-024", 5, "CANCELLED"),
            "created_at went back: old '2026-03-01T10:00:00+00:00', new '2026-03-01T09:00:00+00:00'",
        ),
    ],
    ids=["version-went-back", "created-at-went-back"],
)
def test_a_modify_whose_new_image_does_not_rank_above_its_old_one_is_parked(
    search_table: Any, dlq_url: str, old: dict[str, Any], new: dict[str, Any], reason: str
) -> None:
    response = stream_consumer.lambda_handler(f.event(f.stream_record(f.modify(old, new, at=f.later(70)))), CONTEXT)

    assert response == {"batchItemFailures": []}
    assert [message["reason"] for message in dlq_messages(dlq_url)] == [reason]
    assert document(search_table, "trip-024") == {}


def test_an_item_put_over_an_older_generation_is_projected(search_table: Any, dlq_url: str) -> None:
    old = f.written(f.hotel("trip-025", 4), f.later(0))
    replacement = f.hotel("trip-025", 1, hotel_name="Hotel Okura", created_at=f.later(10))  # put-item over it

    response = stream_consumer.lambda_handler(
        f.event(f.stream_record(f.modify(old, replacement, f.later(10)))), CONTEXT
    )

    assert response == {"batchItemFailures": []}
    assert document(search_table, "trip-025")["hotel_name"] == "Hotel Okura"
    assert dlq_messages(dlq_url) == []


@SOURCES
def test_an_item_put_back_below_the_version_it_was_removed_at_is_parked(
    search_table: Any, dlq_url: str, capsys: pytest.CaptureFixture[str], handler: Any, to_record: Any
) -> None:
    v1, v2 = f.written(f.hotel("trip-026"), f.later(0)), f.written(f.hotel("trip-026", 2, "CANCELLED"), f.later(1))
    history = [
        f.Change("INSERT", v1, None, f.later(0)),
        f.Change("MODIFY", v2, v1, f.later(1)),
        f.remove(v2, f.later(2)),
    ]
    handler(f.event(*(to_record(change) for change in history)), CONTEXT)
    capsys.readouterr()

    # an operator puts back the export taken at version 1
    response = handler(f.event(to_record(f.Change("INSERT", v1, None, f.later(9)), sequence_number="8001")), CONTEXT)

    assert response == {"batchItemFailures": []}
    [message] = dlq_messages(dlq_url)
    assert message["sequenceNumber"] == "8001"
    assert message["reason"] == (
        "HOTEL INSERT of version 1 (created_at 2026-03-01T09:00:00+00:00) seen after the removal of version 2 "
        "(created_at 2026-03-01T09:00:00+00:00): the item went back to an older version; writer contract: write it "
        "with a version above 2"
    )
    assert "hotel_name" not in document(search_table, "trip-026")
    assert emitted_metrics(capsys)["WriterContractViolations"] == 1


def test_an_item_put_back_below_its_version_is_counted_when_its_copy_arrives_first(
    search_table: Any, dlq_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    v1, v2 = f.written(f.hotel("trip-027"), f.later(0)), f.written(f.hotel("trip-027", 2, "CANCELLED"), f.later(1))
    put_back = f.Change("INSERT", v1, None, f.later(9))  # the export of version 1, after the removal of version 2
    kinesis_consumer.lambda_handler(f.event(f.kinesis_record(put_back)), CONTEXT)
    capsys.readouterr()

    late = [f.Change("MODIFY", v2, v1, f.later(1)), f.remove(v2, f.later(2))]
    response = kinesis_consumer.lambda_handler(f.event(*(f.kinesis_record(change) for change in late)), CONTEXT)

    assert response == {"batchItemFailures": []}
    assert "hotel_name" not in document(search_table, "trip-027")  # as when the copies arrive in order
    metrics = emitted_metrics(capsys)
    assert (metrics["WriterContractViolations"], metrics["ChangesPoison"], metrics["ChangesApplied"]) == (1, 0, 1)
    assert dlq_messages(dlq_url) == []


def emitted(output: str, metric: str) -> list[tuple[dict[str, str], list[float]]]:
    """The values of `metric` in the EMF documents printed, with each document's dimensions."""
    found = []
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        if metric in document:
            values = document[metric] if isinstance(document[metric], list) else [document[metric]]
            found.append(({"service": document["service"], "source": document["source"]}, values))
    return found


@pytest.mark.parametrize(
    "handler, to_record, source",
    [
        (stream_consumer.lambda_handler, f.stream_record, "dynamodb-streams"),
        (kinesis_consumer.lambda_handler, f.kinesis_record, "kinesis"),
    ],
    ids=["dynamodb-streams", "kinesis"],
)
def test_each_applied_change_reports_its_age_per_source(
    search_table: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    handler: Any,
    to_record: Any,
    source: str,
) -> None:
    # given two changes written 10 s and 9 s before the batch runs, and a duplicate of the first (stale)
    monkeypatch.setattr(consumer, "_now", lambda: f.later(0) + timedelta(seconds=10))
    flight = f.insert(f.flight("trip-001"), at=f.later(0))
    hotel = f.insert(f.hotel("trip-001"), at=f.later(0) + timedelta(seconds=1))

    response = handler(f.event(to_record(flight), to_record(hotel), to_record(flight)), CONTEXT)

    # then one ChangeAge value (ms) per applied change, under the source's dimension
    assert response == {"batchItemFailures": []}
    assert emitted(capsys.readouterr().out, "ChangeAge") == [
        ({"service": "trip-test", "source": source}, [10_000.0, 9_000.0])
    ]


# --- issue 18.1: a booking another writer made too large for its trip's search document ---

# What the factories' bookings copy into a document besides the attribute a test grows: names and values, in bytes.
FLIGHT_OTHER_BYTES = len("flight_numberdeparture_time2026-03-15T10:00:00arrival_time2026-03-15T14:00:00statusCONFIRMED")
HOTEL_OTHER_BYTES = len("hotel_namecheck_in_date2026-03-15check_out_date2026-03-17statusCONFIRMED")
PAYMENT_OTHER_BYTES = len("currencyamount") + changes._NUMBER_BYTES + len("statusCOMPLETED")


def test_a_booking_too_large_for_the_document_is_parked_and_the_rest_of_its_trip_is_projected(
    search_table: Any, dlq_url: str
) -> None:
    # 130,000 kanji: 390,000 bytes in UTF-8, an item TripTable holds (400 KB) that no document of three could
    too_large = f.insert(f.hotel("trip-big", hotel_name="旅" * 130_000), at=f.later(1))
    batch = [f.insert(f.flight("trip-big"), at=f.later(0)), too_large, f.insert(f.payment("trip-big"), at=f.later(2))]

    response = stream_consumer.lambda_handler(
        f.event(*(f.stream_record(change, sequence_number=str(n)) for n, change in enumerate(batch))), CONTEXT
    )

    assert response == {"batchItemFailures": []}
    item = document(search_table, "trip-big")
    assert (item["flight_status"], item["payment_status"], "hotel_status" in item) == ("CONFIRMED", "COMPLETED", False)
    [message] = dlq_messages(dlq_url)
    assert (message["kind"], message["sequenceNumber"]) == ("poison-record", "1")
    assert message["reason"] == (
        f"HOTEL NewImage: the attributes its trip's search document copies take {390_000 + HOTEL_OTHER_BYTES:,} bytes "
        "(largest: hotel_name, 390,010); a document holds three bookings within DynamoDB's 400 KB item: at most "
        "102,400 bytes a booking; writer contract: keep them within that"
    )


def test_three_bookings_each_at_the_largest_size_fit_one_document(search_table: Any, dlq_url: str) -> None:
    budget = changes.BOOKING_DOCUMENT_BYTES
    trip = [
        f.flight("trip-full", flight_number="F" * (budget - FLIGHT_OTHER_BYTES)),
        f.hotel("trip-full", hotel_name="H" * (budget - HOTEL_OTHER_BYTES)),
        f.payment("trip-full", currency="C" * (budget - PAYMENT_OTHER_BYTES)),
    ]

    response = kinesis_consumer.lambda_handler(
        f.event(*(f.kinesis_record(f.insert(booking, at=f.later(n))) for n, booking in enumerate(trip))), CONTEXT
    )

    assert response == {"batchItemFailures": []}
    assert dlq_messages(dlq_url) == []
    item = document(search_table, "trip-full")
    assert (item["flight_number"], item["hotel_name"], item["currency"]) == (
        trip[0]["flight_number"],
        trip[1]["hotel_name"],
        trip[2]["currency"],
    )


def test_a_booking_one_byte_over_the_largest_size_is_parked(search_table: Any, dlq_url: str) -> None:
    hotel = f.hotel("trip-over", hotel_name="H" * (changes.BOOKING_DOCUMENT_BYTES - HOTEL_OTHER_BYTES + 1))

    response = stream_consumer.lambda_handler(f.event(f.stream_record(f.insert(hotel))), CONTEXT)

    assert response == {"batchItemFailures": []}
    [message] = dlq_messages(dlq_url)
    assert message["reason"].startswith("HOTEL NewImage: the attributes its trip's search document copies take 102,401")
    assert document(search_table, "trip-over") == {}
