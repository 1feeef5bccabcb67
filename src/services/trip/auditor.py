"""The drift audit's passes: read TripTable and the live search table, assess every trip (services.trip.audit), read
again what differed after the settle time, and repair what drifted through the version gate.

A pass of segment `s` of `S` (DynamoDB's parallel-scan segments, by partition key) has two phases:
1. TripTable's segment, page by page (eventually consistent): the trips it holds, each with its search item (one
   eventually consistent BatchGetItem a page). This finds documents deleted, altered, behind or ahead.
2. The search table's segment: every document that is no tombstone and whose trip phase 1 did not see, with its
   trip's items (one Query each). This finds documents shown for trips TripTable no longer has (resurrected).
Each page's reads are counted in read units (services.trip.read_costs); once the run's budget is spent it stops
between pages, and the `Cursor` says where the next run continues (the scheduled function keeps it in an SSM
parameter). A page's last trip may continue on the next page: it is read whole by a Query, and the next page's
items of it skipped.

Then, if anything differed, the pass waits `settle_seconds` and reads each such trip again, strongly consistent: its
search item first, then its TripTable items (so a document is never newer than the TripTable read after it). The
verdict is `audit.settle`'s. A drifted trip is repaired (if asked) by writing the expected document with
`SearchDocuments.save`: conditioned on the revision of the search item read at the second look (or on there being
none), so a change a consumer wrote since is never overwritten; such a conflict makes the trip in flight.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from itertools import groupby
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from services.trip import read_costs
from services.trip.adapters.search_documents import DocumentConflict, SearchDocuments
from services.trip.adapters.trip_items import TripItems
from services.trip.audit import Assessment, DriftKind, Look, Verdict, assess, settle
from services.trip.schema import SEARCH_KEY, TRIP_PK, TRIP_PK_PREFIX, TTL_ATTRIBUTE
from services.trip.search_views import Difference

PAGE_ITEMS = 100  # items per Scan page: the budget is checked between pages, so a run overshoots it by one at most
# What the second look at a differing trip is reserved against the budget before it is read: a strongly consistent
# BatchGetItem key and Query of a trip of about 4 KB (read_costs), one read unit each.
SECOND_LOOK_UNITS = 2.0
CONCURRENT_QUERIES = 16  # phase 2's and the second look's per-trip reads in flight at once
_serializer = TypeSerializer()


class Phase(StrEnum):
    TRIP_TABLE = "trip-table"
    SEARCH_TABLE = "search-table"


class CursorError(ValueError):
    """The stored cursor is not one this code wrote."""


@dataclass(frozen=True)
class Cursor:
    """Where a pass starts: a segment of `segments`, a phase, the scan's start key in it (DynamoDB JSON) and the trip
    whose items the previous page already read whole."""

    segments: int
    segment: int = 0
    phase: Phase = Phase.TRIP_TABLE
    start_key: dict[str, Any] | None = None
    read_whole: str | None = None

    def next_segment(self) -> Cursor:
        return Cursor(self.segments, (self.segment + 1) % self.segments)

    def to_json(self) -> str:
        return json.dumps(
            {
                "segments": self.segments,
                "segment": self.segment,
                "phase": self.phase.value,
                "start_key": self.start_key,
                "read_whole": self.read_whole,
            },
            ensure_ascii=False,  # a trip id of astral characters is 4 bytes each, not a 12-character escape
        )

    @classmethod
    def parse(cls, text: str, segments: int) -> Cursor:
        """The stored cursor; a fresh one at segment 0 when it was written for another number of segments (or is the
        stack's first value, `{}`). Raises `CursorError` if it is not a cursor."""
        try:
            stored = json.loads(text)
            if not isinstance(stored, dict):
                raise TypeError(type(stored).__name__)
            if stored.get("segments") != segments:
                return cls(segments)
            cursor = cls(
                segments,
                int(stored["segment"]),
                Phase(stored["phase"]),
                stored.get("start_key"),
                stored.get("read_whole"),
            )
        except (ValueError, TypeError, KeyError) as error:
            raise CursorError(f"not an audit cursor ({error}): {text[:80]!r}") from None
        if not 0 <= cursor.segment < segments:
            return cls(segments)
        return cursor


@dataclass(frozen=True)
class TripFinding:
    """A trip that differed at the first look, and what the second one made of it."""

    trip_id: str
    verdict: Verdict
    kind: DriftKind | None
    differences: tuple[Difference, ...]
    repaired: bool = False
    reason: str | None = None  # why the trip is unreadable, or in flight after a repair raced a change


@dataclass
class AuditReport:
    trips: int = 0  # trips assessed at the first look
    read_units: float = 0.0  # every read of the pass, both looks
    findings: list[TripFinding] = field(default_factory=list)
    cursor: Cursor | None = None  # where the next pass starts (a segment's pass)
    segment_done: bool = False  # the segment was read to its end (else the budget ran out first)

    def of(self, verdict: Verdict) -> list[TripFinding]:
        return [finding for finding in self.findings if finding.verdict is verdict]

    @property
    def drifted(self) -> list[TripFinding]:
        return self.of(Verdict.DRIFTED)

    @property
    def repaired(self) -> list[TripFinding]:
        return [finding for finding in self.findings if finding.repaired]

    def counts(self) -> dict[str, float]:
        """What the pass read and found, by name: the summary the function logs and `trip-replay audit` prints."""
        return {
            "trips": self.trips,
            "read_units": self.read_units,
            "drifted": len(self.drifted),
            "repaired": len(self.repaired),
            "in_flight": len(self.of(Verdict.IN_FLIGHT)),
            "unreadable": len(self.of(Verdict.UNREADABLE)),
        }


class ReadMeter:
    """The read units of the reads made so far (thread-safe)."""

    def __init__(self) -> None:
        self.units = 0.0
        self._lock = threading.Lock()

    def add(self, units: float) -> None:
        with self._lock:
            self.units += units


class DriftAuditor:
    def __init__(
        self,
        trips: TripItems,
        documents: SearchDocuments,
        *,
        settle_seconds: float,
        repair: bool,
        tombstone_ttl_seconds: int,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """`progress`: called with the number of trips assessed so far, after each page."""
        self.trips, self.documents = trips, documents
        self.settle_seconds, self.repair, self.tombstone_ttl_seconds = settle_seconds, repair, tombstone_ttl_seconds
        self._sleep, self._progress = sleep, progress or (lambda _: None)
        self._threads = ThreadPoolExecutor(CONCURRENT_QUERIES, thread_name_prefix="audit")

    def audit_trips(self, trip_ids: Sequence[str]) -> AuditReport:
        """These trips, each read (eventually consistent) and assessed; what differs is read again and settled."""
        meter = ReadMeter()
        documents = self._stored(trip_ids, meter, consistent=False)
        looks = list(self._threads.map(lambda trip_id: self._look(trip_id, documents.get(trip_id), meter), trip_ids))
        report = AuditReport(trips=len(looks))
        self._settle([look for look in looks if not look.in_sync], meter, report)
        report.read_units = meter.units
        return report

    def audit_segment(self, cursor: Cursor, read_budget: float) -> AuditReport:
        """A pass from `cursor` until its segment ends or `read_budget` read units are spent; `report.cursor` is
        where the next pass starts (the next segment once this one is done)."""
        meter, report = ReadMeter(), AuditReport()
        candidates: list[Assessment] = []
        seen: set[str] = set()
        while meter.units + SECOND_LOOK_UNITS * len(candidates) < read_budget:
            if cursor.phase is Phase.TRIP_TABLE:
                cursor, assessed = self._trip_table_page(cursor, meter)
                seen.update(assessment.trip_id for assessment in assessed)
            else:
                cursor, assessed = self._search_table_page(cursor, seen, meter)
            report.trips += len(assessed)
            candidates += [assessment for assessment in assessed if not assessment.in_sync]
            self._progress(report.trips)
            if cursor.phase is Phase.TRIP_TABLE and cursor.start_key is None and cursor.read_whole is None:
                report.segment_done = True  # `_search_table_page` moved on to the next segment
                break
        report.cursor = cursor
        self._settle(candidates, meter, report)
        report.read_units = meter.units
        return report

    def _trip_table_page(self, cursor: Cursor, meter: ReadMeter) -> tuple[Cursor, list[Assessment]]:
        items, next_key = self.trips.scan_page(cursor.segment, cursor.segments, cursor.start_key, PAGE_ITEMS)
        meter.add(read_costs.query_units(items, consistent=False))
        by_trip = {
            trip_id: list(trip_items)
            for trip_id, trip_items in groupby(items, key=_trip_of)
            if trip_id is not None and trip_id != cursor.read_whole
        }
        read_whole = cursor.read_whole  # a page of that trip's items alone (its sagas' fences): it may go on further
        if next_key is not None and by_trip:  # the page's last trip may go on in the next page: read it whole
            read_whole = list(by_trip)[-1]
            by_trip[read_whole] = self.trips.of_trip(read_whole, consistent=False)
            meter.add(read_costs.query_units(by_trip[read_whole], consistent=False))
        documents = self._stored(by_trip, meter, consistent=False)
        at = datetime.now(UTC)
        assessed = [
            assess(Look(trip_id, found, documents.get(trip_id), self.documents.layout), at)
            for trip_id, found in by_trip.items()
        ]
        if next_key is None:
            return Cursor(cursor.segments, cursor.segment, Phase.SEARCH_TABLE), assessed
        return replace(cursor, start_key=next_key, read_whole=read_whole), assessed

    def _search_table_page(self, cursor: Cursor, seen: set[str], meter: ReadMeter) -> tuple[Cursor, list[Assessment]]:
        items, next_key = self.documents.scan_items(cursor.segment, cursor.segments, cursor.start_key, PAGE_ITEMS)
        meter.add(read_costs.query_units(map(_serialized, items), consistent=False))
        shown = [item for item in items if TTL_ATTRIBUTE not in item and str(item[SEARCH_KEY]) not in seen]
        assessed = list(self._threads.map(lambda item: self._look(str(item[SEARCH_KEY]), item, meter), shown))
        if next_key is None:
            return cursor.next_segment(), assessed
        return replace(cursor, start_key=next_key), assessed

    def _look(self, trip_id: str, document: Mapping[str, Any] | None, meter: ReadMeter) -> Assessment:
        """The first look at a trip whose search item was read: its TripTable items, eventually consistent."""
        items = self.trips.of_trip(trip_id, consistent=False)
        meter.add(read_costs.query_units(items, consistent=False))
        return assess(Look(trip_id, items, document, self.documents.layout), datetime.now(UTC))

    def _settle(self, candidates: list[Assessment], meter: ReadMeter, report: AuditReport) -> None:
        if not candidates:
            return
        self._sleep(self.settle_seconds)
        report.findings += self._threads.map(lambda first: self._second_look(first, meter), candidates)

    def _second_look(self, first: Assessment, meter: ReadMeter) -> TripFinding:
        document = self._stored([first.trip_id], meter, consistent=True).get(first.trip_id)
        items = self.trips.of_trip(first.trip_id, consistent=True)
        meter.add(read_costs.query_units(items, consistent=True))
        second = assess(Look(first.trip_id, items, document, self.documents.layout), datetime.now(UTC))
        verdict = settle(first, second)
        finding = TripFinding(first.trip_id, verdict, second.kind, second.differences, reason=second.unreadable)
        if verdict is not Verdict.DRIFTED or not self.repair:
            return finding
        if second.expected.revision < 0:  # its write counter edited to a non-number: no gate can hold it
            return replace(finding, reason="its revision is not a number: repair it by hand (docs/drift-audit.md)")
        written_meanwhile = replace(
            finding, verdict=Verdict.IN_FLIGHT, reason="written by the consumers while repairing"
        )
        if not second.expected.revisions:  # no booking left in TripTable nor readable in the document: nothing to keep
            deleted = self.documents.delete_unless_written(first.trip_id, second.expected.revision)
            return replace(finding, repaired=True) if deleted else written_meanwhile
        try:
            self.documents.save(second.expected, self.tombstone_ttl_seconds)
        except DocumentConflict:
            return written_meanwhile
        return replace(finding, repaired=True)

    def _stored(self, trip_ids: Iterable[str], meter: ReadMeter, *, consistent: bool) -> dict[str, dict[str, Any]]:
        ids = list(trip_ids)
        found = self.documents.stored_items(ids, consistent=consistent) if ids else {}
        meter.add(
            read_costs.get_units((_serialized_or_none(found.get(trip_id)) for trip_id in ids), consistent=consistent)
        )
        return found


def _trip_of(item: Mapping[str, Any]) -> str | None:
    key = item.get(TRIP_PK, {}).get("S", "")
    return key[len(TRIP_PK_PREFIX) :] if key.startswith(TRIP_PK_PREFIX) else None


def _serialized(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _serialized_or_none(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else _serialized(item)
