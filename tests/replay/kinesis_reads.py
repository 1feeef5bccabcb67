"""What the replay reader asks of Kinesis, recorded call by call and shard by shard, on a clock of the test's own.

`FakeClock` gives each thread its own time (a shard is read on a thread of its own), so a shard's pacing is checked
in that shard's time and no test waits for it. `GetRecordsLog` records every GetRecords a client sends: its shard
(from moto's iterator), when by that clock, the `Limit` asked and the records answered; it can answer a call as
throttled instead, as Kinesis does when a shard's read limit is reached.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from moto.kinesis.utils import decompose_shard_iterator


class FakeClock:
    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.slept: list[float] = []  # every sleep, of any thread, in the order slept

    def now(self) -> float:
        return float(getattr(self._local, "now", 0.0))

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
        self._local.now = self.now() + seconds


@dataclass
class Call:
    at: float  # by the calling thread's FakeClock, when sent
    limit: int
    data: list[bytes] = field(default_factory=list)  # the records answered, in order
    size: int = 0  # their bytes as Kinesis counts them: data and partition key
    throttled: bool = False


class GetRecordsLog:
    def __init__(
        self, events: Any, clock: FakeClock, throttle: Callable[[str, int], bool] = lambda shard, call: False
    ) -> None:
        """`events`: a client's or a session's event emitter; `throttle(shard, n)`: answer the shard's n-th call
        (from 1) as throttled."""
        self.clock, self.throttle = clock, throttle
        self.calls: dict[str, list[Call]] = defaultdict(list)
        self.order: list[tuple[str, str]] = []  # (operation, shard) as sent, every thread's
        self._lock = threading.Lock()
        events.register("before-parameter-build.kinesis.GetShardIterator", self._opening)
        events.register("before-parameter-build.kinesis.GetRecords", self._sending)
        events.register("before-call.kinesis.GetRecords", self._answer_throttled)
        events.register("after-call.kinesis.GetRecords", self._answered)

    def _opening(self, params: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.order.append(("GetShardIterator", params["ShardId"]))

    def _sending(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        shard = decompose_shard_iterator(params["ShardIterator"])[1]
        call = Call(self.clock.now(), params["Limit"])
        with self._lock:
            self.calls[shard].append(call)
            self.order.append(("GetRecords", shard))
            number = len(self.calls[shard])
        call.throttled = self.throttle(shard, number)  # outside the lock: it may wait for other shards' calls
        context["logged_call"] = call

    @staticmethod
    def _answer_throttled(context: dict[str, Any], **_: Any) -> Any:
        if not context["logged_call"].throttled:
            return None
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded for shard"}
        return AWSResponse("https://kinesis", 400, {}, None), {"Error": error, "ResponseMetadata": {}}

    @staticmethod
    def _answered(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call: Call = context["logged_call"]
        for record in parsed.get("Records", []):
            call.data.append(record["Data"])
            call.size += len(record["Data"]) + len(record["PartitionKey"].encode())

    def read(self, shard: str | None = None) -> list[bytes]:
        """The records answered, of one shard or of all."""
        shards = [shard] if shard else list(self.calls)
        return [data for name in shards for call in self.calls[name] for data in call.data]

    def most_calls_in_a_second(self, shard: str) -> int:
        times = [call.at for call in self.calls[shard]]
        return max(sum(1 for other in times if start <= other < start + 1.0) for start in times)
