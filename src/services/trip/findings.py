"""What the fold reported about a change (`projection.Finding`), worded once for every reader of it.

The consumers log each as a WARNING and count it (`ChangesAmbiguous`, `WriterContractViolations`); `replay run` and
`replay dlq redrive` print the same lines and keep the messages they stand for (docs/DLQ-RUNBOOK.md). Both build
the lines here, so an operator reads the same words whichever path met the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.trip.changes import TripChange
from services.trip.projection import Finding, Outcome

REASONS: Mapping[Finding, str] = {
    Finding.AMBIGUOUS: "a write and a removal of the same version in one second that no source's own order tells "
    "apart: the removal wins, but the item may have been put back within that second (check TripTable; write it "
    "with version + 1 to project it)",
    Finding.WENT_BACK: "applied over an older version the stream saw later: the item went back to an older version "
    "(writer contract; check TripTable and write the item with a version above this one)",
}


@dataclass(frozen=True)
class FoldReport:
    """One change the fold decided by a rule that may leave the document unlike TripTable."""

    finding: Finding
    outcome: Outcome
    change: TripChange

    @property
    def message(self) -> str:
        """The log line's message: `change stale`, `change applied`."""
        return f"change {self.outcome.value}"

    @property
    def reason(self) -> str:
        return REASONS[self.finding]

    def fields(self) -> dict[str, Any]:
        """The structured fields of the line (the consumers' log `extra`, the tools' `--json`)."""
        position = self.change.position
        return {
            "finding": self.finding.value,
            "outcome": self.outcome.value,
            "trip_id": self.change.trip_id,
            "entity": self.change.entity.value,
            "event": self.change.kind.value,
            "version": self.change.version,
            "source": position.source.value,
            "shard_id": position.shard_id,
            "sequence_number": position.sequence_number,
            "reason": self.reason,
        }

    def line(self) -> str:
        """One line for a terminal: `WARNING change stale: trip T HOTEL INSERT v1 (kinesis shard S, sequence N): …`"""
        position = self.change.position
        where = f"{position.source.value} shard {position.shard_id or '-'}, sequence {position.sequence_number or '-'}"
        change = self.change
        return (
            f"WARNING {self.message}: trip {change.trip_id} {change.entity} {change.kind} v{change.version} "
            f"({where}): {self.reason}"
        )


def fold_reports(outcomes: Sequence[tuple[TripChange, object]], findings: Mapping[int, Finding]) -> list[FoldReport]:
    """The reports of a fold or a projection: `outcomes` its (change, result) pairs, `findings` an index of them
    -> what the fold found. A result that is not an `Outcome` (a failure) reports nothing."""
    return [
        FoldReport(finding, result, change)
        for index, finding in sorted(findings.items())
        for change, result in (outcomes[index],)
        if isinstance(result, Outcome)
    ]
