"""A run's writes. The rebuild's: whole documents, 25 per BatchWriteItem, overlapping; what DynamoDB leaves
unprocessed is sent again; a dry run sends nothing. DynamoDB is answered at botocore's `before-send`, so the requests
are the ones the real client puts on the wire. Both writers: a document the table refuses is listed by trip and the
others are written."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from urllib3.response import HTTPResponse

from replay import writers
from replay.errors import ReplayError
from replay.writers import REBUILD_WRITE_CONFIG, LiveWriter, RebuildWriter
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.changes import TripChange, decode_stream_record
from services.trip.projection import Outcome
from tests import factories as f
from tests.conftest import REGION, create_search_table

pytestmark = pytest.mark.dynamodb_conformance  # each test on moto and on DynamoDB Local

TARGET = "TripSearchRebuild"


class AnsweredBatchWrites:
    """DynamoDB's BatchWriteItem: records each request's trip ids; the first `throttled` requests come back with
    their last put unprocessed, as DynamoDB answers when the table lacks capacity."""

    def __init__(self, client: Any, throttled: int = 0) -> None:
        self.requests: list[list[str]] = []
        self.throttled = throttled
        client.meta.events.register("before-send.dynamodb", self._answer)

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        puts = json.loads(request.body)["RequestItems"][TARGET]
        self.requests.append([put["PutRequest"]["Item"]["trip_id"]["S"] for put in puts])
        unprocessed = {TARGET: puts[-1:]} if len(self.requests) <= self.throttled else {}
        body = io.BytesIO(json.dumps({"UnprocessedItems": unprocessed}).encode())
        raw = HTTPResponse(body=body, status=200, preload_content=False)
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0"}, raw)


def writer(client: Any, *, dry_run: bool = False) -> RebuildWriter:
    documents = SearchDocuments(TARGET, boto3.resource("dynamodb", region_name=REGION))
    return RebuildWriter(documents, client, 3600, target_may_hold_documents=False, dry_run=dry_run)


def bookings(trips: int) -> list[TripChange]:
    changes = [decode_stream_record(f.stream_record(f.insert(f.flight(f"trip-{n:03d}")))) for n in range(trips)]
    return [change for change in changes if change is not None]


@pytest.fixture
def client() -> Any:
    return boto3.client("dynamodb", region_name=REGION, config=REBUILD_WRITE_CONFIG)


def test_documents_are_written_25_a_request_each_once(client: Any) -> None:
    dynamodb = AnsweredBatchWrites(client)
    rebuild = writer(client)
    rebuild.project(bookings(60))

    rebuild.flush()

    assert sorted(len(request) for request in dynamodb.requests) == [10, 25, 25]
    assert sorted(trip for request in dynamodb.requests for trip in request) == [f"trip-{n:03d}" for n in range(60)]
    assert rebuild.documents_written == 60


def test_unprocessed_documents_are_sent_again(client: Any) -> None:
    dynamodb = AnsweredBatchWrites(client, throttled=2)
    rebuild = writer(client)
    rebuild.project(bookings(3))

    rebuild.flush()

    assert dynamodb.requests == [["trip-000", "trip-001", "trip-002"], ["trip-002"], ["trip-002"]]
    assert rebuild.documents_written == 3


def test_documents_still_unprocessed_after_the_retries_fail_the_flush(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb = AnsweredBatchWrites(client, throttled=100)
    monkeypatch.setattr(writers.time, "sleep", lambda seconds: None)
    rebuild = writer(client)
    rebuild.project(bookings(2))

    with pytest.raises(ReplayError) as raised:
        rebuild.flush()

    assert str(raised.value) == (
        f"writing rebuilt documents into {TARGET}: 1 still unprocessed after 10 retries "
        "(the table is throttled: run the same command again later)"
    )
    assert len(dynamodb.requests) == 11
    assert rebuild.documents_written == 0


def test_a_dry_run_folds_and_writes_nothing(client: Any) -> None:
    dynamodb = AnsweredBatchWrites(client)
    rebuild = writer(client, dry_run=True)
    rebuild.project(bookings(30))

    rebuild.flush()

    assert dynamodb.requests == []
    assert rebuild.documents_written == 30


def refused_by_the_table() -> list[TripChange]:
    """Two trips' flights and a hotel whose document DynamoDB refuses (an item over 400 KB). The decoder parks a
    booking that large (changes.BOOKING_DOCUMENT_BYTES), so it is made past the decoder: a writer must still not lose
    the other documents to one the table refuses for any reason."""
    hotel = decode_stream_record(f.stream_record(f.insert(f.hotel("trip-big"))))
    assert hotel is not None and hotel.new_image is not None
    return [*bookings(2), hotel._replace(new_image={**hotel.new_image, "hotel_name": "H" * 410_000})]


def test_a_document_the_table_refuses_is_listed_and_the_others_are_written(aws: None) -> None:
    # BatchWriteItem refuses a whole request for one bad item: the writer puts that request's items one by one.
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    create_search_table(dynamodb, TARGET)
    client = boto3.client("dynamodb", region_name=REGION, config=REBUILD_WRITE_CONFIG)
    rebuild = writer(client)

    rebuild.project(refused_by_the_table())
    rebuild.flush()

    stored = sorted(item["trip_id"] for item in dynamodb.Table(TARGET).scan()["Items"])
    assert stored == ["trip-000", "trip-001"]
    assert list(rebuild.refused) == ["trip-big"]
    assert rebuild.refused["trip-big"].startswith("ValidationException: ")
    assert rebuild.documents_written == 2


def test_a_live_replay_lists_a_refused_document_and_goes_on_with_the_others(aws: None) -> None:
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    create_search_table(dynamodb, TARGET)
    live = LiveWriter(SearchDocuments(TARGET, dynamodb), 3600, dry_run=False)
    changes = refused_by_the_table()

    outcomes = [live.project(changes), live.project(changes)]  # the second run reads the same records

    assert outcomes == [
        [Outcome.APPLIED, Outcome.APPLIED, Outcome.REJECTED],
        [Outcome.STALE, Outcome.STALE, Outcome.REJECTED],  # a second run gets past it too
    ]
    stored = sorted(item["trip_id"] for item in dynamodb.Table(TARGET).scan()["Items"])
    assert stored == ["trip-000", "trip-001"]
    assert list(live.refused) == ["trip-big"]
    assert live.refused["trip-big"].startswith("the search document cannot be written: ")
    assert live.documents_written == 2
