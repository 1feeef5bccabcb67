"""The context switches: defaults, the strings `cdk -c` passes, and clear errors naming the key."""

from __future__ import annotations

import pytest

from infra.settings import CapacityMode, SettingsError, StackSettings


def settings_from(**context: object) -> StackSettings:
    return StackSettings.from_context(context.get)


def test_defaults_are_seven_days_on_demand_with_both_pipelines() -> None:
    assert settings_from() == StackSettings(
        retention_days=7,
        capacity_mode=CapacityMode.ON_DEMAND,
        shard_count=1,
        dynamodb_streams_pipeline=True,
        kinesis_pipeline=True,
    )


def test_command_line_strings_are_parsed() -> None:
    settings = settings_from(
        changeStreamRetentionDays="365",
        changeStreamCapacityMode="PROVISIONED",
        changeStreamShardCount="4",
        dynamoDbStreamsPipeline="false",
        kinesisPipeline="True",
        detailedTracing="true",
    )
    assert settings == StackSettings(
        retention_days=365,
        capacity_mode=CapacityMode.PROVISIONED,
        shard_count=4,
        dynamodb_streams_pipeline=False,
        kinesis_pipeline=True,
        detailed_tracing=True,
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
