"""`trip-replay cutover` on moto: the next version built beside the live table, verified, switched, rolled back and
retired, with the parameter as the functions read it after each step."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from replay.cutover import steps
from services.trip.schema import SEARCH_INDEXES, Layout, trip_shard
from services.trip.search_tables import SearchTables, parse
from tests.conftest import REGION, create_search_table
from tests.replay.conftest import STACK_NAME, History, documents

NEXT = "TripSagaStack-search-v2"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """No function caches the parameter on moto: nothing to wait for between the steps."""
    monkeypatch.setattr(steps, "settle_seconds", lambda *_: 0.0)
    monkeypatch.setattr(steps, "VERIFY_SETTLE_SECONDS", 0.0)


@pytest.fixture
def sagas(history: History) -> History:
    for number in range(1, 13):
        history.saga(f"trip-{number:03d}", payment_fails=number % 4 == 0, minute=number)
    history.project_like_the_consumers()
    return history


def parameter() -> SearchTables:
    value = boto3.client("ssm", region_name=REGION).get_parameter(Name=f"/{STACK_NAME}/search-tables")
    return parse(value["Parameter"]["Value"])


def table(name: str) -> Any:
    return boto3.resource("dynamodb", region_name=REGION).Table(name)


def test_a_cutover_builds_the_next_version_switches_to_it_rolls_back_and_retires(
    sagas: History, replay: Any, tmp_path: Any
) -> None:
    live = sagas.search_table.name
    code, started = replay("cutover", "start", "--table", NEXT, "--checkpoint-dir", str(tmp_path))

    assert (code, started["differences"], started["next"]) == (0, [], "`trip-replay cutover switch` makes it live")
    assert parameter() == SearchTables(live, NEXT)
    assert documents(table(NEXT)) == documents(sagas.search_table)  # 12 trips, alike but for their bookkeeping
    assert len(documents(table(NEXT))) == 12
    description = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=NEXT)["Table"]
    assert sorted(index["IndexName"] for index in description["GlobalSecondaryIndexes"]) == sorted(
        index.name for index in SEARCH_INDEXES
    )
    assert {item["projection_version"] for item in table(NEXT).scan()["Items"]} == {2}

    assert replay("cutover", "switch")[0] == 0
    assert parameter() == SearchTables(NEXT, live)  # the old table stays written, for a rollback
    assert replay("cutover", "switch")[0] == 0
    assert parameter() == SearchTables(live, NEXT)  # rolled back
    assert replay("cutover", "switch")[0] == 0

    code, refused = replay("cutover", "retire", "--delete-table")
    assert (code, parameter()) == (2, SearchTables(NEXT, live))
    assert f"{live} is the stack's own table" in refused
    code, retired = replay("cutover", "retire")
    assert (code, retired["live"], retired["shadow"]) == (0, NEXT, None)
    assert parameter() == SearchTables(NEXT)


def test_a_next_version_that_changes_what_documents_hold_verifies_against_triptable_and_rolls_back_unverified(
    sagas: History, replay: Any, tmp_path: Any
) -> None:
    # given a live table written by a projection that did not know `currency` (an older release)
    live = sagas.search_table
    for item in live.scan()["Items"]:
        live.update_item(Key={"trip_id": item["trip_id"]}, UpdateExpression="REMOVE currency")

    # when this release's cutover builds the next version
    code, started = replay("cutover", "start", "--table", NEXT, "--checkpoint-dir", str(tmp_path))

    # then it holds what TripTable says, currency included, verifies, and switches
    assert (code, started["differences"]) == (0, [])
    assert {item.get("currency") for item in table(NEXT).scan()["Items"] if "expires_at" not in item} == {"JPY"}
    assert replay("cutover", "switch")[0] == 0
    assert parameter() == SearchTables(NEXT, live.name)
    # and switching back to the old version is refused unless asked not to verify: it is not what this release writes
    code, refused = replay("cutover", "switch")
    assert (code, refused["next"]) == (1, "not switched: the shadow differs from TripTable")
    assert {(d["field"], d["target"]) for d in refused["differences"]} == {("currency", None)}
    assert parameter() == SearchTables(NEXT, live.name)
    assert replay("cutover", "switch", "--no-verify")[0] == 0
    assert parameter() == SearchTables(live.name, NEXT)


def test_a_shadow_that_differs_is_not_switched_to(sagas: History, replay: Any, tmp_path: Any) -> None:
    live = sagas.search_table.name
    assert replay("cutover", "start", "--table", NEXT, "--checkpoint-dir", str(tmp_path))[0] == 0
    table(NEXT).delete_item(Key={"trip_id": "trip-003"})  # behind the projection's back
    table(NEXT).update_item(
        Key={"trip_id": "trip-005"},
        UpdateExpression="SET hotel_name = :name",
        ExpressionAttributeValues={":name": "Hotel Elsewhere"},
    )

    code, verified = replay("cutover", "verify")
    assert code == 1
    assert [(d["trip_id"], d["field"], d["live"], d["target"]) for d in verified["differences"]] == [
        ("trip-003", "document", "present", "absent"),
        ("trip-005", "hotel_name", "Grand Hotel Tokyo", "Hotel Elsewhere"),
    ]
    code, refused = replay("cutover", "switch")
    assert (code, refused["next"], len(refused["differences"])) == (
        1,
        "not switched: the shadow differs from TripTable",
        2,
    )
    assert parameter() == SearchTables(live, NEXT)

    code, retired = replay("cutover", "retire", "--delete-table")
    assert (code, retired["live"], retired["shadow"]) == (0, live, None)
    assert parameter() == SearchTables(live)
    assert NEXT not in boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]


def test_a_trip_triptable_cannot_project_is_compared_with_the_live_table(
    sagas: History, replay: Any, tmp_path: Any
) -> None:
    # given a cutover under way, then a TripTable item no fold can read (its version not a number), and the trip's
    # document gone from the shadow
    assert replay("cutover", "start", "--table", NEXT, "--checkpoint-dir", str(tmp_path))[0] == 0
    key = {"PK": "TRIP#trip-003", "SK": "FLIGHT#flight_for_trip-003"}
    sagas.trip_table.update_item(
        Key=key, UpdateExpression="SET version = :text", ExpressionAttributeValues={":text": "one"}
    )
    table(NEXT).delete_item(Key={"trip_id": "trip-003"})

    # when it is verified, then the shadow is held to the live table's document, and the switch refused
    code, verified = replay("cutover", "verify")
    assert code == 1
    assert [(d["trip_id"], d["field"], d["live"], d["target"]) for d in verified["differences"]] == [
        ("trip-003", "document", "present", "absent")
    ]
    assert replay("cutover", "switch")[0] == 1
    assert parameter() == SearchTables(sagas.search_table.name, NEXT)


@pytest.mark.parametrize(
    "args, error",
    [
        (("--table", "OtherTable"), "error: --table OtherTable: the stack's functions may use only tables named "),
        (("--table", "TripSearchTable"), "error: --table TripSearchTable: the stack's functions may use only "),
    ],
)
def test_a_table_the_functions_may_not_use_is_refused(
    stack: Any, replay: Any, args: tuple[str, ...], error: str
) -> None:
    code, output = replay("cutover", "start", *args)
    assert code == 2
    assert output.startswith(error)
    assert parameter() == SearchTables(stack["SearchTableName"])


def test_one_cutover_at_a_time(sagas: History, replay: Any, tmp_path: Any) -> None:
    assert replay("cutover", "start", "--table", NEXT, "--checkpoint-dir", str(tmp_path))[0] == 0

    code, output = replay("cutover", "start", "--table", f"{NEXT}-again", "--checkpoint-dir", str(tmp_path))

    assert code == 2
    assert output.startswith(f"error: a cutover is under way: {NEXT} is the shadow of {sagas.search_table.name}")


@pytest.mark.parametrize("command", ["verify", "switch", "retire"])
def test_verify_switch_and_retire_need_a_cutover_under_way(stack: Any, replay: Any, command: str) -> None:
    code, output = replay("cutover", command)
    assert code == 2
    assert output.startswith("error: no cutover under way: ")


def test_status_says_which_tables_serve(stack: Any, replay: Any) -> None:
    code, status = replay("cutover", "status")
    assert (code, status) == (
        0,
        {
            "live": stack["SearchTableName"],
            "shadow": None,
            "stack_table": stack["SearchTableName"],
            "parameter": f"/{STACK_NAME}/search-tables",
            "layouts": {},
            "projection_version": 2,
        },
    )


@pytest.fixture
def unsharded(stack: dict[str, str], trip_table: Any, search_table: Any) -> History:
    """A stack deployed before write sharding, redeployed with `searchTableLayout=unsharded`: its own table keeps
    the indexes of those releases, and the parameter says so."""
    name = search_table.name
    search_table.delete()
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    old = create_search_table(dynamodb, name, layout=Layout.UNSHARDED)
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=f"/{STACK_NAME}/search-tables",
        Value=SearchTables(name, layouts={name: Layout.UNSHARDED}).to_json(),
        Type="String",
        Overwrite=True,
    )
    history = History(trip_table, old, layout=Layout.UNSHARDED)
    for number in range(1, 13):
        history.saga(f"trip-{number:03d}", payment_fails=number % 4 == 0, minute=number)
    history.project_like_the_consumers()
    return history


def test_a_stack_deployed_before_write_sharding_moves_to_a_sharded_table(
    unsharded: History, replay: Any, tmp_path: Any
) -> None:
    live = unsharded.search_table.name
    layouts = {live: Layout.UNSHARDED}
    assert {item["hotel_name_initial"] for item in unsharded.search_table.scan()["Items"]} == {"g"}

    code, started = replay("cutover", "start", "--table", NEXT, "--checkpoint-dir", str(tmp_path))

    assert (code, started["differences"]) == (0, [])
    assert parameter() == SearchTables(live, NEXT, layouts)
    items = table(NEXT).scan()["Items"]
    shards = {item["trip_id"]: f"{trip_shard(item['trip_id']):03d}" for item in items}
    assert sorted(item["flight_status_shard"] for item in items) == sorted(
        f"{'CONFIRMED' if int(trip[-3:]) % 4 else 'CANCELLED'}#{shard}" for trip, shard in shards.items()
    )
    assert not [item for item in items if "hotel_name_initial" in item]
    assert len(items) == 12

    assert replay("cutover", "switch")[0] == 0
    assert parameter() == SearchTables(NEXT, live, layouts)  # the unsharded table kept current, for a rollback
    assert replay("cutover", "status")[1]["layouts"] == {live: "unsharded"}
    assert replay("cutover", "retire")[0] == 0
    assert parameter() == SearchTables(NEXT, layouts=layouts)
