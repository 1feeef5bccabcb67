"""TripSearchTable adapter: read documents in batches, write one with optimistic concurrency.

AWS errors are translated into the project's own: `DocumentConflict` (someone wrote the document since we read
it), `TransientStoreError` (retry later), `PermanentStoreError` (no retry will help).

Safe to call from several threads at once: it calls the resource's client (boto3 clients are thread-safe,
resources are not; this client still converts Python values to DynamoDB's and back), whose connection pool
bounds how many requests are in flight (`concurrent_requests`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.trip.dynamodb_values import deserialize_item, exact_numbers
from services.trip.projection import REVISION, SearchDocument, from_item, to_item, unindexed
from services.trip.schema import PARTITION_KEY_BYTES, SEARCH_KEY, Layout, key_bytes

_log = logging.getLogger(__name__)
BATCH_GET_LIMIT = 100  # keys per BatchGetItem (AWS DynamoDB API reference)
# Requests in flight at once: a batch of 100 records touches up to 100 trips, each written once.
CONCURRENT_REQUESTS = 50
_UNPROCESSED_RETRIES = 5
# DynamoDB rejects these because of what we sent: retrying cannot help.
_PERMANENT_ERRORS = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})
# Botocore's client-side validation of every request re-checks what `to_item` built and DynamoDB validates itself:
# about a quarter of a consumer's CPU per record (`make bench`, "Consumer throughput"), as it was of the rebuild's
# writes (replay.writers.REBUILD_WRITE_CONFIG).
_DEFAULT_CONFIG = Config(max_pool_connections=CONCURRENT_REQUESTS, parameter_validation=False)


class TransientStoreError(RuntimeError):
    """The store could not be reached or throttled us; the same request may succeed later."""


class PermanentStoreError(RuntimeError):
    """The store rejected the request itself (too large, invalid): no retry will help."""


class DocumentConflict(RuntimeError):
    """The document changed since it was read; `current` is what the table holds now."""

    def __init__(self, current: SearchDocument) -> None:
        super().__init__(f"trip {current.trip_id} was written concurrently (now revision {current.revision})")
        self.current = current


def translate_error(error: ClientError | BotoCoreError) -> RuntimeError:
    """The project's error for an AWS one: `PermanentStoreError` for what we sent, else `TransientStoreError`."""
    code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
    if code in _PERMANENT_ERRORS:
        return PermanentStoreError(f"{code}: {error}")
    return TransientStoreError(str(error))


def scan_page(
    client: Any, table_name: str, segment: int, segments: int, start_key: dict[str, Any] | None, limit: int
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page (at most `limit` items, eventually consistent) of parallel-scan segment `segment` of `segments` from
    `start_key` (None: the segment's start), and the key the next page starts from (None: the segment's end).
    DynamoDB assigns segments by partition key ("Parallel scan", Amazon DynamoDB Developer Guide), so the items of
    one partition key fall in one segment, one after the other."""
    request: dict[str, Any] = {"TableName": table_name, "Segment": segment, "TotalSegments": segments, "Limit": limit}
    if start_key is not None:
        request["ExclusiveStartKey"] = start_key
    try:
        response = client.scan(**request)
    except (ClientError, BotoCoreError) as error:
        raise translate_error(error) from error
    return list(response.get("Items", [])), response.get("LastEvaluatedKey")


class SearchDocuments:
    """The documents of one search table (the live one, or a rebuild target), written with the index keys of its
    layout (`schema.Layout`)."""

    def __init__(
        self,
        table_name: str,
        dynamodb: Any | None = None,
        *,
        consistent_reads: bool = True,
        layout: Layout = Layout.SHARDED,
    ) -> None:
        """`dynamodb`: a boto3 DynamoDB resource (default: one whose pool holds `CONCURRENT_REQUESTS`), made to read
        numbers exactly (`dynamodb_values.exact_numbers`: `1E+40` as DynamoDB returns it).

        `consistent_reads=False`: `load_many` reads eventually consistent, at half the read units (Amazon DynamoDB
        Developer Guide, "Read consistency"). Safe wherever the document read is only the base of a `save`: its
        condition on the revision read refuses a write over a newer document, and `DocumentConflict` hands the
        newer one back to be folded again (projector.Projector._project_trip)."""
        self.table_name = table_name
        self.layout = layout
        self._consistent_reads = consistent_reads
        resource = exact_numbers(dynamodb or boto3.resource("dynamodb", config=_DEFAULT_CONFIG))
        self._client = resource.meta.client

    @property
    def concurrent_requests(self) -> int:
        """How many requests may be in flight at once: the client's connection pool."""
        pool: int = self._client.meta.config.max_pool_connections
        return pool

    def load_many(self, trip_ids: Iterable[str]) -> dict[str, SearchDocument]:
        """The stored documents of these trips (strongly consistent unless built with `consistent_reads=False`);
        absent trips are missing from the result."""
        return self._load(trip_ids, self._consistent_reads)

    def _load(self, trip_ids: Iterable[str], consistent: bool) -> dict[str, SearchDocument]:
        return {
            trip_id: from_item(item) for trip_id, item in self.stored_items(trip_ids, consistent=consistent).items()
        }

    def stored_items(self, trip_ids: Iterable[str], *, consistent: bool) -> dict[str, dict[str, Any]]:
        """The stored items of these trips themselves (Python values), not the documents they hold: what the drift
        audit compares, index keys included. Absent trips are missing from the result, and so are ids no key can hold
        (empty, or over DynamoDB's 2,048 bytes: a TripTable item of `PK = "TRIP#"`), which no document has."""
        ids = sorted(trip_id for trip_id in set(trip_ids) if 1 <= key_bytes(trip_id) <= PARTITION_KEY_BYTES)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            keys = [{SEARCH_KEY: trip_id} for trip_id in ids[start : start + BATCH_GET_LIMIT]]
            found.update((str(item[SEARCH_KEY]), item) for item in self._batch_get(keys, consistent))
        return found

    def scan_items(
        self, segment: int, segments: int, start_key: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of the table's parallel-scan segment (`scan_page`), items as Python values."""
        return scan_page(self._client, self.table_name, segment, segments, start_key, limit)

    def _batch_get(self, keys: list[dict[str, str]], consistent: bool) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": consistent}}
        for attempt in range(_UNPROCESSED_RETRIES + 1):
            try:
                response = self._client.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as error:
                raise translate_error(error) from error
            items.extend(response.get("Responses", {}).get(self.table_name, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return items
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise TransientStoreError(f"{self.table_name}: keys still unprocessed after {_UNPROCESSED_RETRIES} retries")

    def save(self, document: SearchDocument, tombstone_ttl_seconds: int) -> SearchDocument:
        """Write the document if nobody wrote it since it was read; returns it with its new revision."""
        written = SearchDocument(document.trip_id, document.fields, document.revisions, document.revision + 1)
        condition: dict[str, Any] = (
            {  # none stored, or one without its write counter (edited by hand): from_item reads it as revision 0
                "ConditionExpression": "attribute_not_exists(#key) OR attribute_not_exists(#revision)",
                "ExpressionAttributeNames": {"#key": SEARCH_KEY, "#revision": REVISION},
            }
            if document.revision == 0
            else {
                "ConditionExpression": "#revision = :read",
                "ExpressionAttributeNames": {"#revision": REVISION},
                "ExpressionAttributeValues": {":read": document.revision},
            }
        )
        item = to_item(written, tombstone_ttl_seconds, self.layout)
        for index_name in unindexed(item, self.layout):
            _log.warning(
                "trip %s: no %s key DynamoDB can hold (too long, or a name of accents only): the document is written "
                "but not findable by that index",
                document.trip_id,
                index_name,
            )
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=item,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **condition,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise DocumentConflict(self._current(error, document.trip_id)) from error
            raise translate_error(error) from error
        except BotoCoreError as error:
            raise translate_error(error) from error
        return written

    def delete_unless_written(self, trip_id: str, revision: int) -> bool:
        """Delete a document no booking of TripTable is left for and none can be read from (the drift audit's repair
        of one edited past reading), unless it was written since it was read at `revision` (0: it had none). False
        when it was: nothing deleted."""
        condition = "attribute_not_exists(#revision)" if revision == 0 else "#revision = :read"
        values = {} if revision == 0 else {"ExpressionAttributeValues": {":read": revision}}
        try:
            self._client.delete_item(
                TableName=self.table_name,
                Key={SEARCH_KEY: trip_id},
                ConditionExpression=condition,
                ExpressionAttributeNames={"#revision": REVISION},
                **values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise translate_error(error) from error
        except BotoCoreError as error:
            raise translate_error(error) from error
        return True

    def _current(self, error: ClientError, trip_id: str) -> SearchDocument:
        item = error.response.get("Item")
        if item is None:  # endpoints that ignore ReturnValuesOnConditionCheckFailure: read it instead, consistently,
            # or a stale copy would conflict again
            return self._load([trip_id], consistent=True).get(trip_id, SearchDocument(trip_id))
        # The failure response carries the item in DynamoDB JSON even through the resource's client.
        return from_item(deserialize_item(item))
