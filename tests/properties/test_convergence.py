"""Property: whatever the order, duplication, batching and source of the changes, every document converges.

Random saga histories for several trips (reservations, changes, removals, re-creations, and removed items put back
unchanged, as an operator restores an export) are delivered through both
consumers: the DynamoDB Streams copy in order per item but with redelivered stretches (partial-batch retries,
bisection), the Kinesis copy shuffled and duplicated; the batches of the two sources interleave at random.
TripSearchTable must then hold exactly the in-order projection, and its public fields must be the final TripTable
items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from services.trip import config, consumer
from services.trip.changes import Entity, decode_stream_record
from services.trip.handlers import kinesis_consumer, stream_consumer
from services.trip.projection import DOCUMENT_FIELDS, SearchDocument, fold, to_item
from tests import factories as f
from tests.conftest import create_search_table

TTL = 8 * 24 * 3600
ENTITIES = {"FLIGHT": f.flight, "HOTEL": f.hotel, "PAYMENT": f.payment}
STATUSES = ["CONFIRMED", "CANCELLED", "COMPLETED", "REFUNDED", "PENDING"]


@dataclass
class TripTableModel:
    """TripTable as the saga writes it (version +1 per change, a new generation when an item is re-created), and
    as an operator restores it: a removed item put back exactly as it was removed (same version, created_at and
    updated_at)."""

    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    removed: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # the item as it was removed
    history: list[f.Change] = field(default_factory=list)

    def step(self, trip_id: str, entity: str, operation: str, status: str, tick: int) -> None:
        at, key = f.T0 + timedelta(seconds=tick), (trip_id, entity)
        current = self.items.get(key)
        if current is None and operation == "restore" and key in self.removed:
            self.items[key] = self.removed.pop(key)
            self.history.append(f.Change("INSERT", self.items[key], None, at))
        elif current is None:
            new = f.written(ENTITIES[entity](trip_id, 1, status, created_at=at), at)
            self.items[key] = new
            self.history.append(f.insert(new, at))
        elif operation == "remove":
            self.removed[key] = self.items.pop(key)
            self.history.append(f.remove(current, at))
        else:
            new = f.written({**current, "version": current["version"] + 1, "status": status}, at)
            self.items[key] = new
            self.history.append(f.modify(current, new, at))


@st.composite
def saga_histories(draw: st.DrawFn) -> TripTableModel:
    trips = [f"trip-{n:03d}" for n in range(draw(st.integers(1, 4)))]
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(trips),
                st.sampled_from(list(ENTITIES)),
                st.sampled_from(["modify", "modify", "remove", "restore"]),
                st.sampled_from(STATUSES),
            ),
            min_size=1,
            max_size=30,
        )
    )
    model = TripTableModel()
    for tick, (trip_id, entity, operation, status) in enumerate(steps):
        model.step(trip_id, entity, operation, status, tick)
    return model


@st.composite
def deliveries(draw: st.DrawFn, history: list[f.Change]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Batches of (source, records): both copies of every change, redelivered, reordered, interleaved."""
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

    both = batches("stream", redelivered) + batches("kinesis", list(kinesis))
    return draw(st.permutations(both))


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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_delivery_converges_to_the_in_order_projection(data: st.DataObject) -> None:
    model = data.draw(saga_histories())
    plan = data.draw(deliveries(model.history))
    handlers = {"stream": stream_consumer.lambda_handler, "kinesis": kinesis_consumer.lambda_handler}

    with mock_aws():
        table = create_search_table(boto3.resource("dynamodb"))
        dlq = boto3.client("sqs").create_queue(QueueName="dlq")["QueueUrl"]
        config.projector_settings.cache_clear()
        consumer._adapters.cache_clear()
        with pytest.MonkeyPatch.context() as env:
            for name, value in {
                "SEARCH_TABLE_NAME": table.name,
                "DLQ_URL": dlq,
                "TOMBSTONE_TTL_SECONDS": str(TTL),
            }.items():
                env.setenv(name, value)
            for source, records in plan:
                assert handlers[source](f.event(*records), f.LambdaContext()) == {"batchItemFailures": []}
            stored = {item["trip_id"]: item for item in table.scan(ConsistentRead=True)["Items"]}
        config.projector_settings.cache_clear()
        consumer._adapters.cache_clear()

    expected = in_order_projection(model.history)
    assert {trip: _without_revision(item) for trip, item in stored.items()} == {
        trip: _without_revision(item) for trip, item in expected.items()
    }
    for trip_id, item in stored.items():
        public = {k: v for k, v in item.items() if k in {n for m in DOCUMENT_FIELDS.values() for n in m.values()}}
        assert public == final_public_fields(model, trip_id)


def _without_revision(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "revision"}
