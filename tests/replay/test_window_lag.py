"""The Kinesis window of an expired DynamoDB Streams pointer covers its changes however late their copies reached
Kinesis, up to the lag allowance (issue 18.9): `dlq show` prints the window of the changes' own times and says how
far the run reads past it; `replay run` keeps the changes made by --to among the copies that arrived later. On
moto in-process: the copies are put "now", their changes were made three minutes before."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.text import Text
from typer.testing import CliRunner

from replay.cli import app
from tests import factories
from tests.replay.conftest import History
from tests.replay.dlq_messages import pointer_body, send

pytestmark = pytest.mark.usefixtures("quick_queue_reads")
GONE_STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/TripTable-before-restore/stream/2026-02-01T00:00:00.000"


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_the_printed_window_of_an_expired_pointer_projects_copies_that_reached_kinesis_late(
    history: History, dlq_url: str, search_table: Any, replay: Any
) -> None:
    made = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    # the pointer's batch: trip-060's booking, made (and seen by DynamoDB Streams) three minutes ago
    flight, hotel = factories.flight("trip-060"), factories.hotel("trip-060")
    pointer = send(
        dlq_url,
        pointer_body(
            "DDBStreamBatchInfo",
            "arn:aws:lambda:us-east-1:123456789012:function:TripSagaStack-StreamConsumer",
            shardId="shardId-00000001700000000000-gone",
            startSequenceNumber="100000000000000000001",
            endSequenceNumber="100000000000000000002",
            approximateArrivalOfFirstRecord=_stamp(made),
            approximateArrivalOfLastRecord=_stamp(made + timedelta(seconds=1)),
            batchSize=2,
            streamArn=GONE_STREAM,
        ),
    )
    # their Kinesis copies arrive now, three minutes late; another trip's change, made after the window, too
    history.write(factories.insert(flight, made))
    history.write(factories.insert(hotel, made + timedelta(seconds=1)))
    history.write(factories.insert(factories.flight("trip-061"), made + timedelta(minutes=2)))

    code, shown = replay("dlq", "show", pointer)
    text = CliRunner().invoke(app, ["dlq", "show", pointer])
    window = re.fullmatch(r"python -m replay run --from (\S+) --to (\S+)", shown["kinesis_window"])
    assert window is not None, shown
    run_code, run = replay("run", "--from", window[1], "--to", window[2], "--checkpoint-dir", replay.checkpoint_dir)

    assert code == 0, shown
    edges = (made - timedelta(minutes=1), made + timedelta(minutes=1, seconds=1))
    assert window.groups() == tuple(edge.isoformat().replace("+00:00", "Z") for edge in edges)
    assert shown["kinesis_lag_allowance_s"] == 600
    assert [Text.from_ansi(line).plain for line in text.stdout.splitlines()][-1] == (
        "  (--from and --to are the changes' own times; the run reads copies that reached Kinesis up to 10 minutes "
        "after --to (the destination's lag, CloudWatch AgeOfOldestUnreplicatedRecord): if that metric was higher "
        "then, widen --to by as much)"
    )
    assert run_code == 0, run
    assert {k: run["total"][k] for k in ("read", "applied", "after_window")} == {
        "read": 3, "applied": 2, "after_window": 1
    }  # fmt: skip
    document = search_table.get_item(Key={"trip_id": "trip-060"}, ConsistentRead=True)["Item"]
    assert (document["flight_status"], document["hotel_status"]) == ("CONFIRMED", "CONFIRMED")
    assert "Item" not in search_table.get_item(Key={"trip_id": "trip-061"}, ConsistentRead=True)
