"""Where the scheduled drift audit's next run starts (`auditor.Cursor`), kept in an SSM parameter of the stack.

Why a parameter: a run may stop mid-segment when its read budget is spent, and the next run must go on from there,
not skip the rest; the state is one small JSON value (Standard parameters hold 4 KB: AWS Systems Manager User Guide,
"Parameter tiers"), written once a run, outside both tables (an item under a reserved key in the search table would
be scanned, compared and cut over like a document). The function may read and write this parameter alone.
"""

from __future__ import annotations

from typing import Any

import boto3

from services.trip.auditor import Cursor


class CursorParameter:
    def __init__(self, name: str, client: Any | None = None) -> None:
        self.name = name
        self._client = client or boto3.client("ssm")

    def load(self, segments: int) -> Cursor:
        """The stored cursor (a fresh one for another number of segments); `auditor.CursorError` if unreadable."""
        value = self._client.get_parameter(Name=self.name)["Parameter"]["Value"]
        return Cursor.parse(str(value), segments)

    def store(self, cursor: Cursor) -> None:
        self._client.put_parameter(Name=self.name, Value=cursor.to_json(), Type="String", Overwrite=True)
