"""Configuration from environment variables, parsed once into typed settings.

Each Lambda role reads only what it needs; a missing variable fails the cold start with an error that
names it, instead of a KeyError deep inside a request. Which search tables serve is not fixed at a cold start:
`search_tables.current()` reads it, cached for seconds.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

DEFAULT_TOMBSTONE_TTL_SECONDS = 8 * 24 * 3600  # longer than the default 7-day Kinesis retention
# The drift audit's defaults (docs/drift-audit.md, "Settings"): a run every 15 minutes (infra.settings) through 96
# segments audits every trip once a day; each run reads at most the budget's read units (DynamoDB's, 4 KB each
# strongly consistent, half eventually), then re-reads what differed after the settle time.
DEFAULT_AUDIT_SEGMENTS = 96
DEFAULT_AUDIT_READ_BUDGET = 2_000
# Longer than the pipeline's latency: the consumers' 1 s batching window and their streams' polls, with room for
# retries; past a minute of lag the IteratorAge alarms fire (infra/monitoring.py), so a change later than this is a
# fault the operator is already told of.
DEFAULT_AUDIT_SETTLE_SECONDS = 60


ANY_ORIGIN = "*"
ALLOWED_ORIGINS_VARIABLE = "API_ALLOWED_ORIGINS"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_NOT_AN_ORIGIN = "is not an origin: scheme://host[:port] (http or https, no path), or * alone for any"


def parse_origins(text: str) -> tuple[str, ...]:
    """The browser origins a comma-separated list names (`https://app.example.com,http://127.0.0.1:8000`), each as
    a browser sends it in `Origin` (RFC 6454: scheme and host in lower case, no default port), or `*` alone for any;
    empty: none. Raises ValueError naming the first entry that is no origin."""
    entries = tuple(entry.strip() for entry in text.split(",") if entry.strip())
    if entries == (ANY_ORIGIN,):
        return entries
    return tuple(_origin(entry) for entry in entries)


def _origin(entry: str) -> str:
    try:
        parts = urlsplit(entry)
    except ValueError:  # a bracketed host that is no IPv6 address
        raise ValueError(f"{entry!r} {_NOT_AN_ORIGIN}") from None
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = -1
    host = parts.hostname or ""
    shape_ok = (
        scheme in _DEFAULT_PORTS
        and entry.lower() == f"{parts.scheme}://{parts.netloc}".lower()  # nothing after the authority, not a slash
        and not (parts.username or parts.password)
        and port != 0
        and port != -1
    )
    if shape_ok and parts.netloc.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            shape_ok = False
    elif shape_ok:
        labels = host.removesuffix(".").split(".")
        shape_ok = all(_HOST_LABEL.fullmatch(label) for label in labels)
    if not shape_ok:
        raise ValueError(f"{entry!r} {_NOT_AN_ORIGIN}")
    return f"{scheme}://{host}" + ("" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}")


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _require(name: str, meaning: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set: it must hold {meaning}")
    return value


def _positive_int(name: str, default: int, unit: str = "seconds") -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be a whole number of {unit}, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"environment variable {name} must be positive, got {value}")
    return value


@dataclass(frozen=True)
class ProjectorSettings:
    dlq_url: str
    tombstone_ttl_seconds: int


@dataclass(frozen=True)
class SagaSettings:
    table_name: str


@dataclass(frozen=True)
class ExecutionEndSettings:
    state_machine_arn: str


@cache
def projector_settings() -> ProjectorSettings:
    return ProjectorSettings(
        dlq_url=_require("DLQ_URL", "the URL of the projection's dead-letter queue"),
        tombstone_ttl_seconds=_positive_int("TOMBSTONE_TTL_SECONDS", DEFAULT_TOMBSTONE_TTL_SECONDS),
    )


@cache
def saga_settings() -> SagaSettings:
    return SagaSettings(table_name=_require("TABLE_NAME", "the TripTable name"))


@cache
def execution_end_settings() -> ExecutionEndSettings:
    return ExecutionEndSettings(
        state_machine_arn=_require("STATE_MACHINE_ARN", "the ARN of the TripSaga state machine"),
    )


@dataclass(frozen=True)
class AuditSettings:
    """The drift audit's function (handlers/drift_audit.py); which search table it audits is
    `search_tables.current()`'s live one."""

    trip_table: str
    cursor_parameter: str  # the SSM parameter that holds where the next run starts (auditor.Cursor)
    segments: int
    read_budget: int  # read units per run (services.trip.read_costs)
    settle_seconds: int
    repair: bool
    tombstone_ttl_seconds: int


@cache
def audit_settings() -> AuditSettings:
    repair = os.environ.get("AUDIT_REPAIR", "true").strip().lower()
    if repair not in ("true", "false"):
        raise ConfigurationError(f"environment variable AUDIT_REPAIR must be true or false, got {repair!r}")
    return AuditSettings(
        trip_table=_require("TABLE_NAME", "the TripTable name"),
        cursor_parameter=_require("AUDIT_CURSOR_PARAMETER", "the name of the SSM parameter of the audit's cursor"),
        segments=_positive_int("AUDIT_SEGMENTS", DEFAULT_AUDIT_SEGMENTS, "segments"),
        read_budget=_positive_int("AUDIT_READ_BUDGET", DEFAULT_AUDIT_READ_BUDGET, "read units"),
        settle_seconds=_positive_int("AUDIT_SETTLE_SECONDS", DEFAULT_AUDIT_SETTLE_SECONDS),
        repair=repair == "true",
        tombstone_ttl_seconds=_positive_int("TOMBSTONE_TTL_SECONDS", DEFAULT_TOMBSTONE_TTL_SECONDS),
    )


def allowed_origins() -> tuple[str, ...]:
    """The browser origins the search API answers CORS requests from (API_ALLOWED_ORIGINS); none when unset."""
    try:
        return parse_origins(os.environ.get(ALLOWED_ORIGINS_VARIABLE, ""))
    except ValueError as error:
        raise ConfigurationError(f"environment variable {ALLOWED_ORIGINS_VARIABLE}: {error}") from None
