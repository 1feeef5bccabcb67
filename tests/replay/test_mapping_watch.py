"""When a `--via-mapping` rebuild has caught up: idle or near the stream's tip, for `--quiet-for` seconds straight."""

from __future__ import annotations

from replay.mapping.watch import CaughtUpRule, MappingReading


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
