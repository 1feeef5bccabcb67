"""What TripSearchTable's indexes would be charged at 100,000 changes a second, and what a search page costs.

A booking workload of the issue's shape (departures over the next year, most within two months; 85 % of trips
confirmed, the rest compensated; hotel names as travellers book them, many starting with "Hotel", "The", "Grand",
"ホテル") runs through the real StreamConsumer and KinesisConsumer, both pipelines delivering every change as the
stack deploys them. Their DynamoDB calls are answered by `SearchTableStandIn`, an in-memory search table that keeps
the documents, enforces the conditional writes and charges every accepted write to each index as DynamoDB charges
index writes (AWS DynamoDB Developer Guide, "Global secondary indexes: provisioned throughput considerations"):

- an item that enters an index (it gains the key attributes) costs one write; one that leaves it, one write;
- a write that changes an index key costs two (the old entry deleted, the new one put);
- a write that changes a projected attribute but no key costs one; a write that changes neither costs nothing;
- each write is charged ceil(entry size / 1 KB) WCU, its entry being its keys and projected attributes, sized as
  DynamoDB sizes items ("Item sizes and formats": names and UTF-8 values, numbers about one byte per two digits).

Each index's load is charged to the partition key value it was written under; at 100,000 changes a second, the
hottest value's WCU a second is its share of the workload's changes times 100,000. Today's indexes
(`LEGACY_INDEXES`: one partition per flight status, one per hotel name's first character, projecting ALL) are
charged on the same writes, as the baseline.

The pages: the documents the consumers wrote are loaded into moto, and the real search handler walks searches of
the same workload; each page's Query calls are counted and charged as DynamoDB charges a Query (ceil(bytes
returned / 4 KB) RCU, half for the eventually consistent reads an index serves, 0.5 at least).
"""

from __future__ import annotations

import io
import json
import math
import os
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest.mock import patch

import boto3
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from bench.batch_latency import SEARCH_TABLE, Handler, _Body
from bench.saga import TripDetails, saga_workload
from services.trip import consumer, schema
from services.trip.dynamodb_values import deserialize_item
from services.trip.handlers import kinesis_consumer, search_trips, stream_consumer
from services.trip.projection import INDEX_PROJECTION
from tests import factories as f
from tests.conftest import create_search_table

CHANGES_PER_SECOND = 100_000
PARTITION_WCU = 1_000  # per partition key value a second (AWS, "Burst and adaptive capacity")
BATCH = 100  # the stack's mapping batch size


@dataclass(frozen=True)
class ChargedIndex:
    """An index as the cost model sees it: where a document lands in it, and what its entry holds."""

    name: str
    searched_by: str  # what a search asks it for: "flight status", "hotel name"
    key: Callable[[Mapping[str, Any]], tuple[str, str] | None]  # (partition value, sort value); None: not in it
    projected: Callable[[Mapping[str, Any]], dict[str, Any]]


def _sharded(index: schema.SearchIndex, searched_by: str) -> ChargedIndex:
    def key(item: Mapping[str, Any]) -> tuple[str, str] | None:
        return (item[index.partition], item[index.sort]) if index.partition in item else None

    def projected(item: Mapping[str, Any]) -> dict[str, Any]:
        kept = {schema.SEARCH_KEY, index.partition, index.sort, *INDEX_PROJECTION}
        return {name: value for name, value in item.items() if name in kept}

    return ChargedIndex(index.name, searched_by, key, projected)


def _all_of_today(item: Mapping[str, Any]) -> dict[str, Any]:
    """Today's ALL projection: the whole document as it was written before the sharded keys."""
    sharded = {name for index in schema.SEARCH_INDEXES for name in (index.partition, index.sort)}
    return {name: value for name, value in item.items() if name not in sharded}


def _legacy_flight(item: Mapping[str, Any]) -> tuple[str, str] | None:
    status, departure = item.get("flight_status"), item.get("departure_time")
    return (status, departure) if isinstance(status, str) and isinstance(departure, str) else None


def _legacy_hotel(item: Mapping[str, Any]) -> tuple[str, str] | None:
    name = item.get("hotel_name")
    key = schema.fold_hotel_name(name) if isinstance(name, str) else ""
    return (key[:1], key) if key and schema.key_bytes(key) <= schema.SORT_KEY_BYTES else None


SHARDED_INDEXES = (
    _sharded(schema.FLIGHT_STATUS_INDEX, "flight status"),
    _sharded(schema.HOTEL_NAME_INDEX, "hotel name"),
)
LEGACY_INDEXES = (
    ChargedIndex("flight_status-departure_time-index", "flight status", _legacy_flight, _all_of_today),
    ChargedIndex("hotel_name_prefix-index", "hotel name", _legacy_hotel, _all_of_today),
)


def item_size(value: Any) -> int:
    """Bytes DynamoDB counts for a value ("Item sizes and formats"): a dict is an item or a map."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | Decimal):
        digits = len(Decimal(value).as_tuple().digits)
        return (digits + 1) // 2 + 1
    if isinstance(value, dict):
        return 3 + sum(len(name.encode()) + item_size(v) + 1 for name, v in value.items())
    if isinstance(value, list | set):
        return 3 + sum(item_size(v) + 1 for v in value)
    return len(bytes(value))


def _entry_size(entry: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + item_size(value) for name, value in entry.items())


@dataclass
class IndexLoad:
    """What one index was charged: writes, and WCU per partition key value."""

    writes: int = 0
    wcu: Counter[str] = field(default_factory=Counter)

    def charge(self, partition: str, entry: Mapping[str, Any]) -> None:
        self.writes += 1
        self.wcu[partition] += math.ceil(_entry_size(entry) / 1024)

    def hottest(self) -> tuple[str, int]:
        return self.wcu.most_common(1)[0] if self.wcu else ("-", 0)


def charge(index: ChargedIndex, load: IndexLoad, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
    """Charge one table write to `index`, as DynamoDB does (module docstring)."""
    before = None if old is None else index.key(old)
    after = index.key(new)
    if before is None and after is None:
        return
    if after is None:
        assert old is not None and before is not None
        load.charge(before[0], index.projected(old))
    elif before is None:
        load.charge(after[0], index.projected(new))
    elif before != after:
        assert old is not None
        load.charge(before[0], index.projected(old))
        load.charge(after[0], index.projected(new))
    elif old is not None and index.projected(old) != index.projected(new):
        load.charge(after[0], index.projected(new))


class SearchTableStandIn:
    """The search table in memory, at botocore's `before-send` event: BatchGetItem finds what was written, PutItem
    applies the consumers' conditions (`attribute_not_exists(trip_id)`, `revision = :read`) and charges each
    accepted write to every index of `layouts`."""

    def __init__(self, layouts: Mapping[str, tuple[ChargedIndex, ...]]) -> None:
        self.items: dict[str, dict[str, Any]] = {}  # trip id -> the item in DynamoDB JSON
        self.loads = {layout: {index: IndexLoad() for index in indexes} for layout, indexes in layouts.items()}
        self.table_wcu = 0  # the documents' own writes: ceil(larger of old and new / 1 KB) each
        self.table_rcu = 0.0  # the consumers' reads, eventually consistent: ceil(size / 4 KB) / 2 each
        self._layouts = layouts
        self._lock = threading.Lock()

    def answer(self, request: Any, **_: Any) -> AWSResponse:
        operation = request.headers["X-Amz-Target"].decode().rpartition(".")[2]
        body = json.loads(request.body)
        with self._lock:
            status, answer = getattr(self, f"_{operation}")(body)
        encoded = json.dumps(answer).encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.0"}, _Body(encoded))

    def _BatchGetItem(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        found = {}
        for table, asked in body["RequestItems"].items():
            keys = [key[schema.SEARCH_KEY]["S"] for key in asked["Keys"]]
            found[table] = [self.items[key] for key in keys if key in self.items]
            consistent = asked.get("ConsistentRead", False)
            sizes = [_entry_size(deserialize_item(item)) for item in found[table]]
            self.table_rcu += sum(math.ceil(size / 4096) * (1 if consistent else 0.5) for size in sizes)
        return 200, {"Responses": found, "UnprocessedKeys": {}}

    def _PutItem(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        item = body["Item"]
        trip_id = item[schema.SEARCH_KEY]["S"]
        stored = self.items.get(trip_id)
        read = body.get("ExpressionAttributeValues", {}).get(":read", {}).get("N")
        if (stored is not None) if read is None else (stored is None or stored["revision"]["N"] != read):
            error = {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", "message": "no"}
            return 400, {**error, **({"Item": stored} if stored else {})}
        old, new = (None if stored is None else deserialize_item(stored)), deserialize_item(item)
        self.table_wcu += math.ceil(max(_entry_size(new), 0 if old is None else _entry_size(old)) / 1024)
        for layout, indexes in self._layouts.items():
            for index in indexes:
                charge(index, self.loads[layout][index], old, new)
        self.items[trip_id] = item
        return 200, {}


@dataclass(frozen=True)
class LayoutFigure:
    layout: str
    index: ChargedIndex
    writes_per_change: float
    hottest_key: str
    hottest_share: float  # of the index's WCU
    hottest_wcu_per_s: float  # at CHANGES_PER_SECOND


@dataclass(frozen=True)
class PageFigure:
    search: str
    pages: int
    queries_per_page: float
    max_queries: int
    rcu_per_page: float
    today_rcu_per_page: float  # the same pages read as today's one Query of whole documents would read them


@dataclass(frozen=True)
class SearchLoad:
    trips: int
    changes: int
    layouts: list[LayoutFigure]
    pages: list[PageFigure]
    table_wcu_per_change: float  # TripSearchTable's own writes (both consumers)
    table_rcu_per_change: float  # the consumers' reads of it
    page_cpu_s: float  # one page's CPU in the search function, DynamoDB answering at once

    def writes_per_change(self, layout: str) -> float:
        return sum(figure.writes_per_change for figure in self.layouts if figure.layout == layout)


CITIES = ["Tokyo", "Osaka", "Kyoto", "Sapporo", "Fukuoka", "Naha", "Paris", "London", "Seoul", "Bangkok"]
CITIES += ["Singapore", "Sydney", "Barcelona", "Rome", "Istanbul", "Vienna", "Lisbon", "Taipei", "Honolulu"]
WORDS = ["Park", "Plaza", "Royal", "Central", "Garden", "Bay", "Palace", "Station", "River", "Sky", "Ocean"]
KINDS = ["Hotel", "Inn", "Resort", "Suites", "Lodge"]
JAPANESE = ["東京", "大阪", "京都", "札幌", "博多", "那覇", "新宿", "銀座"]


# (share of trips, name): about half begin with an `h` once folded, as the issue measured.
NAME_PATTERNS = (
    (0.30, "Hotel {word} {city}"),
    (0.04, "H\u00f4tel {word} {city}"),
    (0.10, "The {word} {kind} {city}"),
    (0.08, "Grand {word} {city}"),
    (0.06, "ホテル{japanese}{word}"),
    (0.08, "Hilton {city} {word}"),
    (0.34, "{city} {word} {kind}"),
)


def hotel_name(rng: random.Random) -> str:
    """A hotel name as travellers book them (`NAME_PATTERNS`)."""
    parts = {"city": rng.choice(CITIES), "word": rng.choice(WORDS), "kind": rng.choice(KINDS)}
    (pattern,) = rng.choices([name for _, name in NAME_PATTERNS], weights=[share for share, _ in NAME_PATTERNS])
    return pattern.format(**parts, japanese=rng.choice(JAPANESE))


def booking_details(rng: random.Random) -> TripDetails:
    """One trip: departure over the next year, 70 % within two months; 85 % paid, the rest compensated."""
    days = rng.expovariate(1 / 20) if rng.random() < 0.7 else rng.uniform(0, 365)
    departure = f.T0 + timedelta(days=min(days, 365), hours=rng.randrange(6, 22), minutes=rng.choice([0, 15, 30, 45]))
    departs = departure.strftime("%Y-%m-%dT%H:%M:%S")
    arrives = (departure + timedelta(hours=rng.randrange(1, 13))).strftime("%Y-%m-%dT%H:%M:%S")
    check_in = departure.date()
    hotel = {
        "hotel_name": hotel_name(rng),
        "check_in_date": check_in.isoformat(),
        "check_out_date": (check_in + timedelta(days=rng.randrange(1, 8))).isoformat(),
    }
    flight = {"flight_number": f"NH{rng.randrange(1, 999):03d}", "departure_time": departs, "arrival_time": arrives}
    return TripDetails(flight, hotel, payment_rejected=rng.random() < 0.15)


@contextmanager
def _answered_by(answer: Callable[..., AWSResponse]) -> Iterator[None]:
    """The default session's DynamoDB calls answered by `answer`, at botocore's `before-send` event."""
    boto3.setup_default_session(region_name=f.REGION, aws_access_key_id="bench", aws_secret_access_key="bench")
    session = boto3.DEFAULT_SESSION
    assert session is not None
    session.events.register("before-send.dynamodb", answer)
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = None


@contextmanager
def _consumers_on(stand_in: SearchTableStandIn) -> Iterator[None]:
    environment = {"SEARCH_TABLE_NAME": SEARCH_TABLE, "DLQ_URL": "https://sqs.us-east-1.amazonaws.com/1/dlq"}
    consumer.clear_caches()
    try:
        with _answered_by(stand_in.answer), patch.dict(os.environ, environment):
            yield
    finally:
        consumer.clear_caches()


def project(changes: list[f.Change]) -> SearchTableStandIn:
    """Both pipelines' consumers, batch by batch: each change through DynamoDB Streams, then its Kinesis copy."""
    stand_in = SearchTableStandIn({"today": LEGACY_INDEXES, "sharded": SHARDED_INDEXES})
    with _consumers_on(stand_in), redirect_stdout(io.StringIO()):  # Powertools prints EMF every 100 values
        for start in range(0, len(changes), BATCH):
            batch = changes[start : start + BATCH]
            pipelines: tuple[tuple[Handler, Callable[[f.Change], dict[str, Any]]], ...] = (
                (stream_consumer.lambda_handler, f.stream_record),
                (kinesis_consumer.lambda_handler, f.kinesis_record),
            )
            for handler, record in pipelines:
                response = handler(f.event(*(record(change) for change in batch)), f.LambdaContext())
                assert response == {"batchItemFailures": []}, response
    return stand_in


SEARCHES: tuple[tuple[str, dict[str, str]], ...] = (
    ("status, no range", {"status": "CONFIRMED"}),
    ("status, one day", {"status": "CONFIRMED", "from": "2026-03-10", "to": "2026-03-10"}),
    ("status, a month", {"status": "CONFIRMED", "from": "2026-03-01", "to": "2026-03-31"}),
    ("hotel_name=hotel", {"hotel_name": "hotel"}),
    ("hotel_name=grand p", {"hotel_name": "grand p"}),
)


def query_rcu(items: Sequence[Mapping[str, Any]]) -> float:
    """What DynamoDB charges a Query of an index (eventually consistent) that returned `items`."""
    return max(0.5, math.ceil(sum(_entry_size(item) for item in items) / 4096) / 2)


def page_costs(items: Mapping[str, dict[str, Any]], pages: int, limit: int = 50) -> list[PageFigure]:
    """The real search handler on moto holding the workload's documents: `pages` pages of each search."""
    calls: list[int] = []
    rcu: list[float] = []

    def counted(parsed: dict[str, Any], **_: Any) -> None:
        calls.append(1)
        rcu.append(query_rcu(parsed.get("Items", [])))

    figures = []
    with mock_aws(), patch.dict(os.environ, {"SEARCH_TABLE_NAME": SEARCH_TABLE}):
        search_trips.clear_caches()
        table = create_search_table(boto3.resource("dynamodb", region_name=f.REGION), SEARCH_TABLE)
        with table.batch_writer() as writer:
            for item in items.values():
                writer.put_item(Item=deserialize_item(item))
        client = search_trips._reader()._client
        client.meta.events.register("after-call.dynamodb.Query", lambda parsed, **kw: counted(parsed))
        handler: Handler = search_trips.lambda_handler
        for name, search in SEARCHES:
            per_page: list[tuple[int, float, float]] = []
            token = None
            for _ in range(pages):
                calls.clear()
                rcu.clear()
                query = {**search, "limit": str(limit), **({"next_token": token} if token else {})}
                event = _api_event(query)
                response = handler(event, f.LambdaContext())
                assert response["statusCode"] == 200, response["body"]
                body = json.loads(response["body"])
                whole = [_all_of_today(deserialize_item(items[trip["trip_id"]])) for trip in body["trips"]]
                per_page.append((len(calls), sum(rcu), query_rcu(whole)))
                token = body.get("next_token")
                if token is None:
                    break
            figures.append(
                PageFigure(
                    name,
                    len(per_page),
                    sum(q for q, _, _ in per_page) / len(per_page),
                    max(q for q, _, _ in per_page),
                    sum(r for _, r, _ in per_page) / len(per_page),
                    sum(r for _, _, r in per_page) / len(per_page),
                )
            )
        search_trips.clear_caches()
    return figures


def page_cpu(items: Mapping[str, dict[str, Any]], rounds: int = 20, limit: int = 50) -> float:
    """CPU seconds of one search page in the search function, its 64 Query answers given at once: each shard
    answers with its even share of the page (`ceil((limit + 1) / shards)` of the workload's documents, as round 1
    reads them) and nothing more, so the page is settled in one round. The median of `rounds` pages."""
    shards = schema.SEARCH_SHARDS
    kept = {schema.SEARCH_KEY, *INDEX_PROJECTION, schema.FLIGHT_STATUS_INDEX.partition, schema.FLIGHT_STATUS_INDEX.sort}
    entries = [{name: value for name, value in item.items() if name in kept} for item in items.values()]
    documents = [entry for entry in entries if schema.FLIGHT_STATUS_INDEX.sort in entry][
        : math.ceil((limit + 1) / shards) + 2
    ]
    answer = json.dumps({"Items": documents, "Count": len(documents), "ScannedCount": len(documents)}).encode()

    def answered(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, _Body(answer))

    with _answered_by(answered), patch.dict(os.environ, {"SEARCH_TABLE_NAME": SEARCH_TABLE}):
        search_trips.clear_caches()
        handler: Handler = search_trips.lambda_handler
        event = _api_event({"status": "CONFIRMED", "limit": str(limit)})
        handler(event, f.LambdaContext())  # the first page builds the client and its pool: outside the figure
        spent = []
        for _ in range(rounds):
            cpu = time.process_time()
            response = handler(event, f.LambdaContext())
            spent.append(time.process_time() - cpu)
            assert response["statusCode"] == 200, response["body"]
        search_trips.clear_caches()
    return statistics.median(spent)


def _api_event(query: dict[str, str]) -> dict[str, Any]:
    """The hands-on's direct invocation: queryStringParameters only (search_trips turns it into a GET)."""
    return {"queryStringParameters": query}


def measure(trips: int = 3_000, pages: int = 5, seed: int = 19) -> SearchLoad:
    changes = saga_workload(trips, seed=seed, details=booking_details)
    stand_in = project(changes)
    figures = []
    for layout, loads in stand_in.loads.items():
        for index, load in loads.items():
            partition, hottest = load.hottest()
            total = sum(load.wcu.values())
            figures.append(
                LayoutFigure(
                    layout,
                    index,
                    load.writes / len(changes),
                    partition,
                    hottest / total if total else 0.0,
                    hottest / len(changes) * CHANGES_PER_SECOND,
                )
            )
    pages_cost = page_costs(stand_in.items, pages)
    per_change = len(changes)
    return SearchLoad(
        trips,
        per_change,
        figures,
        pages_cost,
        stand_in.table_wcu / per_change,
        stand_in.table_rcu / per_change,
        page_cpu(stand_in.items),
    )
