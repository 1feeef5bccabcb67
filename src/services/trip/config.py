"""Configuration from environment variables, parsed once into typed settings.

Each Lambda role reads only what it needs; a missing variable fails the cold start with an error that
names it, instead of a KeyError deep inside a request. Which search tables serve is not fixed at a cold start:
`search_tables.current()` reads it, cached for seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

DEFAULT_TOMBSTONE_TTL_SECONDS = 8 * 24 * 3600  # longer than the default 7-day Kinesis retention


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or malformed."""


def _require(name: str, meaning: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set: it must hold {meaning}")
    return value


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(
            f"environment variable {name} must be a whole number of seconds, got {raw!r}"
        ) from None
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
