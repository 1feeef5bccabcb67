"""`replay dlq` on moto in-process: a redrive dry run, an expired pointer, an unknown id, a writer-contract violation.

Listing, showing and redriving a real poison record and a real exhausted batch run on the local runtime
(test_on_runtime.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from rich.text import Text
from typer.testing import CliRunner

from replay.cli import app
from replay.stack import Connection
from tests import factories
from tests.replay.conftest import History
from tests.replay.dlq_messages import kinesis_pointer, kinesis_poison, send, stream_poison

pytestmark = [pytest.mark.usefixtures("quick_queue_reads"), pytest.mark.dynamodb_conformance]  # on both engines


@pytest.fixture
def dlq(history: History, dlq_url: str) -> dict[str, str]:
    return {"poison": kinesis_poison(dlq_url), "pointer": kinesis_pointer(dlq_url, history, "trip-042")}


def test_redrive_dry_run_changes_nothing(dlq: dict[str, str], search_table: Any, replay: Any) -> None:
    code, results = replay("dlq", "redrive", "--all", "--dry-run")

    assert code == 1  # the poison record would stay
    assert [(r["handled"], r["reason"]) for r in results][1] == (True, "would be projected")
    assert "Item" not in search_table.get_item(Key={"trip_id": "trip-042"})
    _, listed = replay("dlq", "list")
    assert sorted(m["message_id"] for m in listed) == sorted(dlq.values())


def test_an_expired_stream_pointer_says_so_and_offers_the_kinesis_window(stack: Any, dlq_url: str, replay: Any) -> None:
    # moto cannot trim a stream: a stream that no longer exists answers the same way (ResourceNotFound)
    gone_stream = (
        "arn:aws:dynamodb:us-east-1:123456789012:table/TripTable-before-restore/stream/2026-02-01T00:00:00.000"
    )
    pointer = send(
        dlq_url,
        {
            "requestContext": {"condition": "RecordAgeExceeded", "approximateInvokeCount": 1},
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "DDBStreamBatchInfo": {
                "shardId": "shardId-00000001700000000000-gone",
                "startSequenceNumber": "100000000000000000001",
                "endSequenceNumber": "100000000000000000005",
                "approximateArrivalOfFirstRecord": "2026-03-01T09:00:00Z",
                "approximateArrivalOfLastRecord": "2026-03-01T09:10:00Z",
                "batchSize": 5,
                "streamArn": gone_stream,
            },
        },
    )

    code, shown = replay("dlq", "show", pointer)

    assert code == 0, shown
    assert "no longer has these records" in shown["expired"]
    assert shown["kinesis_window"] == "python -m replay run --from 2026-03-01T08:59:00Z --to 2026-03-01T09:11:00Z"


def test_an_unknown_message_id_is_bad_input(dlq: dict[str, str], replay: Any) -> None:
    code, output = replay("dlq", "show", "no-such-id")

    assert code == 2
    assert "no message no-such-id in the DLQ" in output


def text(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run the command as an operator would, without --json; (exit code, the lines of stdout as they read)."""
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, [Text.from_ansi(line).plain for line in result.stdout.splitlines()]


def remaining(replay: Any) -> set[str]:
    code, listed = replay("dlq", "list")
    assert code == 0, listed
    return {message["message_id"] for message in listed}


def test_delete_removes_the_named_messages_and_prints_each(dlq: dict[str, str], dlq_url: str, replay: Any) -> None:
    stream = stream_poison(dlq_url)

    code, lines = text("dlq", "delete", dlq["poison"], stream)

    assert code == 0, lines
    assert lines[0].startswith(f"deleted {dlq['poison']}  poison-record from kinesis, shard shardId-000000000000, ")
    assert lines[0].endswith(": kinesis data is not JSON: Expecting property name enclosed in double quotes")
    assert lines[1].startswith(f"deleted {stream}  poison-record from dynamodb-streams, shard -, sequence ")
    assert lines[1].endswith(": the change has no Keys")
    assert lines[2:] == ["2 message(s) deleted from TripProjectionDLQ"]
    assert remaining(replay) == {dlq["pointer"]}


def test_delete_with_json_keeps_a_record_of_each_body(dlq: dict[str, str], replay: Any) -> None:
    code, deleted = replay("dlq", "delete", dlq["pointer"])

    assert code == 0, deleted
    [record] = deleted
    assert (record["message_id"], record["kind"]) == (dlq["pointer"], "batch-pointer")
    assert record["body"]["KinesisBatchInfo"]["batchSize"] == 3
    assert remaining(replay) == {dlq["poison"]}


def test_bulk_delete_needs_yes(dlq: dict[str, str], replay: Any) -> None:
    refused, output = replay("dlq", "delete", "--all")
    code, deleted = replay("dlq", "delete", "--all", "--yes")

    assert refused == 2
    assert "add --yes to confirm" in output
    assert code == 0, deleted
    assert sorted(message["message_id"] for message in deleted) == sorted(dlq.values())
    assert remaining(replay) == set()


def test_an_unknown_id_deletes_nothing(dlq: dict[str, str], replay: Any) -> None:
    code, output = replay("dlq", "delete", dlq["poison"], "no-such-id")

    assert code == 2
    assert "no message no-such-id in the DLQ (see `python -m replay dlq list`)" in output
    assert remaining(replay) == set(dlq.values())


def test_an_unreadable_message_is_listed_kept_by_redrive_and_deleted_on_request(
    stack: Any, dlq_url: str, replay: Any
) -> None:
    unreadable = send(dlq_url, "not json at all")

    _, [listed] = replay("dlq", "list")
    redrive_code, _ = replay("dlq", "redrive", unreadable)
    delete_code, _ = replay("dlq", "delete", unreadable)

    assert (listed["kind"], listed["reason"]) == ("unreadable", "the message body is not a JSON object")
    assert (redrive_code, delete_code) == (1, 0)
    assert remaining(replay) == set()


def test_show_names_the_shard_a_poison_record_carries_else_a_dash(stack: Any, dlq_url: str) -> None:
    kinesis = kinesis_poison(dlq_url)
    stream = stream_poison(dlq_url)

    _, kinesis_lines = text("dlq", "show", kinesis)
    _, stream_lines = text("dlq", "show", stream)

    assert kinesis_lines[1] == "  shard shardId-000000000000"
    assert stream_lines[1] == "  shard -"


AT_80_COLUMNS = {"TTY_COMPATIBLE": "1", "COLUMNS": "80", "NO_COLOR": "1"}


def test_list_reads_at_80_columns_on_a_terminal(dlq: dict[str, str], dlq_url: str) -> None:
    stream = stream_poison(dlq_url)

    code, lines = text("dlq", "list", env=AT_80_COLUMNS)

    assert code == 0
    assert max(len(line) for line in lines) <= 80
    assert lines[:2] == ["3 message(s) in TripProjectionDLQ", ""]
    blocks = ["\n".join(lines[start : start + 4]) for start in range(2, len(lines), 5)]
    assert len(blocks) == 3
    by_id = {block.split()[0]: block.splitlines() for block in blocks}
    assert by_id[dlq["poison"]][0] == f"{dlq['poison']}  poison-record  kinesis  0h00m"
    assert by_id[dlq["poison"]][1:] == [
        "  shard shardId-000000000000",
        f"  sequence {by_id[dlq['poison']][2].split()[1]}",
        "  kinesis data is not JSON: Expecting property name enclosed in double quotes",
    ]
    assert by_id[stream][:2] == [f"{stream}  poison-record  dynamodb-streams  0h00m", "  shard -"]
    assert by_id[dlq["pointer"]][3] == "  RetryAttemptsExhausted (Unhandled)"
    assert ".." in by_id[dlq["pointer"]][2]


def test_list_piped_is_one_plain_line_per_message_whatever_the_width(dlq: dict[str, str], dlq_url: str) -> None:
    narrow = text("dlq", "list", env={"COLUMNS": "40"})
    wide = text("dlq", "list", env={"COLUMNS": "300"})

    assert narrow == wide
    code, lines = narrow
    assert code == 0
    assert lines[0].split() == ["message", "id", "kind", "source", "shard", "sequence", "age", "reason"]
    rows = {line.split()[0]: line.split(maxsplit=6) for line in lines[1:]}
    assert rows.keys() == set(dlq.values())
    assert rows[dlq["pointer"]][1:4] == ["batch-pointer", "kinesis", "shardId-000000000000"]
    assert rows[dlq["pointer"]][5:] == ["0h00m", "RetryAttemptsExhausted (Unhandled)"]
    assert rows[dlq["poison"]][1:4] == ["poison-record", "kinesis", "shardId-000000000000"]
    assert rows[dlq["poison"]][6] == "kinesis data is not JSON: Expecting property name enclosed in double quotes"
    assert not any(char in "".join(lines) for char in "│┃━─\x1b")


def test_a_delete_that_fails_midway_still_reports_what_it_deleted(
    dlq: dict[str, str], replay: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_client = Connection.client

    def client(connection: Connection, service: str) -> Any:
        made = real_client(connection, service)
        if service == "sqs":
            real_delete = made.delete_message
            calls = iter(range(2))

            def delete_message(**request: Any) -> Any:
                if next(calls, 1) == 1:  # SQS refuses the second deletion
                    raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "DeleteMessage")
                return real_delete(**request)

            made.delete_message = delete_message
        return made

    monkeypatch.setattr(Connection, "client", client)

    result = CliRunner().invoke(app, ["dlq", "delete", dlq["poison"], dlq["pointer"], "--json"])

    assert result.exit_code == 1
    [deleted] = json.loads(result.stdout)
    assert (deleted["message_id"], deleted["body"]["kind"]) == (dlq["poison"], "poison-record")
    assert result.stderr.startswith(f"error: deleting message {dlq['pointer']} from ")
    monkeypatch.undo()
    assert remaining(replay) == {dlq["pointer"]}


def test_a_parked_writer_contract_violation_stays_when_redriven(
    history: History, dlq_url: str, search_table: Any, replay: Any
) -> None:
    v1 = factories.written(factories.hotel("trip-043"), factories.later(0))
    v2 = factories.written(factories.hotel("trip-043", 2, "CANCELLED"), factories.later(1))
    for change in (
        factories.Change("INSERT", v1, None, factories.later(0)),
        factories.modify(v1, v2, factories.later(1)),
    ):
        history.write(change)
    history.write(factories.remove(v2, factories.later(2)))
    history.project_like_the_consumers()
    # the consumer parked the export of version 1 put back after the removal of version 2 (TripTable holds it)
    history.trip_table.put_item(Item=v1)
    record = factories.kinesis_record(factories.Change("INSERT", v1, None, factories.later(9)))
    message_id = send(
        dlq_url,
        {
            "kind": "poison-record",
            "source": "kinesis",
            "reason": "the item went back to an older version",
            "eventSourceARN": factories.KINESIS_ARN,
            "shardId": "shardId-000000000000",
            "sequenceNumber": record["kinesis"]["sequenceNumber"],
            "functionName": "TripSagaStack-KinesisConsumer",
            "detectedAt": "2026-03-01T09:09:00Z",
            "record": record,
        },
    )
    went_back = (
        "1 change(s) could not be projected into TripSearchTable, first: trip trip-043 HOTEL v1: HOTEL INSERT of "
        "version 1 (created_at 2026-03-01T09:00:00+00:00) seen after the removal of version 2 (created_at "
        "2026-03-01T09:00:00+00:00): the item went back to an older version; writer contract: write it with a "
        "version above 2"
    )

    dry_code, dry_results = replay("dlq", "redrive", message_id, "--dry-run")
    code, results = replay("dlq", "redrive", message_id)

    assert (dry_code, [(r["handled"], r["reason"]) for r in dry_results]) == (1, [(False, went_back)])
    assert (code, [(r["handled"], r["reason"]) for r in results]) == (1, [(False, went_back)])
    assert "hotel_name" not in search_table.get_item(Key={"trip_id": "trip-043"})["Item"]


@pytest.mark.parametrize("env", [None, AT_80_COLUMNS])
def test_list_of_an_empty_queue_says_zero_messages(stack: Any, env: dict[str, str] | None) -> None:
    assert text("dlq", "list", env=env) == (0, ["0 messages in TripProjectionDLQ"])


def test_show_prints_each_record_as_json_a_user_can_paste_into_jq(dlq: dict[str, str]) -> None:
    _, pointer = text("dlq", "show", dlq["pointer"])
    _, poison = text("dlq", "show", dlq["poison"])

    images = [json.loads(line.split(": ", 1)[1]) for line in pointer if line.startswith(("    new: ", "    old: "))]
    assert [(image or {}).get("status") for image in images] == [
        "CONFIRMED",
        None,
        "CONFIRMED",
        None,
        "COMPLETED",
        None,
    ]
    assert images[2]["hotel_name"] == "Grand Hotel Tokyo"
    [raw] = [json.loads(line) for line in poison if line.startswith("    {")]
    assert (raw["eventSource"], raw["kinesis"]["data"]) == ("aws:kinesis", "e25vdCBqc29u")


def test_a_message_that_stays_poison_keeps_the_time_of_its_first_failure(dlq: dict[str, str], replay: Any) -> None:
    # given the poison message as first parked
    [first] = [message for message in replay("dlq", "list")[1] if message["message_id"] == dlq["poison"]]

    # when it is redriven twice and stays poison each time (put back as a new message each time)
    ids = [first["message_id"]]
    for _ in range(2):
        code, [redriven] = replay("dlq", "redrive", ids[-1])
        assert (code, redriven["handled"]) == (1, False)
        ids.append(redriven["replaced_by"])

    # then the message that now carries it is as old as the first failure
    [kept] = [message for message in replay("dlq", "list")[1] if message["message_id"] == ids[-1]]
    assert len(set(ids)) == 3
    assert (kept["sent_at"], kept["redrive_attempts"]) == (first["sent_at"], 2)
