"""What a run did, counted per shard (or scan segment) and in total, for progress and the final summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from services.trip.findings import FoldReport
from services.trip.projection import Finding, Outcome


@dataclass
class Tally:
    read: int = 0
    irrelevant: int = 0  # items that are not a trip's flight, hotel or payment
    poison: int = 0  # records that do not decode: they are in the DLQ already, the consumers sent them there
    applied: int = 0
    superseded: int = 0  # folded into a newer change of the same entity before it was written
    stale: int = 0  # the document already held this change or a newer one
    gone: int = 0  # `dlq redrive`: writes TripTable no longer holds, not applied
    ambiguous: int = 0  # decided by the fold's same-second rule (the consumers' ChangesAmbiguous)
    after_window: int = 0  # `replay run`: changes made after --to that reached Kinesis within the lag allowance
    went_back: int = 0  # applied over an older version seen later (counted in the consumers' WriterContractViolations)

    def count(self, outcome: Outcome) -> None:
        match outcome:
            case Outcome.APPLIED:
                self.applied += 1
            case Outcome.COALESCED:
                self.superseded += 1
            case Outcome.STALE:
                self.stale += 1
            case Outcome.REJECTED:  # a writer-contract violation: the consumers park such records in the DLQ
                self.poison += 1

    def count_findings(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            if finding is Finding.AMBIGUOUS:
                self.ambiguous += 1
            else:
                self.went_back += 1

    def add(self, other: Tally) -> None:
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class PoisonSighting:
    shard_id: str
    sequence_number: str
    reason: str


@dataclass
class RunSummary:
    source: str  # "kinesis" or "table"
    target_table: str
    dry_run: bool
    per_part: dict[str, Tally] = field(default_factory=dict)  # shard id or scan segment
    poison: list[PoisonSighting] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (trip_id, reason): documents the table refused
    findings: list[FoldReport] = field(default_factory=list)  # what the fold reported, as the consumers report it
    trips: int = 0  # distinct trips touched
    documents_written: int = 0
    dynamodb_requests: int = 0
    kinesis_requests: int = 0
    throttled: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> Tally:
        total = Tally()
        for tally in self.per_part.values():
            total.add(tally)
        return total
