"""TripTable read as the drift audit reads it: a parallel-scan segment page by page, or one trip's items, in
DynamoDB JSON (what the consumers' decoder takes: `table_items.decode_table_item`).

AWS errors are translated as the search table's adapter translates them (`TransientStoreError`,
`PermanentStoreError`). Safe to call from several threads at once (a boto3 client).
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.trip.adapters.search_documents import CONCURRENT_REQUESTS, scan_page, translate_error
from services.trip.schema import TRIP_PK, TRIP_PK_PREFIX

_DEFAULT_CONFIG = Config(max_pool_connections=CONCURRENT_REQUESTS)


class TripItems:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        """`client`: a boto3 DynamoDB client (default: one whose pool holds `CONCURRENT_REQUESTS`)."""
        self.table_name = table_name
        self._client = client or boto3.client("dynamodb", config=_DEFAULT_CONFIG)

    def scan_page(
        self, segment: int, segments: int, start_key: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of TripTable's parallel-scan segment (`search_documents.scan_page`): a trip's items all fall in
        one segment, one after the other."""
        return scan_page(self._client, self.table_name, segment, segments, start_key, limit)

    def of_trip(self, trip_id: str, *, consistent: bool) -> list[dict[str, Any]]:
        """Every item of one trip (its bookings and its sagas' fences)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": TRIP_PK},
            "ExpressionAttributeValues": {":pk": {"S": f"{TRIP_PK_PREFIX}{trip_id}"}},
            "ConsistentRead": consistent,
        }
        items: list[dict[str, Any]] = []
        while True:
            response = self._call(self._client.query, request)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    @staticmethod
    def _call(operation: Any, request: dict[str, Any]) -> dict[str, Any]:
        try:
            response: dict[str, Any] = operation(**request)
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        return response
