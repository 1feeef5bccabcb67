"""DriftAudit: the target of a scheduled EventBridge rule (infra/audit.py). Each run audits the live search table
(`search_tables.current().live`) against TripTable from where the previous run stopped, within the read budget
(`auditor.DriftAuditor.audit_segment`), logs every drifted trip with what differs, repairs it through the version
gate, and publishes the counts (namespace TripSaga, dimension service=trip-audit):

- `DriftedTrips`: trips still differing after the settle time with nothing moving (alarm: above 0);
- `RepairedTrips`, `InFlightTrips` (differed, then moved: not drift), `UnreadableTrips` (an item the consumers parked);
- `TripsAudited`, `AuditReadUnits` (what the run read, in DynamoDB read units), `AuditSegmentsDone`.

Returns {table, segment, segments, trips, read_units, drifted, repaired, in_flight, settled (differed at the first
look, then matched: a change in flight that landed), segment_done}. An error (a table or the
parameter unreadable) fails the invocation; the next scheduled run starts where the cursor still says.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from services.trip import search_tables
from services.trip.adapters.audit_cursor import CursorParameter
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.adapters.trip_items import TripItems
from services.trip.audit import Verdict
from services.trip.auditor import AuditReport, DriftAuditor
from services.trip.config import audit_settings
from services.trip.schema import Layout

logger = Logger()
metrics = Metrics()


@cache
def _auditor(search_table: str, layout: Layout) -> DriftAuditor:
    settings = audit_settings()
    return DriftAuditor(
        TripItems(settings.trip_table),
        SearchDocuments(search_table, layout=layout),
        settle_seconds=settings.settle_seconds,
        repair=settings.repair,
        tombstone_ttl_seconds=settings.tombstone_ttl_seconds,
    )


@cache
def _cursor() -> CursorParameter:
    return CursorParameter(audit_settings().cursor_parameter)


def clear_caches() -> None:
    """Forget the clients and settings built for an environment (tests change it)."""
    for cached in (_auditor, _cursor, audit_settings):
        cached.cache_clear()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = audit_settings()
    tables = search_tables.current()
    table = tables.live
    cursor = _cursor().load(settings.segments)
    report = _auditor(table, tables.layout_of(table)).audit_segment(cursor, settings.read_budget)
    assert report.cursor is not None
    _cursor().store(report.cursor)
    _log(report, table)
    _count(report)
    summary = {
        "table": table,
        "segment": cursor.segment,
        "segments": cursor.segments,
        **report.counts(),
        "settled": len(report.of(Verdict.IN_SYNC)),
        "segment_done": report.segment_done,
    }
    logger.info("DriftAudit done", extra=summary)
    return summary


def _log(report: AuditReport, table: str) -> None:
    for finding in report.findings:
        details = {
            "trip_id": finding.trip_id,
            "table": table,
            "verdict": finding.verdict.value,
            "kind": finding.kind.value if finding.kind else None,
            "differences": [{"field": d.field, "search": d.live, "trip_table": d.target} for d in finding.differences],
            "repaired": finding.repaired,
            "reason": finding.reason,
        }
        if finding.verdict is Verdict.DRIFTED:
            logger.warning("trip drifted", extra=details)
        elif finding.verdict is Verdict.UNREADABLE:
            logger.warning("trip unreadable: an item breaks the writer contract", extra=details)
        else:
            logger.info("trip differed, then settled", extra=details)


def _count(report: AuditReport) -> None:
    counts = {
        "DriftedTrips": len(report.drifted),
        "RepairedTrips": len(report.repaired),
        "InFlightTrips": len(report.of(Verdict.IN_FLIGHT)),
        "UnreadableTrips": len(report.of(Verdict.UNREADABLE)),
        "TripsAudited": report.trips,
        "AuditSegmentsDone": int(report.segment_done),
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="AuditReadUnits", unit=MetricUnit.Count, value=report.read_units)
