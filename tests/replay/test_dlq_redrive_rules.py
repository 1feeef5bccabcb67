"""What `dlq redrive` decides beyond "projected or not": a write TripTable no longer holds is never applied (a
deleted trip stays deleted, issue 24.3), and what the fold could not decide is reported as the consumers report it
and the message kept (issue 24.4). On moto in-process, through the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from replay.cli import app
from services.trip.findings import REASONS
from services.trip.projection import Finding
from tests import factories
from tests.replay.conftest import STREAM_NAME, History
from tests.replay.dlq_messages import KINESIS_CONSUMER_ARN, kinesis_pointer, pointer_body, send

pytestmark = [pytest.mark.usefixtures("quick_queue_reads"), pytest.mark.dynamodb_conformance]  # on both engines


def listed(replay: Any) -> list[dict[str, Any]]:
    code, messages = replay("dlq", "list")
    assert code == 0, messages
    return list(messages)


def test_a_redrive_never_brings_back_a_trip_tripTable_deleted(
    history: History, dlq_url: str, search_table: Any, replay: Any
) -> None:
    # day -10: the batch of trip-050's three bookings is parked; an hour later the trip is deleted from TripTable,
    # and by day 0 its tombstone in search has expired (the document is gone)
    kinesis_pointer(dlq_url, history, "trip-050")
    for entity in ("FLIGHT", "HOTEL", "PAYMENT"):
        history.trip_table.delete_item(
            Key={"PK": "TRIP#trip-050", "SK": factories.SORT_KEYS[entity].format("trip-050")}
        )

    dry_code, [planned] = replay("dlq", "redrive", "--all", "--dry-run")
    code, [redriven] = replay("dlq", "redrive", "--all")

    gone = [
        f"trip trip-050 {entity} INSERT v1 (TripTable holds no {entity} item)"
        for entity in ("FLIGHT", "HOTEL", "PAYMENT")
    ]
    assert (dry_code, planned["handled"], planned["gone"]) == (0, True, gone)
    assert (code, redriven["handled"], redriven["gone"], redriven["findings"]) == (0, True, gone, [])
    assert redriven["reason"] == f"projected; 3 write(s) TripTable no longer holds not applied, first: {gone[0]}"
    assert {k: redriven["tally"][k] for k in ("read", "applied", "stale", "gone")} == {
        "read": 3, "applied": 0, "stale": 0, "gone": 3
    }  # fmt: skip
    assert "Item" not in search_table.get_item(Key={"trip_id": "trip-050"}, ConsistentRead=True)
    assert listed(replay) == []


def test_a_write_tripTable_moved_past_is_not_applied_and_the_ones_it_holds_are(
    history: History, dlq_url: str, search_table: Any, replay: Any
) -> None:
    pointer = kinesis_pointer(dlq_url, history, "trip-051")
    # since the batch was parked: the flight was cancelled (version 2) and the payment deleted
    flight_v2 = factories.written(factories.flight("trip-051", 2, "CANCELLED"), factories.later(5))
    history.trip_table.put_item(Item=flight_v2)
    history.trip_table.delete_item(Key={"PK": "TRIP#trip-051", "SK": "PAYMENT#payment_for_trip-051"})

    code, [redriven] = replay("dlq", "redrive", pointer)

    assert (code, redriven["handled"]) == (0, True)
    assert redriven["gone"] == [
        "trip trip-051 FLIGHT INSERT v1 (TripTable holds FLIGHT version 2)",
        "trip trip-051 PAYMENT INSERT v1 (TripTable holds no PAYMENT item)",
    ]
    assert (redriven["tally"]["applied"], redriven["tally"]["gone"]) == (1, 2)
    document = search_table.get_item(Key={"trip_id": "trip-051"}, ConsistentRead=True)["Item"]
    assert (document["hotel_status"], "flight_status" in document, "payment_status" in document) == (
        "CONFIRMED", False, False
    )  # fmt: skip


def test_a_put_back_in_the_same_second_is_warned_about_as_the_consumers_do_and_kept(
    history: History, dlq_url: str, search_table: Any, replay: Any
) -> None:
    at = factories.later(3)
    hotel = factories.written(factories.hotel("trip-044"), at)
    history.write(factories.Change("INSERT", hotel, None, at))
    history.write(factories.remove(hotel, at))
    history.project_like_the_consumers()  # the write and its removal reached search: a tombstone of the hotel
    history.write(factories.Change("INSERT", hotel, None, at))  # put back within the second; its batch is parked
    shard = history.kinesis.list_shards(StreamName=STREAM_NAME)["Shards"][0]["ShardId"]
    records = history.kinesis.get_records(
        ShardIterator=history.kinesis.get_shard_iterator(
            StreamName=STREAM_NAME, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )["Records"]
    put_back = records[-1]["SequenceNumber"]
    arn = history.kinesis.describe_stream_summary(StreamName=STREAM_NAME)["StreamDescriptionSummary"]["StreamARN"]
    pointer = send(
        dlq_url,
        pointer_body(
            "KinesisBatchInfo", KINESIS_CONSUMER_ARN, shardId=shard, startSequenceNumber=put_back,
            endSequenceNumber=put_back, batchSize=1, streamArn=arn,
        ),
    )  # fmt: skip
    line = (
        f"WARNING change stale: trip trip-044 HOTEL INSERT v1 (kinesis shard {shard}, sequence {put_back}): "
        f"{REASONS[Finding.AMBIGUOUS]}"
    )

    result = CliRunner().invoke(app, ["dlq", "redrive", pointer, "--json"])

    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [line]
    [redriven] = json.loads(result.stdout)
    assert (redriven["handled"], redriven["gone"]) == (False, [])
    assert redriven["reason"] == f"1 change(s) decided by a rule TripTable may disagree with, first: {line[8:]}"
    assert [(f["finding"], f["outcome"], f["trip_id"], f["sequence_number"]) for f in redriven["findings"]] == [
        ("ambiguous", "stale", "trip-044", put_back)
    ]
    assert (redriven["tally"]["stale"], redriven["tally"]["ambiguous"]) == (1, 1)
    [kept] = listed(replay)
    assert (kept["message_id"], kept["reason"], kept["redrive_attempts"]) == (
        redriven["replaced_by"], redriven["reason"], 1
    )  # fmt: skip
