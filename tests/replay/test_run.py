"""`replay run` on moto in-process: resharding, the table source, verify's report, resuming, bad input.

The end-to-end scenarios (restore deleted documents, rebuild and verify, dry run) run on the local runtime
(test_on_runtime.py). The reshard stays here: splitting the deployed stream would change every later runtime test.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from rich.text import Text
from typer.testing import CliRunner

from replay.cli import app
from replay.window.checkpoint import Checkpoint, CheckpointFile
from services.trip import schema
from tests import factories
from tests.conftest import REGION
from tests.replay.conftest import STREAM_NAME, History, documents

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

REBUILD = "TripSearchRebuild"


def saga_history(history: History, trips: int = 6) -> None:
    for number in range(trips):
        history.saga(f"trip-{number:03d}", payment_fails=number % 3 == 0, minute=number)
    history.project_like_the_consumers()


def test_rebuild_after_a_reshard_loses_nothing(
    history: History, search_table: Any, replay: Any, aws_like_split: None
) -> None:
    for number in range(4):
        history.saga(f"trip-{number:03d}", payment_fails=number == 0, minute=number)
    kinesis = history.kinesis
    parent = kinesis.list_shards(StreamName=STREAM_NAME)["Shards"][0]
    kinesis.split_shard(StreamName=STREAM_NAME, ShardToSplit=parent["ShardId"], NewStartingHashKey=str(2**127))
    # the same trips go on after the split, so their histories straddle parent and children
    for number in range(4):
        trip_id = f"trip-{number:03d}"
        old = history.trip_table.get_item(Key={"PK": f"TRIP#{trip_id}", "SK": f"HOTEL#hotel_for_{trip_id}"})["Item"]
        history.write(history_modify(old, "CHECKED_IN"))
    history.project_like_the_consumers()

    code, result = replay(
        "run", "--from", "1h", "--target-table", REBUILD, "--verify", "--checkpoint-dir", replay.checkpoint_dir
    )

    assert code == 0, result
    assert list(result["per_part"]) == ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]
    assert sum(part["read"] for part in result["per_part"].values()) == len(history.changes)
    assert result["per_part"]["shardId-000000000000"]["read"] == 15
    assert result["differences"] == []
    rebuilt = documents(boto3.resource("dynamodb", region_name=REGION).Table(REBUILD))
    assert {trip["hotel_status"] for trip in rebuilt.values()} == {"CHECKED_IN"}


def history_modify(old: dict[str, Any], status: str) -> factories.Change:
    return factories.modify(old, {**old, "status": status, "version": old["version"] + 1}, factories.later(30))


def test_rebuild_from_the_trip_table_matches_the_live_table(history: History, replay: Any) -> None:
    saga_history(history)

    code, result = replay("run", "--source", "table", "--segments", "3", "--target-table", REBUILD, "--verify")

    assert code == 0, result
    assert result["total"]["read"] == 18  # three current items per trip
    assert result["differences"] == []


def test_verify_reports_each_differing_trip(history: History, search_table: Any, replay: Any) -> None:
    saga_history(history)
    replay("run", "--from", "1h", "--target-table", REBUILD, "--checkpoint-dir", replay.checkpoint_dir)
    search_table.update_item(
        Key={"trip_id": "trip-001"}, UpdateExpression="SET hotel_status = :s", ExpressionAttributeValues={":s": "LOST"}
    )

    code, result = replay("run", "--source", "table", "--target-table", REBUILD, "--verify")

    assert code == 1
    assert result["differences"] == [
        {"trip_id": "trip-001", "field": "hotel_status", "live": "LOST", "target": "CONFIRMED"}
    ]


def test_an_interrupted_run_resumes_after_its_checkpoint(
    history: History, search_table: Any, replay: Any, aws_like_split: None
) -> None:
    saga_history(history, trips=2)
    kinesis = history.kinesis
    parent = kinesis.list_shards(StreamName=STREAM_NAME)["Shards"][0]["ShardId"]
    kinesis.split_shard(StreamName=STREAM_NAME, ShardToSplit=parent, NewStartingHashKey=str(2**127))
    history.saga("trip-100", minute=10)
    # an earlier run finished the parent shard, then was interrupted
    now = datetime.now(UTC).isoformat()
    CheckpointFile(Path(replay.checkpoint_dir), "TripSagaStack", search_table.name).save(
        Checkpoint("TripSagaStack", search_table.name, None, now, [], finished_shards=[parent])
    )

    code, resumed = replay("run", "--from", "1h", "--checkpoint-dir", replay.checkpoint_dir)

    assert code == 0, resumed
    assert parent not in resumed["per_part"]
    assert sum(part["read"] for part in resumed["per_part"].values()) == 3  # trip-100's changes only
    assert not list(Path(replay.checkpoint_dir).iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run",), "--from is required"),
        (("run", "--from", "yesterday"), "neither ISO-8601"),
        (("run", "--from", "1h", "--verify"), "--verify compares a rebuilt table"),
        (("run", "--from", "1h", "--via-mapping"), "--via-mapping reads the change stream"),
        (("run", "--from", "1h", "--target-table", REBUILD, "--via-mapping", "--to", "5m"), "need the local reader"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(stack: Any, replay: Any, args: tuple[str, ...], message: str) -> None:
    code, output = replay(*args)

    assert code == 2
    assert message in output


AT_80_COLUMNS = {"TTY_COMPATIBLE": "1", "COLUMNS": "80", "NO_COLOR": "1"}


def text_run(*args: str, env: dict[str, str]) -> list[str]:
    result = CliRunner().invoke(app, ["run", *args], env=env)
    assert result.exit_code == 0, result.output
    return [Text.from_ansi(line).plain for line in result.stdout.splitlines()]


def test_a_run_reads_at_80_columns_on_a_terminal(history: History, tmp_path: Path) -> None:
    saga_history(history, trips=2)

    lines = text_run(
        "--from", "1h", "--target-table", REBUILD, "--verify", "--checkpoint-dir", str(tmp_path), env=AT_80_COLUMNS
    )

    assert max(len(line) for line in lines) <= 80
    [summary] = [number for number, line in enumerate(lines) if line.strip() == f"Run summary (kinesis -> {REBUILD})"]
    assert lines[summary + 1].split() == ["part", "read", "applied", "superseded", "stale", "irrelevant", "poison"]
    assert lines[summary + 3].split() == ["shardId-000000000000", "9", "6", "3", "0", "0", "0"]
    assert lines[summary + 4].split() == ["total", "9", "6", "3", "0", "0", "0"]
    assert lines[-1] == f"verify: {REBUILD} matches {history.search_table.name}"


def test_the_plan_says_how_many_shards_are_read_at_once_and_how_fast(history: History, tmp_path: Path) -> None:
    saga_history(history, trips=1)
    args = ("--from", "1h", "--dry-run", "--checkpoint-dir", str(tmp_path))

    default, two = text_run(*args, env={}), text_run(*args, "--shard-concurrency", "2", env={})

    assert "  8 shards at a time, each at most 3 GetRecords/s and 1 MiB/s (of 5 and 2 MB)" in default
    assert "  2 shards at a time, each at most 3 GetRecords/s and 1 MiB/s (of 5 and 2 MB)" in two


def test_a_dry_run_with_verify_says_it_will_not_compare_and_did_not(history: History, tmp_path: Path) -> None:
    saga_history(history, trips=1)
    args = ("--from", "1h", "--target-table", REBUILD, "--verify", "--dry-run", "--checkpoint-dir", str(tmp_path))

    lines = text_run(*args, env={})

    live = history.search_table.name
    assert f"  no compare of {REBUILD} with {live}: a dry run writes nothing to compare" in lines
    assert not any(line.startswith("  then compare") for line in lines)
    assert lines[-1] == "verify: not run: a dry run writes nothing to compare (run again without --dry-run)"


def untimed(lines: list[str]) -> list[str]:
    """The lines without the run's duration (the summary ends in "...; 0.4 s")."""
    return [re.sub(r"; \d+\.\d s$", "; (duration)", line) for line in lines]


def test_a_piped_run_prints_the_same_lines_whatever_the_width(history: History, tmp_path: Path) -> None:
    saga_history(history, trips=2)
    args = ("--source", "table", "--target-table", REBUILD, "--dry-run")

    narrow, wide = text_run(*args, env={"COLUMNS": "40"}), text_run(*args, env={"COLUMNS": "250"})

    assert untimed(narrow) == untimed(wide)
    assert (
        narrow[0] == f"Plan: rebuild into {REBUILD} (created with the live table's schema); would write (dry run, "
        "nothing is written)."
    )
    assert not any(line != line.rstrip() or "\x1b" in line or "━" in line for line in narrow)


KANJI_HOTEL_NAME = "宿" * 351  # 1,053 UTF-8 bytes: no index key can hold it (issue 18.1)
OVERSIZED_HOTEL_NAME = "宿" * 130_000  # 390,000 UTF-8 bytes: more than a booking may take of a document


def other_writers_trips(history: History) -> None:
    """Two trips, one with the saga's history and two written by another writer into TripTable: one whose hotel name
    no index key holds, one whose hotel breaks the writer contract (a booking larger than a document may hold)."""
    saga_history(history, trips=1)
    history.write(factories.insert(factories.hotel("trip-kanji", hotel_name=KANJI_HOTEL_NAME)))
    history.write(factories.insert(factories.flight("trip-oversized")))
    history.write(factories.insert(factories.hotel("trip-oversized", hotel_name=OVERSIZED_HOTEL_NAME)))
    history.project_like_the_consumers()


@pytest.mark.parametrize("target", [(), ("--target-table", REBUILD, "--verify")], ids=["live", "rebuild"])
def test_a_table_replay_writes_every_document_it_can_and_lists_the_poison_twice_alike(
    history: History, search_table: Any, replay: Any, target: tuple[str, ...]
) -> None:
    other_writers_trips(history)
    args = ("run", "--source", "table", "--segments", "1", *target)

    runs = [replay(*args), replay(*args)]

    for code, result in runs:
        assert code == 0, result
        assert result["total"]["read"] == 6
        assert result["total"]["poison"] == 1
        assert [poison["reason"] for poison in result["poison"]] == [
            "HOTEL NewImage: the attributes its trip's search document copies take 390,072 bytes (largest: "
            "hotel_name, 390,010); a document holds three bookings within DynamoDB's 400 KB item: at most 102,400 "
            "bytes a booking; writer contract: keep them within that"
        ]
        assert result["refused"] == []
    written = documents(boto3.resource("dynamodb", region_name=REGION).Table(REBUILD if target else search_table.name))
    assert sorted(written) == ["trip-000", "trip-kanji", "trip-oversized"]
    assert written["trip-kanji"]["hotel_name"] == KANJI_HOTEL_NAME
    assert schema.HOTEL_NAME_INDEX.sort not in written["trip-kanji"]  # out of the hotel-name index, still served by id
    assert written["trip-oversized"]["flight_status"] == "CONFIRMED"
    assert "hotel_name" not in written["trip-oversized"]
