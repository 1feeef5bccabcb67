"""Deployment switches read from CDK context, validated once into a typed object.

Values given with ``cdk -c key=value`` arrive as strings, values from cdk.json as JSON types: both are accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from services.trip.config import (
    DEFAULT_AUDIT_READ_BUDGET,
    DEFAULT_AUDIT_SEGMENTS,
    DEFAULT_AUDIT_SETTLE_SECONDS,
    parse_origins,
)
from services.trip.schema import Layout
from services.trip.search_tables import DEFAULT_MAX_AGE_SECONDS

RETENTION_DAYS = "changeStreamRetentionDays"
CAPACITY_MODE = "changeStreamCapacityMode"
SHARD_COUNT = "changeStreamShardCount"
DYNAMODB_STREAMS_PIPELINE = "dynamoDbStreamsPipeline"
KINESIS_PIPELINE = "kinesisPipeline"
DETAILED_TRACING = "detailedTracing"
PARALLELIZATION_FACTOR = "parallelizationFactor"
CONSUMER_MEMORY = "consumerMemoryMb"
CONSUMER_RESERVED_CONCURRENCY = "consumerReservedConcurrency"
LAMBDA_CONCURRENCY_QUOTA = "lambdaConcurrencyQuota"
API_RATE_LIMIT = "apiThrottlingRateLimit"
API_BURST_LIMIT = "apiThrottlingBurstLimit"
API_ALLOWED_ORIGINS = "apiAllowedOrigins"
SEARCH_TABLES_MAX_AGE = "searchTablesMaxAgeSeconds"
SEARCH_TABLE_LAYOUT = "searchTableLayout"
DRIFT_AUDIT_RATE = "driftAuditRateMinutes"
DRIFT_AUDIT_SEGMENTS = "driftAuditSegments"
DRIFT_AUDIT_READ_BUDGET = "driftAuditReadBudget"
DRIFT_AUDIT_SETTLE = "driftAuditSettleSeconds"
DRIFT_AUDIT_REPAIR = "driftAuditRepair"

SECONDS_PER_DAY = 24 * 3600
# The default Kinesis shard quota per account in the largest regions; a larger stream needs a quota increase first.
MAX_SHARDS = 500

# Records per batch of both event source mappings (Lambda's default; up to 10,000): what `make bench` measures the
# consumers' CPU on.
BATCH_SIZE = 100
# Lambda gives a function CPU in proportion to its memory: one vCPU at 1,769 MB, memory from 128 MB to 10,240 MB
# (AWS Lambda Developer Guide, "Configure Lambda function memory").
LAMBDA_MB_PER_VCPU = 1769
LAMBDA_MEMORY_MB = (128, 10_240)
# One consumer must keep up with a saturated shard, 1,000 records/s (Kinesis Data Streams Developer Guide, "Quotas
# and limits"; a DynamoDB Streams shard follows one partition, at most 1,000 WCU/s). `make bench` measures the
# Kinesis consumer's CPU at about 0.8 ms a record in its worst batch (100 records of 94 trips, each trip its own
# write; docs/benchmarks.md), the DynamoDB Streams consumer's at 0.33 ms: 1,000 records/s need 0.8 vCPU, 1,415 MB.
# The handler's CPU work runs under Python's one GIL, so past one vCPU more memory buys little: one full vCPU,
# 1,769 MB, gives about 1,250 records/s (1.25x a saturated shard). The headroom past that is the second batch per
# shard of DEFAULT_PARALLELIZATION_FACTOR (2.5x), not more memory (docs/capacity.md).
CONSUMER_MEMORY_MB = LAMBDA_MB_PER_VCPU
# Concurrent batches per shard, 1 to 10 (AWS Lambda Developer Guide, Kinesis and DynamoDB Streams event source
# mapping parameters). Order per trip is safe at any factor: Lambda keeps a partition key's records in order, and
# the fold is order-safe anyway (docs/design.md).
DEFAULT_PARALLELIZATION_FACTOR = 2
MAX_PARALLELIZATION_FACTOR = 10
# Lambda's default concurrent executions per account and region, of which 100 must stay unreserved for functions
# without reserved concurrency (AWS Lambda Developer Guide, "Lambda quotas"; "Configuring reserved concurrency").
DEFAULT_LAMBDA_CONCURRENCY_QUOTA = 1_000
UNRESERVED_CONCURRENCY_MINIMUM = 100
# Each consumer's reserved concurrency: what the saga, the search API and other functions of the account can never
# take from it, and its ceiling. A mapping runs shards x ParallelizationFactor batches at once (docs/capacity.md:
# 8 at 1,000 changes/s, 70 for the DynamoDB Streams consumer at 10,000).
DEFAULT_CONSUMER_RESERVED_CONCURRENCY = 100
# The stage's steady rate (requests/s) and burst (token bucket size). API Gateway's account throttle is 10,000
# requests/s with a burst of 5,000 across every API of the account and region (API Gateway Developer Guide, "Amazon
# API Gateway quotas"); a stage cannot usefully exceed it. SearchTrips has no reserved concurrency: a burst of 500
# requests at once fits in the 800 executions the consumers leave unreserved (docs/capacity.md).
API_ACCOUNT_RATE_LIMIT = 10_000
API_ACCOUNT_BURST_LIMIT = 5_000
DEFAULT_API_RATE_LIMIT = 1_000
DEFAULT_API_BURST_LIMIT = 500
# How long a function keeps the search-tables parameter before reading it again (services.trip.search_tables): how
# soon a cutover's switch reaches every function, against GetParameter's 40 requests/s per account and region.
MAX_SEARCH_TABLES_MAX_AGE = 300
# The drift audit (infra/audit.py, docs/drift-audit.md): a run every 15 minutes through 96 segments audits each trip
# once a day. A rate is at least a minute (Amazon EventBridge User Guide, "Schedule expressions for rules"); 6 hours
# at most here: a run's invocation may wait in Lambda's asynchronous queue one rate (`max_event_age`), which Lambda
# bounds at 21,600 s (AWS Lambda Developer Guide, "Configuring error handling for asynchronous invocation").
# DynamoDB's parallel scan takes 1 to 1,000,000 segments (API reference, Scan: TotalSegments). The settle time is
# spent inside the run, whose function may run 15 minutes (AWS Lambda Developer Guide, "Lambda quotas"): 10 of them
# at most.
DEFAULT_DRIFT_AUDIT_RATE_MINUTES = 15
MAX_DRIFT_AUDIT_RATE_MINUTES = 360
MAX_DRIFT_AUDIT_SEGMENTS = 1_000_000
MAX_DRIFT_AUDIT_SETTLE_SECONDS = 600


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
    parallelization_factor: int = DEFAULT_PARALLELIZATION_FACTOR
    consumer_memory_mb: int = CONSUMER_MEMORY_MB
    consumer_reserved_concurrency: int = DEFAULT_CONSUMER_RESERVED_CONCURRENCY
    lambda_concurrency_quota: int = DEFAULT_LAMBDA_CONCURRENCY_QUOTA
    api_rate_limit: int = DEFAULT_API_RATE_LIMIT
    api_burst_limit: int = DEFAULT_API_BURST_LIMIT
    # Browser origins the search API answers CORS requests from. None by default: the stage's rate limit is shared
    # by every caller, and a page of another site calling the API spends it for its own visitors; name yours.
    api_allowed_origins: tuple[str, ...] = ()
    search_tables_max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS
    # The stack's own TripSearchTable's indexes: `unsharded` keeps a table deployed before write sharding as it is
    # (CloudFormation changes at most one GSI per update), for a cutover to move to a sharded one (docs/operations.md,
    # "Moving to the sharded indexes").
    search_table_layout: Layout = Layout.SHARDED
    drift_audit_rate_minutes: int = DEFAULT_DRIFT_AUDIT_RATE_MINUTES
    drift_audit_segments: int = DEFAULT_AUDIT_SEGMENTS
    drift_audit_read_budget: int = DEFAULT_AUDIT_READ_BUDGET  # DynamoDB read units per run
    drift_audit_settle_seconds: int = DEFAULT_AUDIT_SETTLE_SECONDS
    drift_audit_repair: bool = True

    @property
    def pipelines(self) -> int:
        """How many consumers the stack deploys (each with its own reserved concurrency)."""
        return int(self.dynamodb_streams_pipeline) + int(self.kinesis_pipeline)

    @property
    def tombstone_ttl_seconds(self) -> int:
        """Tombstones must outlive every change that can still be delivered: the stream's retention + a day."""
        return (self.retention_days + 1) * SECONDS_PER_DAY

    @classmethod
    def from_context(cls, get: Callable[[str], object]) -> StackSettings:
        settings = cls(
            retention_days=_integer(get, RETENTION_DAYS, cls.retention_days, 1, 365),
            capacity_mode=_choice(get, CAPACITY_MODE, CapacityMode, cls.capacity_mode),
            shard_count=_integer(get, SHARD_COUNT, cls.shard_count, 1, MAX_SHARDS),
            dynamodb_streams_pipeline=_boolean(get, DYNAMODB_STREAMS_PIPELINE, cls.dynamodb_streams_pipeline),
            kinesis_pipeline=_boolean(get, KINESIS_PIPELINE, cls.kinesis_pipeline),
            detailed_tracing=_boolean(get, DETAILED_TRACING, cls.detailed_tracing),
            parallelization_factor=_integer(
                get, PARALLELIZATION_FACTOR, cls.parallelization_factor, 1, MAX_PARALLELIZATION_FACTOR
            ),
            consumer_memory_mb=_integer(get, CONSUMER_MEMORY, cls.consumer_memory_mb, *LAMBDA_MEMORY_MB),
            consumer_reserved_concurrency=_integer(
                get, CONSUMER_RESERVED_CONCURRENCY, cls.consumer_reserved_concurrency, 1, 1_000_000
            ),
            lambda_concurrency_quota=_integer(
                get, LAMBDA_CONCURRENCY_QUOTA, cls.lambda_concurrency_quota, DEFAULT_LAMBDA_CONCURRENCY_QUOTA, 1_000_000
            ),
            api_rate_limit=_integer(get, API_RATE_LIMIT, cls.api_rate_limit, 1, API_ACCOUNT_RATE_LIMIT),
            api_burst_limit=_integer(get, API_BURST_LIMIT, cls.api_burst_limit, 1, API_ACCOUNT_BURST_LIMIT),
            api_allowed_origins=_origins(get, API_ALLOWED_ORIGINS),
            search_tables_max_age_seconds=_integer(
                get, SEARCH_TABLES_MAX_AGE, cls.search_tables_max_age_seconds, 1, MAX_SEARCH_TABLES_MAX_AGE
            ),
            search_table_layout=_choice(get, SEARCH_TABLE_LAYOUT, Layout, cls.search_table_layout),
            drift_audit_rate_minutes=_integer(
                get, DRIFT_AUDIT_RATE, cls.drift_audit_rate_minutes, 1, MAX_DRIFT_AUDIT_RATE_MINUTES
            ),
            drift_audit_segments=_integer(
                get, DRIFT_AUDIT_SEGMENTS, cls.drift_audit_segments, 1, MAX_DRIFT_AUDIT_SEGMENTS
            ),
            drift_audit_read_budget=_integer(get, DRIFT_AUDIT_READ_BUDGET, cls.drift_audit_read_budget, 1, 1_000_000),
            drift_audit_settle_seconds=_integer(
                get, DRIFT_AUDIT_SETTLE, cls.drift_audit_settle_seconds, 1, MAX_DRIFT_AUDIT_SETTLE_SECONDS
            ),
            drift_audit_repair=_boolean(get, DRIFT_AUDIT_REPAIR, cls.drift_audit_repair),
        )
        if not (settings.dynamodb_streams_pipeline or settings.kinesis_pipeline):
            raise SettingsError(
                f"context {DYNAMODB_STREAMS_PIPELINE} and {KINESIS_PIPELINE} are both false: "
                "at least one pipeline must feed TripSearchTable"
            )
        settings._check_concurrency()
        return settings

    def _check_concurrency(self) -> None:
        """The consumers' reservations must leave the account's 100 unreserved executions, and cover a provisioned
        stream's shards x ParallelizationFactor (else the Kinesis mapping is throttled for good)."""
        reservable = self.lambda_concurrency_quota - UNRESERVED_CONCURRENCY_MINIMUM
        reserved = self.consumer_reserved_concurrency * self.pipelines
        if reserved > reservable:
            raise SettingsError(
                f"context {CONSUMER_RESERVED_CONCURRENCY} {self.consumer_reserved_concurrency} x {self.pipelines} "
                f"consumers = {reserved} exceeds {reservable}: Lambda keeps {UNRESERVED_CONCURRENCY_MINIMUM} of the "
                f"account's {self.lambda_concurrency_quota} ({LAMBDA_CONCURRENCY_QUOTA}) unreserved"
            )
        batches = self.shard_count * self.parallelization_factor
        if (
            self.kinesis_pipeline
            and self.capacity_mode is CapacityMode.PROVISIONED
            and batches > self.consumer_reserved_concurrency
        ):
            raise SettingsError(
                f"context {CONSUMER_RESERVED_CONCURRENCY} {self.consumer_reserved_concurrency} is below "
                f"{SHARD_COUNT} x {PARALLELIZATION_FACTOR} = {batches}: the Kinesis consumer could not run a batch "
                "per shard and factor"
            )


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


def _origins(get: Callable[[str], object], key: str) -> tuple[str, ...]:
    raw = get(key)
    if raw is None:
        return ()
    if isinstance(raw, list) and all(isinstance(entry, str) for entry in raw):  # cdk.json may hold a list
        raw = ",".join(raw)
    if not isinstance(raw, str):
        raise SettingsError(f"context {key} must be a comma-separated list of origins, got {raw!r}")
    try:
        return parse_origins(raw)
    except ValueError as error:
        raise SettingsError(f"context {key}: {error}") from None


def _boolean(get: Callable[[str], object], key: str, default: bool) -> bool:
    raw = get(key)
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise SettingsError(f"context {key} must be true or false, got {raw!r}")


_Choice = TypeVar("_Choice", bound=Enum)


def _choice(get: Callable[[str], object], key: str, choices: type[_Choice], default: _Choice) -> _Choice:
    raw = get(key)
    if raw is None:
        return default
    try:
        return choices(str(raw).strip().lower())
    except ValueError:
        names = ", ".join(str(choice.value) for choice in choices)
        raise SettingsError(f"context {key} must be one of {names}, got {raw!r}") from None
