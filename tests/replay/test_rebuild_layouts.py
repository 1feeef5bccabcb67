"""`replay run --target-table` writes a table of its own with the keys of that table's indexes (replay.target_table
`layout_of`): one it creates takes the live table's, one that exists keeps its own, whichever table is live."""

from __future__ import annotations

from typing import Any

import boto3

from services.trip.schema import SEARCH_INDEXES, UNSHARDED_INDEXES
from tests.conftest import REGION
from tests.replay import test_cutover
from tests.replay.conftest import History

REBUILD = "TripSearchRebuild"
SHARDED_KEYS = {key for index in SEARCH_INDEXES for key in (index.partition, index.sort)}
UNSHARDED_KEYS = {"hotel_name_initial", "hotel_name_key"}

unsharded = test_cutover.unsharded  # the fixture: a stack deployed before write sharding, 12 trips projected
no_waiting = test_cutover.no_waiting  # autouse there: no function caches the parameter on moto


def _indexes(name: str) -> set[str]:
    description = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=name)["Table"]
    return {index["IndexName"] for index in description["GlobalSecondaryIndexes"]}


def test_a_rebuild_into_an_existing_table_writes_the_keys_of_that_tables_indexes(
    unsharded: History, no_waiting: None, replay: Any, tmp_path: Any
) -> None:
    """A rebuild target made while the cutover's sharded table was live has the sharded indexes (create_like); rolled
    back to the unsharded table, the same rebuild run again writes it with the sharded keys still."""
    assert replay("cutover", "start", "--table", test_cutover.NEXT, "--checkpoint-dir", str(tmp_path))[0] == 0
    assert replay("cutover", "switch")[0] == 0  # the sharded table is live
    code, result = replay("run", "--source", "table", "--target-table", REBUILD)
    assert code == 0, result
    assert _indexes(REBUILD) == {index.name for index in SEARCH_INDEXES}  # created like the live table: sharded
    assert replay("cutover", "switch")[0] == 0  # rollback: the stack's unsharded table is live again
    assert {index.name for index in UNSHARDED_INDEXES.values()} == _indexes(unsharded.search_table.name)
    unsharded.saga("trip-013", minute=13)  # a trip booked since

    code, result = replay("run", "--source", "table", "--target-table", REBUILD)

    assert code == 0, result
    item = boto3.resource("dynamodb", region_name=REGION).Table(REBUILD).get_item(Key={"trip_id": "trip-013"})["Item"]
    assert (sorted(SHARDED_KEYS & set(item)), sorted(UNSHARDED_KEYS & set(item))) == (sorted(SHARDED_KEYS), [])


def test_the_rebuilt_trip_is_found_by_a_search_of_the_rebuilt_table(
    unsharded: History, no_waiting: None, replay: Any, tmp_path: Any
) -> None:
    """The same, shown as a search sees it: `trip-013` is in the sharded hotel-name index of the rebuilt table."""
    assert replay("cutover", "start", "--table", test_cutover.NEXT, "--checkpoint-dir", str(tmp_path))[0] == 0
    assert replay("cutover", "switch")[0] == 0
    assert replay("run", "--source", "table", "--target-table", REBUILD)[0] == 0
    assert replay("cutover", "switch")[0] == 0
    unsharded.saga("trip-013", minute=13)
    assert replay("run", "--source", "table", "--target-table", REBUILD)[0] == 0

    client = boto3.client("dynamodb", region_name=REGION)
    hotel = SEARCH_INDEXES[1]
    found = set()
    for shard in range(64):
        answer = client.query(
            TableName=REBUILD,
            IndexName=hotel.name,
            KeyConditionExpression="#p = :p",
            ExpressionAttributeNames={"#p": hotel.partition},
            ExpressionAttributeValues={":p": {"S": f"g#{shard:03d}"}},
        )
        found |= {item["trip_id"]["S"] for item in answer["Items"]}

    assert found == {f"trip-{number:03d}" for number in range(1, 14)}
