"""The two ways a run writes what it read, both through the projection the consumers use.

- `LiveWriter`: into the live search table, page by page, through the consumers' `Projector`: version-gated,
  conditional writes, so it is safe while the consumers run.
- `RebuildWriter`: into a table of its own: folds each trip's history in memory and writes whole documents with
  `BatchWriteItem` (25 per request, the requests overlapping) when the run checkpoints, instead of one request
  per change.

With `dry_run`, both read and fold exactly as they would, and write nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from replay.errors import ReplayError, aws_errors, error_code
from services.trip.adapters.search_documents import SearchDocuments, TransientStoreError
from services.trip.changes import TripChange
from services.trip.findings import FoldReport, fold_reports
from services.trip.projection import Outcome, SearchDocument, fold, to_item
from services.trip.projector import ProjectionFailure, Projector, project_into

_LIVE_RETRIES = 4
# The rebuild's writes: whole documents made by `to_item` and serialized by boto3's TypeSerializer, which DynamoDB
# validates itself. Botocore's client-side validation of 25 documents a request, and a resource's copy and
# transform of them, took more than half of the rebuild's write CPU (cProfile, `make bench`).
REBUILD_WRITE_CONFIG = Config(parameter_validation=False)
_serializer = TypeSerializer()
BATCH_WRITE_LIMIT = 25  # put requests per BatchWriteItem (AWS DynamoDB API reference)
# UnprocessedItems are what DynamoDB could not write for lack of capacity: back off (0.05 s doubling, at most 2 s)
_UNPROCESSED_RETRIES = 10
_UNPROCESSED_BACKOFF_SECONDS = 0.05
_UNPROCESSED_BACKOFF_CAP_SECONDS = 2.0


def _by_trip(changes: Iterable[TripChange]) -> dict[str, list[TripChange]]:
    grouped: dict[str, list[TripChange]] = {}
    for change in changes:
        grouped.setdefault(change.trip_id, []).append(change)
    return grouped


def _load(documents: SearchDocuments, trip_ids: Iterable[str]) -> dict[str, SearchDocument]:
    try:
        return documents.load_many(trip_ids)
    except TransientStoreError as error:
        raise ReplayError(f"reading documents from {documents.table_name}: {error}") from error


class LiveWriter:
    """Projects each page as it is read. A change the projection cannot land for good is not retried: it is listed
    in `not_projected` with its reason (a writer-contract violation, which the consumers parked, or a document the
    table refuses, also listed in `refused` by trip), its outcome is REJECTED, and the run goes on with the other
    trips. What stays retryable after `_LIVE_RETRIES` raises `ReplayError`, before the checkpoint moves past it."""

    def __init__(
        self,
        documents: SearchDocuments,
        tombstone_ttl_seconds: int,
        dry_run: bool,
        shadow: SearchDocuments | None = None,
    ) -> None:
        """`shadow`: the table a cutover keeps current beside `documents` (services.trip.search_tables), written
        the same way; a change is done when it is done in both, as in the consumers."""
        self.documents = documents
        self.projectors = [Projector(table, tombstone_ttl_seconds) for table in (documents, shadow) if table]
        self.dry_run = dry_run
        self.documents_written = 0
        self.not_projected: list[tuple[TripChange, str]] = []  # (change, reason), in the order met
        self.refused: dict[str, str] = {}  # trip_id -> DynamoDB's reason: documents the table would not hold
        self.findings: list[FoldReport] = []  # what the fold reported, as the consumers report it

    def project(self, changes: Sequence[TripChange]) -> list[Outcome]:
        if self.dry_run:
            return self._plan(changes)
        outcomes: dict[int, Outcome] = {}
        pending = list(range(len(changes)))
        for attempt in range(_LIVE_RETRIES + 1):
            batch = project_into(self.projectors, [changes[i] for i in pending])
            self.documents_written += batch.writes
            projected = [(changes[i], result) for i, result in zip(pending, batch.results, strict=True)]
            self.findings.extend(fold_reports(projected, batch.findings))
            failures: list[tuple[int, str]] = []
            for index, result in zip(pending, batch.results, strict=True):
                if not isinstance(result, ProjectionFailure):
                    outcomes[index] = result
                elif result.retryable:
                    failures.append((index, result.reason))
                else:
                    outcomes[index] = Outcome.REJECTED
                    self.not_projected.append((changes[index], result.reason))
                    if not result.contract_violation:
                        self.refused.setdefault(changes[index].trip_id, result.reason)
            if not failures:
                return [outcomes[i] for i in range(len(changes))]
            if attempt == _LIVE_RETRIES:
                break
            pending = [index for index, _ in failures]
            time.sleep(0.2 * 2**attempt)
        raise ReplayError(self._describe([(changes[index], reason) for index, reason in failures]))

    def unprojected(self) -> str | None:
        """`not_projected` as one line (`2 change(s) could not be projected into T, first: trip …: reason`), or
        None when every change landed or was found stale."""
        return self._describe(self.not_projected) if self.not_projected else None

    def _describe(self, failures: Sequence[tuple[TripChange, str]]) -> str:
        first, reason = failures[0]
        return (
            f"{len(failures)} change(s) could not be projected into {self.documents.table_name}, first: trip "
            f"{first.trip_id} {first.entity} v{first.version}: {reason}"
        )

    def _plan(self, changes: Sequence[TripChange]) -> list[Outcome]:
        grouped = _by_trip(changes)
        stored = _load(self.documents, grouped)
        planned: dict[int, Outcome] = {}
        for trip_id, trip_changes in grouped.items():
            folded = fold(stored.get(trip_id, SearchDocument(trip_id)), trip_changes)
            # what `project` would refuse (a writer-contract violation), the plan lists too
            self.not_projected.extend((trip_changes[index], reason) for index, reason in folded.reasons.items())
            self.documents_written += folded.changed
            self.findings.extend(fold_reports(folded.outcomes, folded.findings))
            planned.update((id(change), outcome) for change, outcome in folded.outcomes)
        return [planned[id(change)] for change in changes]

    def flush(self) -> None:
        """Every page is written as it is projected: nothing is held back."""


class RebuildWriter:
    """`documents` reads what the target may already hold; `writes` is a DynamoDB client made with
    `REBUILD_WRITE_CONFIG`, whose connection pool sets how many BatchWriteItem requests are in flight."""

    def __init__(
        self,
        documents: SearchDocuments,
        writes: Any,
        tombstone_ttl_seconds: int,
        *,
        target_may_hold_documents: bool,
        dry_run: bool,
        max_cached: int = 200_000,
    ) -> None:
        self.documents = documents
        self.client = writes  # thread-safe
        self.tombstone_ttl_seconds = tombstone_ttl_seconds
        # A table created by this run holds nothing we did not write; one that existed (or a resumed run) may.
        self.target_may_hold_documents = target_may_hold_documents
        self.dry_run = dry_run
        self.max_cached = max_cached
        self.cached: dict[str, SearchDocument] = {}
        self.dirty: set[str] = set()
        self.documents_written = 0
        self.refused: dict[str, str] = {}  # trip_id -> DynamoDB's reason: documents the table would not hold
        self.findings: list[FoldReport] = []  # what the fold reported, as the consumers report it
        # as many requests in flight as the client's connection pool holds
        self._threads = ThreadPoolExecutor(self.client.meta.config.max_pool_connections, thread_name_prefix="rebuild")

    def project(self, changes: Sequence[TripChange]) -> list[Outcome]:
        grouped = _by_trip(changes)
        unknown = [trip_id for trip_id in grouped if trip_id not in self.cached]
        if unknown and self.target_may_hold_documents:
            self.cached.update(_load(self.documents, unknown))
        outcomes: dict[int, Outcome] = {}
        for trip_id, trip_changes in grouped.items():
            folded = fold(self.cached.get(trip_id, SearchDocument(trip_id)), trip_changes)
            self.cached[trip_id] = folded.document
            self.findings.extend(fold_reports(folded.outcomes, folded.findings))
            if folded.changed:
                self.dirty.add(trip_id)
            outcomes.update((id(change), outcome) for change, outcome in folded.outcomes)
        return [outcomes[id(change)] for change in changes]

    def flush(self) -> None:
        """Write every document changed since the last flush, whole, 25 per BatchWriteItem, the requests
        overlapping (at most the write client's pool in flight). Returns once every write has landed, so
        a checkpoint saved after it covers them; raises `ReplayError` if any could not be written."""
        refused = 0
        if not self.dry_run and self.dirty:
            items = []
            for trip_id in sorted(self.dirty):
                document = self.cached[trip_id]
                document.revision += 1
                items.append(to_item(document, self.tombstone_ttl_seconds, self.documents.layout))
            requests = [items[start : start + BATCH_WRITE_LIMIT] for start in range(0, len(items), BATCH_WRITE_LIMIT)]
            writes = [self._threads.submit(self._write, request) for request in requests]
            wait(writes)  # all of them, even after a failure: none is still writing when the error is raised
            with aws_errors(f"writing rebuilt documents into {self.documents.table_name}"):
                refused = sum(write.result() for write in writes)
        self.documents_written += len(self.dirty) - refused
        self.dirty.clear()
        if len(self.cached) > self.max_cached:  # bound memory: what was flushed can be read back from the table
            self.cached.clear()
            self.target_may_hold_documents = True

    def _write(self, items: list[dict[str, Any]]) -> int:
        """One BatchWriteItem, then its UnprocessedItems again with backoff until none is left. Returns how many
        documents the table refused."""
        table_name = self.documents.table_name
        puts = [
            {"PutRequest": {"Item": {name: _serializer.serialize(value) for name, value in item.items()}}}
            for item in items
        ]
        request: dict[str, Any] = {table_name: puts}
        for retry in range(_UNPROCESSED_RETRIES + 1):
            if retry:
                time.sleep(min(_UNPROCESSED_BACKOFF_SECONDS * 2 ** (retry - 1), _UNPROCESSED_BACKOFF_CAP_SECONDS))
            try:
                request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            except ClientError as error:
                if error_code(error) != "ValidationException":
                    raise
                # One document DynamoDB refuses fails the whole request: write them one by one to find it.
                return self._write_each([put["PutRequest"]["Item"] for put in request[table_name]])
            if not request:
                return 0
        raise ReplayError(
            f"writing rebuilt documents into {table_name}: {len(request[table_name])} still unprocessed after "
            f"{_UNPROCESSED_RETRIES} retries (the table is throttled: run the same command again later)"
        )

    def _write_each(self, items: list[dict[str, Any]]) -> int:
        """PutItem per document; those DynamoDB refuses (ValidationException) are listed in `refused` and counted."""
        refused = 0
        for item in items:
            try:
                self.client.put_item(TableName=self.documents.table_name, Item=item)
            except ClientError as error:
                if error_code(error) != "ValidationException":
                    raise
                message = error.response.get("Error", {}).get("Message", str(error))
                self.refused[str(item["trip_id"]["S"])] = f"ValidationException: {message}"
                refused += 1
        return refused
