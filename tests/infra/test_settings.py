"""The context switches: defaults, the strings `cdk -c` passes, and clear errors naming the key."""

from __future__ import annotations

import pytest

from infra.settings import CapacityMode, SettingsError, StackSettings
from services.trip.schema import Layout


def settings_from(**context: object) -> StackSettings:
    return StackSettings.from_context(context.get)


def test_defaults_are_seven_days_on_demand_with_both_pipelines() -> None:
    assert settings_from() == StackSettings(
        retention_days=7,
        capacity_mode=CapacityMode.ON_DEMAND,
        shard_count=1,
        dynamodb_streams_pipeline=True,
        kinesis_pipeline=True,
        parallelization_factor=2,
        consumer_memory_mb=1769,
        consumer_reserved_concurrency=100,
        lambda_concurrency_quota=1000,
        api_rate_limit=1000,
        api_burst_limit=500,
    )


def test_command_line_strings_are_parsed() -> None:
    settings = settings_from(
        changeStreamRetentionDays="365",
        changeStreamCapacityMode="PROVISIONED",
        changeStreamShardCount="4",
        dynamoDbStreamsPipeline="false",
        kinesisPipeline="True",
        detailedTracing="true",
        parallelizationFactor="10",
        consumerMemoryMb="3008",
        consumerReservedConcurrency="950",
        lambdaConcurrencyQuota="2000",
        apiThrottlingRateLimit="10000",
        apiThrottlingBurstLimit="5000",
    )
    assert settings == StackSettings(
        retention_days=365,
        capacity_mode=CapacityMode.PROVISIONED,
        shard_count=4,
        dynamodb_streams_pipeline=False,
        kinesis_pipeline=True,
        detailed_tracing=True,
        parallelization_factor=10,
        consumer_memory_mb=3008,
        consumer_reserved_concurrency=950,
        lambda_concurrency_quota=2000,
        api_rate_limit=10_000,
        api_burst_limit=5_000,
    )


def test_cdk_json_values_are_accepted_as_json_types() -> None:
    assert settings_from(changeStreamRetentionDays=1, kinesisPipeline=False).retention_days == 1


def test_tombstones_outlive_the_stream_retention_by_one_day() -> None:
    assert settings_from(changeStreamRetentionDays=30).tombstone_ttl_seconds == 31 * 24 * 3600


@pytest.mark.parametrize("days", [0, 366, "-1", "seven", "7.5", True])
def test_retention_outside_one_to_365_days_is_rejected(days: object) -> None:
    with pytest.raises(SettingsError, match="changeStreamRetentionDays"):
        settings_from(changeStreamRetentionDays=days)


def test_unknown_capacity_mode_is_rejected_with_the_choices() -> None:
    with pytest.raises(SettingsError, match=r"changeStreamCapacityMode must be one of on-demand, provisioned"):
        settings_from(changeStreamCapacityMode="serverless")


def test_the_search_tables_layout_is_sharded_unless_a_stack_keeps_its_unsharded_table() -> None:
    assert settings_from().search_table_layout is Layout.SHARDED
    assert settings_from(searchTableLayout="Unsharded").search_table_layout is Layout.UNSHARDED
    with pytest.raises(SettingsError, match=r"^context searchTableLayout must be one of sharded, unsharded, got 'v1'$"):
        settings_from(searchTableLayout="v1")


@pytest.mark.parametrize("shards", [0, "501", "many"])
def test_shard_count_out_of_range_is_rejected(shards: object) -> None:
    with pytest.raises(SettingsError, match="changeStreamShardCount"):
        settings_from(changeStreamShardCount=shards)


@pytest.mark.parametrize("value", ["yes", "1", 1])
def test_pipeline_switch_must_be_true_or_false(value: object) -> None:
    with pytest.raises(SettingsError, match="kinesisPipeline must be true or false"):
        settings_from(kinesisPipeline=value)


def test_turning_both_pipelines_off_is_rejected() -> None:
    with pytest.raises(SettingsError, match="at least one pipeline"):
        settings_from(dynamoDbStreamsPipeline="false", kinesisPipeline="false")


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("parallelizationFactor", "0", "context parallelizationFactor must be from 1 to 10, got 0"),
        ("parallelizationFactor", "11", "context parallelizationFactor must be from 1 to 10, got 11"),
        ("consumerMemoryMb", "127", "context consumerMemoryMb must be from 128 to 10240, got 127"),
        ("consumerMemoryMb", "10241", "context consumerMemoryMb must be from 128 to 10240, got 10241"),
        ("consumerMemoryMb", "1.5", "context consumerMemoryMb must be a whole number from 128 to 10240, got '1.5'"),
        ("consumerReservedConcurrency", "0", "context consumerReservedConcurrency must be from 1 to 1000000, got 0"),
        ("lambdaConcurrencyQuota", "999", "context lambdaConcurrencyQuota must be from 1000 to 1000000, got 999"),
        ("apiThrottlingRateLimit", "10001", "context apiThrottlingRateLimit must be from 1 to 10000, got 10001"),
        ("apiThrottlingBurstLimit", "5001", "context apiThrottlingBurstLimit must be from 1 to 5000, got 5001"),
        ("apiThrottlingBurstLimit", True, "context apiThrottlingBurstLimit must be a whole number from 1 to 5000"),
    ],
)
def test_capacity_switch_out_of_range_is_rejected_naming_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_from(**{key: value})

    assert str(raised.value).startswith(message)


def test_reservations_must_leave_the_accounts_100_unreserved_executions() -> None:
    # two consumers x 451 = 902 > 1,000 - 100
    with pytest.raises(SettingsError) as raised:
        settings_from(consumerReservedConcurrency="451")

    assert str(raised.value) == (
        "context consumerReservedConcurrency 451 x 2 consumers = 902 exceeds 900: Lambda keeps 100 of the "
        "account's 1000 (lambdaConcurrencyQuota) unreserved"
    )


def test_a_raised_account_quota_allows_larger_reservations() -> None:
    assert settings_from(consumerReservedConcurrency="950", lambdaConcurrencyQuota="2000").pipelines == 2
    one_pipeline = settings_from(consumerReservedConcurrency="900", kinesisPipeline="false")
    assert one_pipeline.consumer_reserved_concurrency == 900


def test_reservation_must_cover_a_provisioned_streams_shards_times_the_factor() -> None:
    with pytest.raises(SettingsError) as raised:
        settings_from(
            changeStreamCapacityMode="provisioned",
            changeStreamShardCount="60",
            parallelizationFactor="2",
            consumerReservedConcurrency="100",
        )

    assert str(raised.value) == (
        "context consumerReservedConcurrency 100 is below changeStreamShardCount x parallelizationFactor = 120: "
        "the Kinesis consumer could not run a batch per shard and factor"
    )


def test_no_browser_origin_is_allowed_unless_named() -> None:
    assert settings_from().api_allowed_origins == ()


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("https://app.example.com", ("https://app.example.com",)),
        (" http://127.0.0.1:8000 , https://[::1]:8443 ", ("http://127.0.0.1:8000", "https://[::1]:8443")),
        (["https://a.example", "https://b.example"], ("https://a.example", "https://b.example")),  # cdk.json's list
        ("*", ("*",)),
        ("", ()),
        # as a browser sends Origin: scheme and host in lower case, no default port
        ("https://App.Example.COM:443,HTTP://a.example:80", ("https://app.example.com", "http://a.example")),
        ("https://[0:0:0:0:0:0:0:1]:8443,https://example.com.", ("https://[::1]:8443", "https://example.com.")),
    ],
)
def test_allowed_origins_are_read_from_a_comma_separated_list_or_a_json_list(value: object, origins: object) -> None:
    assert settings_from(apiAllowedOrigins=value).api_allowed_origins == origins


NOT_AN_ORIGIN = "is not an origin: scheme://host[:port] (http or https, no path), or * alone for any"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://app.example.com/", f"context apiAllowedOrigins: 'https://app.example.com/' {NOT_AN_ORIGIN}"),
        ("app.example.com", f"context apiAllowedOrigins: 'app.example.com' {NOT_AN_ORIGIN}"),
        ("ftp://files.example", f"context apiAllowedOrigins: 'ftp://files.example' {NOT_AN_ORIGIN}"),
        ("https://a.example,*", f"context apiAllowedOrigins: '*' {NOT_AN_ORIGIN}"),
        ("http://x:0", f"context apiAllowedOrigins: 'http://x:0' {NOT_AN_ORIGIN}"),
        ("http://x:99999", f"context apiAllowedOrigins: 'http://x:99999' {NOT_AN_ORIGIN}"),
        ("http://[:::::]", f"context apiAllowedOrigins: 'http://[:::::]' {NOT_AN_ORIGIN}"),
        ("https://a..b", f"context apiAllowedOrigins: 'https://a..b' {NOT_AN_ORIGIN}"),
        ("https://bücher.example", f"context apiAllowedOrigins: 'https://bücher.example' {NOT_AN_ORIGIN}"),
        (8000, "context apiAllowedOrigins must be a comma-separated list of origins, got 8000"),
    ],
)
def test_a_value_that_names_no_origin_is_rejected_naming_the_key(value: object, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_from(apiAllowedOrigins=value)

    assert str(raised.value) == message
