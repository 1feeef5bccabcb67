"""DynamoDB access for the search API: one page of an index query, or one document by trip id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import ConditionBase, Key

from services.trip import schema
from services.trip.search.criteria import SearchQuery


@dataclass(frozen=True)
class Page:
    documents: list[dict[str, Any]]
    resume_after: dict[str, str] | None  # None: this is the last page


class SearchTableReader:
    def __init__(self, table: Any) -> None:
        self._table = table

    def page(self, query: SearchQuery, limit: int, start_after: Mapping[str, str] | None) -> Page:
        # One item more than asked tells whether another page exists, so the last page never carries a token
        # that leads to an empty one.
        request: dict[str, Any] = {
            "IndexName": query.index_name,
            "KeyConditionExpression": _key_condition(query),
            "Limit": limit + 1,
        }
        if start_after is not None:
            request["ExclusiveStartKey"] = dict(start_after)
        response = self._table.query(**request)
        documents: list[dict[str, Any]] = response["Items"]
        if len(documents) > limit:
            return Page(documents[:limit], query.position_of(documents[limit - 1]))
        # Fewer items with a LastEvaluatedKey: DynamoDB stopped at its 1 MB page size.
        return Page(documents, response.get("LastEvaluatedKey"))

    def document(self, trip_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._table.get_item(Key={schema.SEARCH_KEY: trip_id}).get("Item")
        return item


def _key_condition(query: SearchQuery) -> ConditionBase:
    condition = Key(query.partition_attribute).eq(query.partition_value)
    sort_key = Key(query.sort_attribute)
    if query.prefix is not None:
        return condition & sort_key.begins_with(query.prefix)
    if query.lower is not None and query.upper is not None:
        return condition & sort_key.between(query.lower, query.upper)
    if query.lower is not None:
        return condition & sort_key.gte(query.lower)
    if query.upper is not None:
        return condition & sort_key.lte(query.upper)
    return condition
