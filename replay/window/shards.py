"""The shards of the change stream, in lineage order: a parent before its children.

After a reshard, the parent shard is closed and keeps the changes written before the split; its children hold the
ones after. Reading parents first replays each partition key's changes in the order they were written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from replay.errors import aws_errors


@dataclass(frozen=True)
class Shard:
    shard_id: str
    parents: tuple[str, ...]
    ending_sequence_number: str | None  # set once the shard is closed by a split or a merge

    @property
    def closed(self) -> bool:
        return self.ending_sequence_number is not None


def list_shards(kinesis: Any, stream_name: str) -> list[Shard]:
    """Every shard the stream still retains, open and closed."""
    shards: list[Shard] = []
    request: dict[str, Any] = {"StreamName": stream_name}
    with aws_errors(f"listing the shards of stream {stream_name}"):
        while True:
            response = kinesis.list_shards(**request)
            shards.extend(_shard(raw) for raw in response["Shards"])
            if not response.get("NextToken"):
                return shards
            request = {"NextToken": response["NextToken"]}  # ListShards refuses StreamName with a NextToken


def _shard(raw: dict[str, Any]) -> Shard:
    parents = tuple(raw[key] for key in ("ParentShardId", "AdjacentParentShardId") if raw.get(key))
    return Shard(raw["ShardId"], parents, raw["SequenceNumberRange"].get("EndingSequenceNumber"))


def lineage_order(shards: Iterable[Shard]) -> list[Shard]:
    """Parents before children; otherwise by shard id. Parents past retention are no longer listed: ignored."""
    by_id = {shard.shard_id: shard for shard in shards}
    ordered: list[Shard] = []
    placed: set[str] = set()

    def place(shard: Shard) -> None:
        if shard.shard_id in placed:
            return
        placed.add(shard.shard_id)
        for parent in sorted(shard.parents):
            if parent in by_id:
                place(by_id[parent])
        ordered.append(shard)

    for shard_id in sorted(by_id):
        place(by_id[shard_id])
    return ordered
