"""Project a batch of trip changes into a search table: one read per batch, at most one write per trip.

The changes of a batch are grouped by trip and folded onto the stored documents (`projection.fold`); each trip
whose document changed is written once, conditioned on the revision that was read. When another writer got
there first (the other pipeline, a replay), the fold is redone on the document it wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.trip.adapters.search_documents import (
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
    writes: int
    conflicts: int
    findings: Mapping[int, Finding] = field(default_factory=dict)  # index of a change -> what the fold reported


class Projector:
    def __init__(self, documents: SearchDocuments, tombstone_ttl_seconds: int) -> None:
        self.documents = documents
        self.tombstone_ttl_seconds = tombstone_ttl_seconds

    def project(self, changes: Sequence[TripChange]) -> BatchProjection:
        by_trip: dict[str, list[int]] = {}
        for index, change in enumerate(changes):
            by_trip.setdefault(change.trip_id, []).append(index)
        results: list[Result | None] = [None] * len(changes)
        try:
            stored = self.documents.load_many(by_trip)
        except TransientStoreError as error:
            failure = ProjectionFailure(f"could not read the search documents: {error}", retryable=True)
            return BatchProjection((failure,) * len(changes), writes=0, conflicts=0)

        writes = conflicts = 0
        findings: dict[int, Finding] = {}
        for trip_id, indexes in by_trip.items():
            document = stored.get(trip_id, SearchDocument(trip_id))
            trip = self._project_trip(document, [changes[i] for i in indexes])
            writes += trip.writes
            conflicts += trip.conflicts
            findings.update((indexes[i], finding) for i, finding in trip.findings.items())
            for index, result in zip(indexes, trip.results, strict=True):
                results[index] = result
        return BatchProjection(tuple(r for r in results if r is not None), writes, conflicts, findings)

    def _project_trip(self, document: SearchDocument, changes: list[TripChange]) -> BatchProjection:
        """The projection of one trip's changes: a REJECTED change (writer contract) is a failure that retries
        cannot fix, so the consumer parks it; the trip's other changes are written as usual."""
        writes = 0
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
                    writes += 1
                    self.documents.save(folded.document, self.tombstone_ttl_seconds)
                return BatchProjection(outcomes, writes, conflicts, folded.findings)
            except DocumentConflict as conflict:
                document = conflict.current
            except TransientStoreError as error:
                return self._failed(changes, ProjectionFailure(str(error), retryable=True), writes, conflicts)
            except PermanentStoreError as error:
                failure = ProjectionFailure(f"the search document cannot be written: {error}", retryable=False)
                return self._failed(changes, failure, writes, conflicts)
        failure = ProjectionFailure(
            f"trip {document.trip_id}: still conflicting after {MAX_CONFLICT_RETRIES} attempts", retryable=True
        )
        return self._failed(changes, failure, writes, MAX_CONFLICT_RETRIES)

    @staticmethod
    def _failed(changes: list[TripChange], failure: ProjectionFailure, writes: int, conflicts: int) -> BatchProjection:
        return BatchProjection((failure,) * len(changes), writes, conflicts)
