"""TripTable's current items as the changes that made them: what a table scan (`trip-replay run --source table`,
a cutover's build) and the drift audit fold into search documents.

A current item is shaped as the DynamoDB Streams INSERT that created it and decoded by the consumers' own decoder,
so an item the consumers would call poison is poison here too. Its position names the shard `TABLE_SCAN`: the fold
ranks it below every stream copy of its version (projection.EntityRevision.of).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.trip.changes import TABLE_SCAN, Source, SourcePosition, TripChange, decode_stream_record
from services.trip.schema import TRIP_PK, TRIP_SK


def as_insert(item: Mapping[str, Any], scanned_at: int) -> dict[str, Any]:
    """A current item (DynamoDB JSON), shaped as the stream record that created it, seen at `scanned_at` (epoch
    seconds): the projection needs only its latest version."""
    keys = {name: item[name] for name in (TRIP_PK, TRIP_SK) if name in item}
    return {
        "eventName": "INSERT",
        "dynamodb": {"Keys": keys, "NewImage": dict(item), "ApproximateCreationDateTime": scanned_at},
    }


def table_position(item: Mapping[str, Any]) -> SourcePosition:
    """Where a current item was read: shard `TABLE_SCAN`, the item's keys as its "sequence number"."""
    key = "/".join(str(next(iter(item.get(name, {"S": "?"}).values()))) for name in (TRIP_PK, TRIP_SK))
    return SourcePosition(Source.DYNAMODB_STREAMS, stream=None, shard_id=TABLE_SCAN, sequence_number=key)


def decode_table_item(item: Mapping[str, Any], scanned_at: int) -> TripChange | None:
    """The change a current item (DynamoDB JSON) stands for; None if it is not a trip's flight, hotel or payment
    (a saga's fence item). Raises `PoisonRecord` as the consumers' decoder does."""
    change = decode_stream_record(as_insert(item, scanned_at))
    return None if change is None else change._replace(position=table_position(item))
