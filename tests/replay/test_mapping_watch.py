"""When a `--via-mapping` rebuild has caught up: idle or near the stream's tip, for `--quiet-for` seconds straight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

from replay.mapping.watch import CaughtUpRule, MappingReading, window_holds_records


def test_a_mapping_busy_far_behind_the_tip_is_not_caught_up_until_it_has_been_idle_long_enough() -> None:
    rule = CaughtUpRule(quiet_for_s=10, settled_since=0)

    assert not rule.observe(MappingReading(invocations=3, iterator_age_ms=3_600_000), now=5)
    assert not rule.observe(MappingReading(invocations=3, iterator_age_ms=3_600_000), now=14)
    assert rule.observe(MappingReading(invocations=3, iterator_age_ms=3_600_000), now=15)


def test_a_mapping_kept_busy_by_live_traffic_is_caught_up_once_near_the_tip_long_enough() -> None:
    rule = CaughtUpRule(quiet_for_s=10, settled_since=0)

    assert not rule.observe(MappingReading(invocations=5, iterator_age_ms=90_000), now=2)
    assert not rule.observe(MappingReading(invocations=9, iterator_age_ms=800), now=8)
    assert rule.observe(MappingReading(invocations=14, iterator_age_ms=1_200), now=12)


def test_an_empty_window_is_caught_up_after_the_quiet_period_without_any_invocation() -> None:
    rule = CaughtUpRule(quiet_for_s=10, settled_since=0)

    assert not rule.observe(MappingReading(invocations=0, iterator_age_ms=None), now=9)
    assert rule.observe(MappingReading(invocations=0, iterator_age_ms=None), now=10)


def test_a_window_holding_a_record_is_not_caught_up_before_the_copy_was_first_invoked() -> None:
    """On a busy machine or account the new mapping may take a while to poll: idle time before its first invocation
    is not the copy having read the window."""
    rule = CaughtUpRule(quiet_for_s=10, settled_since=0, awaits_invocation=True)

    assert not rule.observe(MappingReading(invocations=0, iterator_age_ms=None), now=30)
    assert not rule.observe(MappingReading(invocations=1, iterator_age_ms=500), now=35)
    assert not rule.observe(MappingReading(invocations=1, iterator_age_ms=500), now=39)
    assert rule.observe(MappingReading(invocations=1, iterator_age_ms=500), now=40)


@mock_aws
def test_the_window_holds_records_only_when_a_shard_has_one_from_its_start() -> None:
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="TripChangeStream", ShardCount=2)
    assert window_holds_records(kinesis, "TripChangeStream", None) is False

    kinesis.put_record(StreamName="TripChangeStream", Data=b"{}", PartitionKey="trip-001")
    after = datetime.now(UTC) + timedelta(seconds=5)

    assert window_holds_records(kinesis, "TripChangeStream", None) is True
    assert window_holds_records(kinesis, "TripChangeStream", datetime.now(UTC) - timedelta(minutes=1)) is True
    assert window_holds_records(kinesis, "TripChangeStream", after) is False
