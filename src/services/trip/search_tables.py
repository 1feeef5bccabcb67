"""Which search tables serve: the live one the search API reads, and the shadow the consumers keep current beside it.

A blue-green cutover (docs/operations.md, "Changing the read model") builds the next version of TripSearchTable
while the live one serves. The functions do not take the table from their environment: they read an SSM parameter
(`SEARCH_TABLES_PARAMETER`) through Powertools' Parameters utility, cached for `SEARCH_TABLES_MAX_AGE_SECONDS`, so
`trip-replay cutover` switches them without a redeploy. The parameter holds JSON:

    {"live": "<table name>", "shadow": "<table name>" | null}

- `live`: the table the search API reads, and the consumers write.
- `shadow`: a table the consumers write too (every change, through the same version gate), or null. It is the next
  version while a cutover builds it, and the previous one after the switch, kept current for a rollback.

Without `SEARCH_TABLES_PARAMETER` (tests, tools pointed at one table), `SEARCH_TABLE_NAME` is the live table and
there is no shadow.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from services.trip import schema
from services.trip.config import ConfigurationError
from services.trip.projection import INDEX_PROJECTION

# Powertools' own default is 5 s. A parameter read is a GetParameter call, 40 a second per account and region at
# the standard throughput (AWS Systems Manager endpoints and quotas): 1,000 function instances reading every 30 s
# stay under it. The cutover waits twice this before it counts on every function having seen a change.
DEFAULT_MAX_AGE_SECONDS = 30


class SearchTablesError(ValueError):
    """The parameter's value is not a search-tables document."""


@dataclass(frozen=True)
class SearchTables:
    live: str
    shadow: str | None = None

    def __post_init__(self) -> None:
        if self.shadow == self.live:
            raise SearchTablesError(f"table {self.live} cannot be both the live table and its shadow")

    @property
    def written(self) -> tuple[str, ...]:
        """The tables every change is projected into: the live one first."""
        return (self.live,) if self.shadow is None else (self.live, self.shadow)

    def to_json(self) -> str:
        return json.dumps({"live": self.live, "shadow": self.shadow})


def parse(text: str) -> SearchTables:
    """The parameter's value; `SearchTablesError` names what is wrong with it."""
    try:
        document = json.loads(text)
    except ValueError:
        raise SearchTablesError(f"not JSON: {text[:80]!r}") from None
    if not isinstance(document, dict) or set(document) - {"live", "shadow"}:
        raise SearchTablesError(f'expected {{"live": NAME, "shadow": NAME or null}}, got {text[:80]!r}')
    live, shadow = document.get("live"), document.get("shadow")
    if not isinstance(live, str) or not live:
        raise SearchTablesError(f'"live" must name a table, got {live!r}')
    if shadow is not None and (not isinstance(shadow, str) or not shadow):
        raise SearchTablesError(f'"shadow" must name a table or be null, got {shadow!r}')
    return SearchTables(live, shadow)


def current() -> SearchTables:
    """The tables now, as the parameter says (read at most every `SEARCH_TABLES_MAX_AGE_SECONDS`), or the one
    `SEARCH_TABLE_NAME` names. `ConfigurationError` if neither is set or the parameter cannot be read."""
    parameter = os.environ.get("SEARCH_TABLES_PARAMETER", "").strip()
    if not parameter:
        table = os.environ.get("SEARCH_TABLE_NAME", "").strip()
        if not table:
            raise ConfigurationError(
                "environment variable SEARCH_TABLES_PARAMETER (or SEARCH_TABLE_NAME) is not set: it must name the "
                "SSM parameter that says which search tables serve"
            )
        return SearchTables(table)
    from aws_lambda_powertools.utilities import parameters  # imported by the functions that read it only

    value = parameters.get_parameter(parameter, max_age=max_age_seconds())
    try:
        return parse(str(value))
    except SearchTablesError as error:
        raise ConfigurationError(f"SSM parameter {parameter}: {error}") from None


def max_age_seconds() -> int:
    raw = os.environ.get("SEARCH_TABLES_MAX_AGE_SECONDS", "").strip()
    if not raw:
        return DEFAULT_MAX_AGE_SECONDS
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigurationError(f"environment variable SEARCH_TABLES_MAX_AGE_SECONDS must be positive, got {raw!r}")
    return int(raw)


def table_definition(name: str) -> dict[str, Any]:
    """CreateTable's arguments for a search table of this release (the key, `schema.SEARCH_INDEXES` projecting
    `INDEX_PROJECTION`), on demand: what infra/data.py declares, for the tables a cutover creates."""
    return {
        "TableName": name,
        "KeySchema": [{"AttributeName": schema.SEARCH_KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": attribute, "AttributeType": "S"}
            for attribute in (
                schema.SEARCH_KEY,
                *(key for index in schema.SEARCH_INDEXES for key in (index.partition, index.sort)),
            )
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition, "KeyType": "HASH"},
                    {"AttributeName": index.sort, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(INDEX_PROJECTION)},
            }
            for index in schema.SEARCH_INDEXES
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
