"""`replay run` reports what the fold found as the consumers report it (issue 24.4): the same WARNING lines, on
stderr, counted per part (`ambiguous`) and listed in --json. On moto in-process."""

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

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local


def test_a_put_back_within_the_second_of_its_removal_is_warned_about(history: History, tmp_path: Any) -> None:
    at = factories.later(4)
    hotel = factories.written(factories.hotel("trip-046"), at)
    for change in (factories.Change("INSERT", hotel, None, at), factories.remove(hotel, at)):
        history.write(change)
    history.write(factories.Change("INSERT", hotel, None, at))  # put back within the second
    shard = history.kinesis.list_shards(StreamName=STREAM_NAME)["Shards"][0]["ShardId"]
    iterator = history.kinesis.get_shard_iterator(
        StreamName=STREAM_NAME, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    _, removal, put_back = (r["SequenceNumber"] for r in history.kinesis.get_records(ShardIterator=iterator)["Records"])
    # the three copies share one coordinate of Kinesis's order (one microsecond): no order tells them apart
    lines = [
        f"WARNING change {outcome}: trip trip-046 HOTEL {kind} v1 (kinesis shard {shard}, sequence {sequence}): "
        f"{REASONS[Finding.AMBIGUOUS]}"
        for outcome, kind, sequence in (("applied", "REMOVE", removal), ("coalesced", "INSERT", put_back))
    ]

    result = CliRunner().invoke(
        app, ["run", "--from", "1h", "--target-table", "Rebuilt", "--checkpoint-dir", str(tmp_path), "--json"]
    )

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == lines
    run = json.loads(result.stdout)
    assert (run["total"]["read"], run["total"]["applied"], run["total"]["ambiguous"]) == (3, 1, 2)
    assert [(f["finding"], f["outcome"], f["sequence_number"]) for f in run["findings"]] == [
        ("ambiguous", "applied", removal),
        ("ambiguous", "coalesced", put_back),
    ]
