"""Deployment switches read from CDK context, validated once into a typed object.

Values given with ``cdk -c key=value`` arrive as strings, values from cdk.json as JSON types: both are accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

RETENTION_DAYS = "changeStreamRetentionDays"
CAPACITY_MODE = "changeStreamCapacityMode"
SHARD_COUNT = "changeStreamShardCount"
DYNAMODB_STREAMS_PIPELINE = "dynamoDbStreamsPipeline"
KINESIS_PIPELINE = "kinesisPipeline"
DETAILED_TRACING = "detailedTracing"

SECONDS_PER_DAY = 24 * 3600
# The default Kinesis shard quota per account in the largest regions; a larger stream needs a quota increase first.
MAX_SHARDS = 500


class SettingsError(ValueError):
    """A context value is out of range or of the wrong type; the message names the context key."""


class CapacityMode(Enum):
    ON_DEMAND = "on-demand"
    PROVISIONED = "provisioned"


@dataclass(frozen=True)
class StackSettings:
    retention_days: int = 7
    capacity_mode: CapacityMode = CapacityMode.ON_DEMAND
    shard_count: int = 1
    dynamodb_streams_pipeline: bool = True
    kinesis_pipeline: bool = True
    # Lambda's active tracing records every invocation; this adds the consumers' X-Ray SDK subsegments per AWS
    # call, at the price of the SDK's import in every cold start.
    detailed_tracing: bool = False

    @property
    def tombstone_ttl_seconds(self) -> int:
        """Tombstones must outlive every change that can still be delivered: the stream's retention + a day."""
        return (self.retention_days + 1) * SECONDS_PER_DAY

    @classmethod
    def from_context(cls, get: Callable[[str], object]) -> StackSettings:
        settings = cls(
            retention_days=_integer(get, RETENTION_DAYS, cls.retention_days, 1, 365),
            capacity_mode=_capacity_mode(get),
            shard_count=_integer(get, SHARD_COUNT, cls.shard_count, 1, MAX_SHARDS),
            dynamodb_streams_pipeline=_boolean(get, DYNAMODB_STREAMS_PIPELINE, cls.dynamodb_streams_pipeline),
            kinesis_pipeline=_boolean(get, KINESIS_PIPELINE, cls.kinesis_pipeline),
            detailed_tracing=_boolean(get, DETAILED_TRACING, cls.detailed_tracing),
        )
        if not (settings.dynamodb_streams_pipeline or settings.kinesis_pipeline):
            raise SettingsError(
                f"context {DYNAMODB_STREAMS_PIPELINE} and {KINESIS_PIPELINE} are both false: "
                "at least one pipeline must feed TripSearchTable"
            )
        return settings


def _integer(get: Callable[[str], object], key: str, default: int, low: int, high: int) -> int:
    raw = get(key)
    if raw is None:
        return default
    # bool is an int subclass: `-c key=true` must not read as 1
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise SettingsError(f"context {key} must be a whole number from {low} to {high}, got {raw!r}")
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"context {key} must be a whole number from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"context {key} must be from {low} to {high}, got {value}")
    return value


def _boolean(get: Callable[[str], object], key: str, default: bool) -> bool:
    raw = get(key)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise SettingsError(f"context {key} must be true or false, got {raw!r}")


def _capacity_mode(get: Callable[[str], object]) -> CapacityMode:
    raw = get(CAPACITY_MODE)
    if raw is None:
        return StackSettings.capacity_mode
    try:
        return CapacityMode(str(raw).strip().lower())
    except ValueError:
        choices = ", ".join(mode.value for mode in CapacityMode)
        raise SettingsError(f"context {CAPACITY_MODE} must be one of {choices}, got {raw!r}") from None
