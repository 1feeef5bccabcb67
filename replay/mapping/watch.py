"""How far the temporary mapping has got, from the `IteratorAge` metric Lambda publishes, and when it has caught up.

Lambda puts one `IteratorAge` value (ms: how old the newest record of the batch was) per invocation, under
`AWS/Lambda` with the dimension `FunctionName`; the copy is the only function of its mapping, so its metric is
the mapping's. The sample count is the number of invocations so far; the newest minute's maximum is the age.

Caught up: for `quiet_for` seconds straight, every look found the mapping either idle (no new invocation: it has
reached the stream's tip, as on a quiet stream; never before its first invocation when the window holds a record,
`window_holds_records`) or near the tip (the newest minute's iterator age at most
`NEAR_TIP_MS`, as with live traffic that keeps it busy). On AWS, Lambda metrics arrive per minute and a minute or
two late: `quiet_for` must be longer than that (default 180 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from replay.errors import aws_errors

NEAR_TIP_MS = 10_000
# GetRecords calls a shard is probed with for a record of the window before it counts as holding one anyway: a probe
# that ends neither at a record nor at the tip (MillisBehindLatest 0) errs on the side of waiting for the copy.
PROBE_CALLS_PER_SHARD = 10


def window_holds_records(kinesis: Any, stream_name: str, start: datetime | None) -> bool:
    """Whether any shard of the stream holds a record from `start` on (None: the start of its retention), read with
    GetRecords (Limit 1) until a record or the shard's tip, `PROBE_CALLS_PER_SHARD` calls at most."""
    with aws_errors(f"looking for records of the window in stream {stream_name}"):
        for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
            where = (
                {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": start}
                if start
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = kinesis.get_shard_iterator(StreamName=stream_name, ShardId=shard["ShardId"], **where)
            position = iterator["ShardIterator"]
            for _ in range(PROBE_CALLS_PER_SHARD):
                page = kinesis.get_records(ShardIterator=position, Limit=1)
                if page["Records"]:
                    return True
                position = page.get("NextShardIterator")
                if position is None or page.get("MillisBehindLatest", 0) == 0:
                    break
            else:
                return True
    return False


@dataclass(frozen=True)
class MappingReading:
    invocations: int
    iterator_age_ms: float | None  # the newest minute's maximum; None before the first invocation


class IteratorAgeMetric:
    def __init__(self, cloudwatch: Any, function_name: str, since: datetime) -> None:
        self.cloudwatch = cloudwatch
        self.function_name = function_name
        self.since = since

    def read(self) -> MappingReading:
        with aws_errors(f"reading the IteratorAge metric of {self.function_name}"):
            datapoints = self.cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName="IteratorAge",
                Dimensions=[{"Name": "FunctionName", "Value": self.function_name}],
                StartTime=self.since - timedelta(minutes=1),
                EndTime=datetime.now(UTC) + timedelta(minutes=1),
                Period=60,
                Statistics=["SampleCount", "Maximum"],
            )["Datapoints"]
        newest = max(datapoints, key=lambda point: point["Timestamp"], default=None)
        return MappingReading(
            invocations=int(sum(point["SampleCount"] for point in datapoints)),
            iterator_age_ms=None if newest is None else float(newest["Maximum"]),
        )


@dataclass
class CaughtUpRule:
    quiet_for_s: float
    settled_since: float  # when the mapping was enabled, then the last look that found it busy far behind the tip
    awaits_invocation: bool = False  # the window holds a record: idle counts only once the copy has been invoked
    invocations: int = field(default=0, init=False)

    def observe(self, reading: MappingReading, now: float) -> bool:
        if self.awaits_invocation and reading.invocations == 0:
            self.settled_since = now  # not started yet (a busy account, a slow first poll): not caught up
            return False
        busy = reading.invocations != self.invocations
        self.invocations = reading.invocations
        near_tip = reading.iterator_age_ms is not None and reading.iterator_age_ms <= NEAR_TIP_MS
        if busy and not near_tip:
            self.settled_since = now
        return self.settled_for(now) >= self.quiet_for_s

    def settled_for(self, now: float) -> float:
        return now - self.settled_since
