"""DynamoDB access for the search API: one page of a search merged from its index shards, or one document by id.

A search reads every shard of the value it asks for (`SearchIndex.partitions`), each in order-key order, and merges
them: order keys are unique (they end with the trip id), so the shards interleave into one total order, and the
page's last order key is where every shard resumes. A page of `limit` trips costs:

- round 1: one `Query` per shard (`SEARCH_SHARDS`), each for `ceil((limit + 1) / shards) + 2` items: a shard holds
  a uniform share of any search's trips (`schema.trip_shard`), so this round usually settles the page;
- round 2, only for the shards whose share ran out before the page's end: one `Query` each, for as many items as
  the page can still take from it. Then the page is settled: a shard asked for `k` more items either has them, and
  the `limit + 1` items below its last are known, or has no more (proof in docs/design.md, "Merged pages").
  A `Query` answer cut at DynamoDB's 1 MB (items up to 400 KB) can take a shard through more rounds.

So at most `2 * SEARCH_SHARDS` Query calls a page (of 1 MB answers), each charged ceil(bytes / 4 KB) / 2 RCU, at
least 0.5 (eventually consistent: AWS DynamoDB Developer Guide, "Read consistency" and "Query"); the calls of a
round run concurrently. Reading one item more than the page holds tells whether another page exists, so the last
page never carries a token that leads to an empty one.

A table of the releases before write sharding (`schema.Layout.UNSHARDED`, kept until a cutover moves the stack to
a sharded table) is read by `UnshardedTableReader`: one `Query` a page on that index's single partition of the
value, resumed at the same order keys, so a walk begun on it goes on once the sharded table is live.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from services.trip import schema
from services.trip.search.criteria import SearchQuery

# Items beyond a shard's even share of a page asked for in round 1: with 64 shards and 51 items to find, a shard
# holds 3 or more of them about once a page (Poisson, mean 0.8), so round 2 is small.
_SLACK = 2


@dataclass(frozen=True)
class Page:
    documents: list[dict[str, Any]]
    resume_after: str | None  # the order key the next page starts after; None: this is the last page


@dataclass(eq=False)  # a shard is itself, whatever it has read: hashed by identity
class _Shard:
    """What has been read of one shard: its items in order, and where it goes on (None: read to its end)."""

    partition: str
    start: dict[str, Any] | None
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def more(self) -> bool:
        return self.start is not None


class _TableReader:
    def __init__(self, table: Any) -> None:
        """`table`: a boto3 DynamoDB Table resource; its client (thread-safe, unlike the resource) runs the queries."""
        self._table = table
        self._client = table.meta.client

    def document(self, trip_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._table.get_item(Key={schema.SEARCH_KEY: trip_id}).get("Item")
        return item


class SearchTableReader(_TableReader):
    def __init__(self, table: Any, concurrent_queries: int = schema.SEARCH_SHARDS) -> None:
        """Runs a round's queries `concurrent_queries` at once, which the client's connection pool must allow
        (`max_pool_connections`)."""
        super().__init__(table)
        self._pool = ThreadPoolExecutor(max_workers=concurrent_queries, thread_name_prefix="search-shard")

    def page(self, query: SearchQuery, limit: int, after: str | None) -> Page:
        """The `limit` first trips of the search after the order key `after` (None: from the start)."""
        wanted = limit + 1
        shards = [_Shard(p, None if after is None else query.start_key(p, after)) for p in query.partitions]
        first = math.ceil(wanted / len(shards)) + _SLACK
        self._read({shard: first for shard in shards}, query)
        while True:
            merged = sorted((item for shard in shards for item in shard.items), key=query.position_of)
            going_on = [shard for shard in shards if shard.more]
            settled = _settled(merged, going_on, query)
            if not going_on or len(settled) >= wanted:
                break
            boundary = query.position_of(merged[wanted - 1]) if len(merged) >= wanted else None
            needs: dict[_Shard, int] = {}
            for shard in going_on:
                frontier = _frontier(shard, query)
                if boundary is None or frontier is None or frontier < boundary:
                    below = sum(1 for item in merged if frontier is None or query.position_of(item) <= frontier)
                    needs[shard] = max(first, wanted - below)
            self._read(needs, query)
        shown = (settled if going_on else merged)[:wanted]
        if len(shown) > limit:
            return Page(shown[:limit], query.position_of(shown[limit - 1]))
        return Page(shown, None)

    def _read(self, needs: dict[_Shard, int], query: SearchQuery) -> None:
        """Read the next `needs[shard]` items of each shard, concurrently."""

        def read(shard: _Shard, count: int) -> None:
            request: dict[str, Any] = {
                "TableName": self._table.name,
                "IndexName": query.index.name,
                "Limit": count,
                **_key_condition(query, query.index.partition, shard.partition, query.index.sort),
            }
            if shard.start is not None:
                request["ExclusiveStartKey"] = shard.start
            response = self._client.query(**request)
            fresh = {item[schema.SEARCH_KEY] for item in response["Items"]}
            # A trip read in an earlier round that moved above this shard's frontier since (its flight rebooked
            # later) is read again: its new place stands, so the page shows it once.
            shard.items = [item for item in shard.items if item[schema.SEARCH_KEY] not in fresh] + response["Items"]
            shard.start = response.get("LastEvaluatedKey")

        list(self._pool.map(read, needs, needs.values()))  # waits for every answer; raises the first error


class UnshardedTableReader(_TableReader):
    """A table of `Layout.UNSHARDED`: one `Query` of `limit + 1` items a page, as those releases read it (and, for a
    hotel-name page after the first, one GetItem: `_stored_sort_value`).

    Its positions are the sharded tables' order keys, the sort value and the trip id (`schema.bounded_order_key`),
    and it resumes a position at that sort value and trip: a token of either table goes on in the other.
    Ties of one sort value follow DynamoDB's own order here and the trip id's in a sharded table, so a walk that
    crosses a cutover's switch inside a run of ties may show a tied trip twice or miss one."""

    def page(self, query: SearchQuery, limit: int, after: str | None) -> Page:
        index = schema.UNSHARDED_INDEXES[query.index]
        request: dict[str, Any] = {
            "TableName": self._table.name,
            "IndexName": index.name,
            "Limit": limit + 1,
            **_key_condition(query, index.partition, query.value, index.sort),
        }
        if after is not None:
            value, _, trip_id = after.partition(schema.ORDER_SEPARATOR)
            start = self._stored_sort_value(query, trip_id, value)
            request["ExclusiveStartKey"] = {schema.SEARCH_KEY: trip_id, index.partition: query.value, index.sort: start}
        response = self._client.query(**request)
        documents: list[dict[str, Any]] = response["Items"]
        if len(documents) > limit:
            return Page(documents[:limit], _order_key(documents[limit - 1], index.sort))
        # Fewer items and a LastEvaluatedKey: DynamoDB stopped at its 1 MB answer.
        last = response.get("LastEvaluatedKey")
        return Page(documents, None if last is None else _order_key(last, index.sort))

    def _stored_sort_value(self, query: SearchQuery, trip_id: str, value: str) -> str:
        """The stored sort key a position stands for. A hotel-name key of those releases may hold U+0000 or be
        longer than an order key can carry (`schema.bounded_order_key`): the trip's stored key is read again (one
        GetItem, 0.5 RCU) and resumed from when the position is its start and it lies inside the query's prefix
        (DynamoDB refuses an ExclusiveStartKey outside the key condition); else (the trip renamed since, or a
        sharded table's position) the value itself. Departure times hold neither."""
        if query.index is not schema.HOTEL_NAME_INDEX:
            return value
        sort = schema.UNSHARDED_INDEXES[query.index].sort
        item = self._table.get_item(
            Key={schema.SEARCH_KEY: trip_id}, ProjectionExpression="#sort", ExpressionAttributeNames={"#sort": sort}
        ).get("Item", {})
        stored = item.get(sort)
        if (
            isinstance(stored, str)
            and stored.replace(schema.ORDER_SEPARATOR, "").startswith(value)
            and (query.prefix is None or stored.startswith(query.prefix))
        ):
            return stored
        return value


def _order_key(item: dict[str, Any], sort: str) -> str:
    return schema.bounded_order_key(str(item[sort]), str(item[schema.SEARCH_KEY]))


def _frontier(shard: _Shard, query: SearchQuery) -> str | None:
    """The last order key read of a shard that goes on: none of its unread items sorts at or below it."""
    return query.position_of(shard.items[-1]) if shard.items else None


def _settled(merged: list[dict[str, Any]], going_on: Iterable[_Shard], query: SearchQuery) -> list[dict[str, Any]]:
    """The merged items no unread item can precede: those at or below every going-on shard's frontier."""
    frontiers = [_frontier(shard, query) for shard in going_on]
    if any(frontier is None for frontier in frontiers):
        return []
    lowest = min((f for f in frontiers if f is not None), default=None)
    return merged if lowest is None else [item for item in merged if query.position_of(item) <= lowest]


def _key_condition(query: SearchQuery, partition_key: str, partition: str, sort_key: str) -> dict[str, Any]:
    """The Query's key condition on an index (`partition_key` = `partition` and `sort_key` within the query's range
    or prefix), as the expression string and its names and values: written out here, not with boto3's `Key(...)`
    objects, whose builder (one per resource, its placeholder counters reset and bumped by every request without a
    lock) is not safe for the shards' concurrent queries."""
    names = {"#partition": partition_key, "#sort": sort_key}
    values: dict[str, str] = {":partition": partition}
    condition = "#partition = :partition"
    if query.prefix is not None:
        condition += " AND begins_with(#sort, :prefix)"
        values[":prefix"] = query.prefix
    elif query.lower is not None and query.upper is not None:
        condition += " AND #sort BETWEEN :lower AND :upper"
        values |= {":lower": query.lower, ":upper": query.upper}
    elif query.lower is not None:
        condition += " AND #sort >= :lower"
        values[":lower"] = query.lower
    elif query.upper is not None:
        condition += " AND #sort <= :upper"
        values[":upper"] = query.upper
    if "#sort" not in condition:
        del names["#sort"]
    return {"KeyConditionExpression": condition, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
