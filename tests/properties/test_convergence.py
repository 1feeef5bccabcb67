"""Properties: whatever the order, duplication, batching and source of the changes, every document converges, and
it shows TripTable unless the projection said why not.

Random saga histories for several trips (reservations, changes, removals, re-creations, and removed items put back
unchanged, as an operator restores an export) are delivered through both consumers: the DynamoDB Streams copy in
order per item but with redelivered stretches (partial-batch retries, bisection), the Kinesis copy shuffled and
duplicated; the batches of the two sources interleave at random. With one change a second, TripSearchTable must
then hold exactly the in-order projection, and its public fields must be the final TripTable items. With several
changes a second and items put back from older exports (what the streams cannot always order), it must still
converge, and every trip whose document differs from TripTable must have been reported (DLQ, or a WARNING line).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from base64 import b64decode
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from services.trip import consumer
from services.trip.changes import Entity, decode_stream_record
from services.trip.handlers import kinesis_consumer, stream_consumer
from services.trip.projection import DOCUMENT_FIELDS, SearchDocument, content, fold, to_item
from tests import factories as f
from tests.conftest import create_search_table, metric_sums

TTL = 8 * 24 * 3600
ENTITIES = {"FLIGHT": f.flight, "HOTEL": f.hotel, "PAYMENT": f.payment}
STATUSES = ["CONFIRMED", "CANCELLED", "COMPLETED", "REFUNDED", "PENDING"]


@dataclass
class TripTableModel:
    """TripTable as the saga writes it (version +1 per change, a new generation when an item is re-created), and
    as an operator restores it: a removed item put back exactly as it was removed (same version, created_at and
    updated_at)."""

    tick: timedelta = timedelta(seconds=1)
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    removed: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # the item as it was removed
    first: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # its generation's version 1
    history: list[f.Change] = field(default_factory=list)

    def step(self, trip_id: str, entity: str, operation: str, status: str, tick: int) -> None:
        at, key = f.T0 + tick * self.tick, (trip_id, entity)
        current = self.items.get(key)
        if current is None and operation in ("restore", "restore-oldest") and key in self.removed:
            self.items[key] = self.first[key] if operation == "restore-oldest" else self.removed[key]
            del self.removed[key]
            self.history.append(f.Change("INSERT", self.items[key], None, at))
        elif current is None:
            new = f.written(ENTITIES[entity](trip_id, 1, status, created_at=at), at)
            self.items[key] = self.first[key] = new
            self.history.append(f.insert(new, at))
        elif operation == "remove":
            self.removed[key] = self.items.pop(key)
            self.history.append(f.remove(current, at))
        else:
            new = f.written({**current, "version": current["version"] + 1, "status": status}, at)
            self.items[key] = new
            self.history.append(f.modify(current, new, at))


@st.composite
def saga_histories(
    draw: st.DrawFn,
    operations: tuple[str, ...] = ("modify", "modify", "remove", "restore"),
    tick_ms: int = 1000,
    max_trips: int = 4,
    entities: tuple[str, ...] = tuple(ENTITIES),
    min_steps: int = 1,
) -> TripTableModel:
    trips = [f"trip-{n:03d}" for n in range(draw(st.integers(1, max_trips)))]
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(trips),
                st.sampled_from(entities),
                st.sampled_from(operations),
                st.sampled_from(STATUSES),
            ),
            min_size=min_steps,
            max_size=30,
        )
    )
    model = TripTableModel(tick=timedelta(milliseconds=tick_ms))
    for tick, (trip_id, entity, operation, status) in enumerate(steps):
        model.step(trip_id, entity, operation, status, tick)
    return model


@st.composite
def deliveries(
    draw: st.DrawFn, history: list[f.Change], pipelines: tuple[str, ...] = ("stream", "kinesis")
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Batches of (source, records): the copies of every change (one per pipeline deployed), redelivered,
    reordered, interleaved."""
    stream = [f.stream_record(change) for change in history]
    redelivered: list[dict[str, Any]] = []
    for index, record in enumerate(stream):
        redelivered.append(record)
        if draw(st.integers(0, 5)) == 0:  # a retry redelivers everything from some earlier record on
            redelivered.extend(stream[draw(st.integers(0, index)) : index + 1])
    kinesis = [f.kinesis_record(change) for change in history]
    kinesis += draw(st.lists(st.sampled_from(kinesis), max_size=len(kinesis)))
    kinesis = draw(st.permutations(kinesis))

    def batches(source: str, records: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
        cut: list[tuple[str, list[dict[str, Any]]]] = []
        while records:
            size = draw(st.integers(1, 10))
            cut.append((source, records[:size]))
            records = records[size:]
        return cut

    copies = {"stream": redelivered, "kinesis": list(kinesis)}
    return draw(st.permutations([batch for source in pipelines for batch in batches(source, copies[source])]))


def in_order_projection(history: list[f.Change]) -> dict[str, dict[str, Any]]:
    documents: dict[str, SearchDocument] = {}
    for change in history:
        decoded = decode_stream_record(f.stream_record(change))
        assert decoded is not None
        document = documents.get(decoded.trip_id, SearchDocument(decoded.trip_id))
        documents[decoded.trip_id] = fold(document, [decoded]).document
    return {trip_id: to_item(document, TTL) for trip_id, document in documents.items()}


def final_public_fields(model: TripTableModel, trip_id: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for (item_trip, entity), item in model.items.items():
        if item_trip == trip_id:
            fields.update({name: item[attr] for attr, name in DOCUMENT_FIELDS[Entity(entity)].items()})
    return fields


@dataclass
class Projected:
    """What both consumers made of a delivery plan: the documents, and the trips they reported (DLQ, WARNING)."""

    documents: dict[str, dict[str, Any]]
    reported: set[str]
    metrics: dict[str, float]  # metric name -> its sum over every batch (Powertools' EMF lines)


class WarnedTrips(logging.Handler):
    """The trips the consumers' log lines of level WARNING and above name."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.trips: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.trips.add(getattr(record, "trip_id", None) or "?")


def project_through_both_consumers(plan: list[tuple[str, list[dict[str, Any]]]]) -> Projected:
    handlers = {"stream": stream_consumer.lambda_handler, "kinesis": kinesis_consumer.lambda_handler}
    consumer_log, warned = logging.getLogger(os.environ["POWERTOOLS_SERVICE_NAME"]), WarnedTrips()
    with mock_aws(), pytest.MonkeyPatch.context() as env:
        table = create_search_table(boto3.resource("dynamodb"))
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        for name, value in {"SEARCH_TABLE_NAME": table.name, "DLQ_URL": dlq, "TOMBSTONE_TTL_SECONDS": str(TTL)}.items():
            env.setenv(name, value)
        consumer.clear_caches()
        consumer_log.addHandler(warned)
        try:
            with contextlib.redirect_stdout(io.StringIO()) as emitted:
                for source, records in plan:
                    assert handlers[source](f.event(*records), f.LambdaContext()) == {"batchItemFailures": []}
        finally:
            consumer_log.removeHandler(warned)
            consumer.clear_caches()
        documents = {item["trip_id"]: item for item in table.scan(ConsistentRead=True)["Items"]}
        parked = set()
        while messages := sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                parked.add(trip_of(json.loads(message["Body"])["record"]))
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    return Projected(documents, warned.trips | parked, metric_sums(emitted.getvalue()))


def trip_of(record: dict[str, Any]) -> str:
    """The trip of a parked record of either source."""
    change = (
        record["dynamodb"] if "dynamodb" in record else json.loads(b64decode(record["kinesis"]["data"]))["dynamodb"]
    )
    return str(change["Keys"]["PK"]["S"]).removeprefix("TRIP#")


def public_fields(item: dict[str, Any]) -> dict[str, Any]:
    names = {name for fields in DOCUMENT_FIELDS.values() for name in fields.values()}
    return {key: value for key, value in item.items() if key in names}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_delivery_converges_to_the_in_order_projection(data: st.DataObject) -> None:
    model = data.draw(saga_histories())
    plan = data.draw(deliveries(model.history))

    projected = project_through_both_consumers(plan)

    expected = in_order_projection(model.history)
    assert {trip: content(item) for trip, item in projected.documents.items()} == {
        trip: content(item) for trip, item in expected.items()
    }
    for trip_id, item in projected.documents.items():
        assert public_fields(item) == final_public_fields(model, trip_id)
    assert projected.reported == set()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_writers_that_keep_the_contract_are_never_reported_ambiguous_however_fast_they_write(
    data: st.DataObject,
) -> None:
    # Several changes a second: a write then its delete, a re-creation, the removed item put back as it was, in one
    # second; each source delivers its copies in any order and duplication, alone or with the other.
    tick_ms = data.draw(st.sampled_from([1, 50, 200, 400]))
    model = data.draw(saga_histories(("modify", "remove", "restore"), tick_ms, max_trips=2, min_steps=4))
    pipelines = data.draw(st.sampled_from([("stream", "kinesis"), ("kinesis",), ("stream",)]))
    plan = data.draw(deliveries(model.history, pipelines))

    projected = project_through_both_consumers(plan)

    assert projected.metrics["ChangesAmbiguous"] == 0
    assert projected.metrics["WriterContractViolations"] == 0
    assert projected.reported == set()  # no WARNING line, nothing parked
    expected = in_order_projection(model.history)
    assert {trip: content(item) for trip, item in projected.documents.items()} == {
        trip: content(item) for trip, item in expected.items()
    }
    for trip_id, item in projected.documents.items():
        assert public_fields(item) == final_public_fields(model, trip_id)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_what_the_streams_cannot_order_converges_and_is_reported(data: st.DataObject) -> None:
    operations = ("modify", "remove", "restore", "restore-oldest", "restore-oldest")
    tick_ms = data.draw(st.sampled_from([300, 700]))
    model = data.draw(saga_histories(operations, tick_ms, max_trips=1, entities=("HOTEL", "PAYMENT"), min_steps=10))
    pipelines = data.draw(st.sampled_from([("stream", "kinesis"), ("kinesis",), ("stream",)]))  # the stack's switches
    plan = data.draw(deliveries(model.history, pipelines))

    projected = project_through_both_consumers(plan)

    expected = in_order_projection(model.history)
    assert {trip: content(item) for trip, item in projected.documents.items()} == {
        trip: content(item) for trip, item in expected.items()
    }
    differing = {
        trip_id
        for trip_id, item in projected.documents.items()
        if public_fields(item) != final_public_fields(model, trip_id)
    }
    assert differing <= projected.reported
