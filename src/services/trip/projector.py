"""Project a batch of trip changes into a search table: one read per batch, at most one write per trip.

The changes of a batch are grouped by trip and folded onto the stored documents (`projection.fold`); each trip
whose document changed is written once, conditioned on the revision that was read. When another writer got
there first (the other pipeline, a replay), the fold is redone on the document it wrote.

The round trips of a batch overlap: its reads (one BatchGetItem per 100 trips) run at once, then each trip is
folded and written on its own thread, at most `SearchDocuments.concurrent_requests` in flight. A trip's changes
stay on one thread, so the guarantees are those of one trip at a time: the version gate at write time, the re-fold
on a conflict, and a failure that concerns only that trip's records.

During a cutover the same changes go into two tables (`project_into`): each has its own documents and revisions, so
each is folded and gated on its own, and a change is done only when it is done in both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from services.trip.adapters.search_documents import (
    BATCH_GET_LIMIT,
    DocumentConflict,
    PermanentStoreError,
    SearchDocuments,
    TransientStoreError,
)
from services.trip.changes import TripChange
from services.trip.projection import Finding, Outcome, SearchDocument, fold

MAX_CONFLICT_RETRIES = 8


@dataclass(frozen=True)
class ProjectionFailure:
    """A change that was not projected. `retryable`: the batch should deliver it again; else it is poison."""

    reason: str
    retryable: bool
    contract_violation: bool = False  # the writer broke the writer contract (docs/WRITER-CONTRACT.md)


Result = Outcome | ProjectionFailure


@dataclass(frozen=True)
class BatchProjection:
    results: tuple[Result, ...]  # one per change, in the order given
    writes: int  # documents written (each landed; a conflicting or refused write is not counted)
    conflicts: int
    findings: Mapping[int, Finding] = field(default_factory=dict)  # index of a change -> what the fold reported


class Projector:
    def __init__(self, documents: SearchDocuments, tombstone_ttl_seconds: int) -> None:
        self.documents = documents
        self.tombstone_ttl_seconds = tombstone_ttl_seconds
        self._threads = ThreadPoolExecutor(documents.concurrent_requests, thread_name_prefix="projector")

    def project(self, changes: Sequence[TripChange]) -> BatchProjection:
        by_trip: dict[str, list[int]] = {}
        for index, change in enumerate(changes):
            by_trip.setdefault(change.trip_id, []).append(index)
        results: list[Result | None] = [None] * len(changes)
        try:
            stored = self._load(by_trip)
        except TransientStoreError as error:
            failure = ProjectionFailure(f"could not read the search documents: {error}", retryable=True)
            return BatchProjection((failure,) * len(changes), writes=0, conflicts=0)

        projections = {
            trip_id: self._threads.submit(
                self._project_trip, stored.get(trip_id, SearchDocument(trip_id)), [changes[i] for i in indexes]
            )
            for trip_id, indexes in by_trip.items()
        }
        writes = conflicts = 0
        findings: dict[int, Finding] = {}
        for trip_id, indexes in by_trip.items():
            trip = projections[trip_id].result()
            writes += trip.writes
            conflicts += trip.conflicts
            findings.update((indexes[i], finding) for i, finding in trip.findings.items())
            for index, result in zip(indexes, trip.results, strict=True):
                results[index] = result
        return BatchProjection(tuple(r for r in results if r is not None), writes, conflicts, findings)

    def _load(self, trip_ids: Iterable[str]) -> dict[str, SearchDocument]:
        ids = sorted(trip_ids)
        parts = [ids[start : start + BATCH_GET_LIMIT] for start in range(0, len(ids), BATCH_GET_LIMIT)]
        stored: dict[str, SearchDocument] = {}
        for found in self._threads.map(self.documents.load_many, parts):
            stored.update(found)
        return stored

    def _project_trip(self, document: SearchDocument, changes: list[TripChange]) -> BatchProjection:
        """The projection of one trip's changes: a REJECTED change (writer contract) is a failure that retries
        cannot fix, so the consumer parks it; the trip's other changes are written as usual."""
        for conflicts in range(MAX_CONFLICT_RETRIES):
            folded = fold(document, changes)
            outcomes = tuple(
                ProjectionFailure(folded.reasons[index], retryable=False, contract_violation=True)
                if outcome is Outcome.REJECTED
                else outcome
                for index, (_, outcome) in enumerate(folded.outcomes)
            )
            try:
                if folded.changed:
                    self.documents.save(folded.document, self.tombstone_ttl_seconds)
                return BatchProjection(outcomes, int(folded.changed), conflicts, folded.findings)
            except DocumentConflict as conflict:
                document = conflict.current
            except TransientStoreError as error:
                return self._failed(changes, ProjectionFailure(str(error), retryable=True), conflicts)
            except PermanentStoreError as error:
                failure = ProjectionFailure(f"the search document cannot be written: {error}", retryable=False)
                return self._failed(changes, failure, conflicts)
        failure = ProjectionFailure(
            f"trip {document.trip_id}: still conflicting after {MAX_CONFLICT_RETRIES} attempts", retryable=True
        )
        return self._failed(changes, failure, MAX_CONFLICT_RETRIES)

    @staticmethod
    def _failed(changes: list[TripChange], failure: ProjectionFailure, conflicts: int) -> BatchProjection:
        return BatchProjection((failure,) * len(changes), writes=0, conflicts=conflicts)


def project_into(projectors: Sequence[Projector], changes: Sequence[TripChange]) -> BatchProjection:
    """The changes projected into each projector's table, as the first one (the live table) reports them, unless
    another failed them.

    A change is reported as its worst result over the tables: a retryable failure first (a retry is a no-op where
    it landed: stale or coalesced), then a permanent one, then the live table's outcome. Writes and conflicts are
    summed; what the fold found is the live table's.
    """
    projections = [projector.project(changes) for projector in projectors]
    if len(projections) == 1:
        return projections[0]
    return BatchProjection(
        tuple(min(results, key=_severity) for results in zip(*(p.results for p in projections), strict=True)),
        writes=sum(projection.writes for projection in projections),
        conflicts=sum(projection.conflicts for projection in projections),
        findings=projections[0].findings,
    )


def _severity(result: Result) -> int:
    """0 for a retryable failure, 1 for a permanent one, 2 for an outcome: `min` keeps the earliest of the worst."""
    if isinstance(result, ProjectionFailure):
        return 0 if result.retryable else 1
    return 2
