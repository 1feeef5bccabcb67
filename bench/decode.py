"""Decode CPU: the Kinesis consumer's decoder (record -> TripChange, with every check the projection relies on)
against a plain decode of the same records (base64, JSON, and Powertools' TypeDeserializer of one image each).
Both are measured as process CPU time over the same batch, in turn; the figure is plain / ours (1.0: as fast)."""

from __future__ import annotations

import base64
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

from services.trip.changes import decode_kinesis_record

Records = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class DecodeFigure:
    records: int
    plain_s: float
    ours_s: float

    @property
    def speed(self) -> float:
        """Our decoder's speed as a share of the plain decode's."""
        return self.plain_s / self.ours_s


def plain_decode(records: Records) -> int:
    deserializer, images = TypeDeserializer(), 0
    for record in records:
        change = json.loads(base64.b64decode(record["kinesis"]["data"]))["dynamodb"]
        image = change.get("NewImage") or change["OldImage"]
        images += bool({name: deserializer.deserialize(value) for name, value in image.items()})
    return images


def our_decode(records: Records) -> int:
    return sum(decode_kinesis_record(record) is not None for record in records)


def _cpu_seconds(decode: Callable[[Records], int], records: Records) -> float:
    started = time.process_time()
    assert decode(records) == len(records)  # every record decoded: both did the whole batch
    return time.process_time() - started


def measure(records: Records, rounds: int = 5) -> DecodeFigure:
    plain, ours = [], []
    for _ in range(rounds):
        plain.append(_cpu_seconds(plain_decode, records))
        ours.append(_cpu_seconds(our_decode, records))
    return DecodeFigure(len(records), statistics.median(plain), statistics.median(ours))
