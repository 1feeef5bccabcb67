"""Which search tables serve: the live one the search API reads, and the shadow the consumers keep current beside it.

A blue-green cutover (docs/operations.md, "Changing the read model") builds the next version of TripSearchTable
while the live one serves. The functions do not take the table from their environment: they read an SSM parameter
(`SEARCH_TABLES_PARAMETER`) through Powertools' Parameters utility, cached for `SEARCH_TABLES_MAX_AGE_SECONDS`, so
`trip-replay cutover` switches them without a redeploy. The parameter holds JSON:

    {"live": "<table name>", "shadow": "<table name>" | null, "layouts": {"<table name>": "unsharded"}}

- `live`: the table the search API reads, and the consumers write.
- `shadow`: a table the consumers write too (every change, through the same version gate), or null. It is the next
  version while a cutover builds it, and the previous one after the switch, kept current for a rollback.
- `layouts` (optional): the tables whose index keys are not this release's (`schema.Layout`): a stack deployed
  with `searchTableLayout=unsharded` names its own table there, so the functions write and read it with the keys
  of the releases before write sharding until a cutover moves the stack to a sharded table. A table not named has
  this release's layout.

Without `SEARCH_TABLES_PARAMETER` (tests, tools pointed at one table), `SEARCH_TABLE_NAME` is the live table and
there is no shadow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.trip import schema
from services.trip.config import ConfigurationError
from services.trip.projection import INDEX_PROJECTION
from services.trip.schema import Layout

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
    layouts: Mapping[str, Layout] = field(default_factory=dict)  # only the tables not of `Layout.SHARDED`

    def __post_init__(self) -> None:
        if self.shadow == self.live:
            raise SearchTablesError(f"table {self.live} cannot be both the live table and its shadow")

    def layout_of(self, table: str) -> Layout:
        return self.layouts.get(table, Layout.SHARDED)

    @property
    def written(self) -> tuple[str, ...]:
        """The tables every change is projected into: the live one first."""
        return (self.live,) if self.shadow is None else (self.live, self.shadow)

    def to_json(self) -> str:
        document: dict[str, Any] = {"live": self.live, "shadow": self.shadow}
        if self.layouts:  # absent when every table is sharded: the value a sharded stack has always written
            document["layouts"] = {table: str(layout) for table, layout in sorted(self.layouts.items())}
        return json.dumps(document)


def parse(text: str) -> SearchTables:
    """The parameter's value; `SearchTablesError` names what is wrong with it."""
    try:
        document = json.loads(text)
    except ValueError:
        raise SearchTablesError(f"not JSON: {text[:80]!r}") from None
    if not isinstance(document, dict) or set(document) - {"live", "shadow", "layouts"}:
        raise SearchTablesError(
            f'expected {{"live": NAME, "shadow": NAME or null, "layouts": {{NAME: LAYOUT}}}}, got {text[:80]!r}'
        )
    live, shadow = document.get("live"), document.get("shadow")
    if not isinstance(live, str) or not live:
        raise SearchTablesError(f'"live" must name a table, got {live!r}')
    if shadow is not None and (not isinstance(shadow, str) or not shadow):
        raise SearchTablesError(f'"shadow" must name a table or be null, got {shadow!r}')
    return SearchTables(live, shadow, _layouts(document.get("layouts", {})))


def _layouts(value: object) -> dict[str, Layout]:
    names = ", ".join(layout.value for layout in Layout)
    if not isinstance(value, dict):
        raise SearchTablesError(f'"layouts" must map table names to a layout ({names}), got {value!r}')
    layouts: dict[str, Layout] = {}
    for table, layout in value.items():
        if not table or layout not in [known.value for known in Layout]:
            raise SearchTablesError(f'"layouts": table {table!r} has layout {layout!r}, not one of {names}')
        layouts[table] = Layout(layout)
    return layouts


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


def table_definition(name: str, layout: Layout = Layout.SHARDED) -> dict[str, Any]:
    """CreateTable's arguments for a search table of this release (the key, `schema.SEARCH_INDEXES` projecting
    `INDEX_PROJECTION`), on demand: what infra/data.py declares, for the tables a cutover creates. `UNSHARDED`: the
    table of the releases before write sharding (`schema.UNSHARDED_INDEXES`, projecting every attribute)."""
    indexes: tuple[schema.SearchIndex | schema.UnshardedIndex, ...] = schema.SEARCH_INDEXES
    projection: dict[str, Any] = {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(INDEX_PROJECTION)}
    if layout is Layout.UNSHARDED:
        indexes, projection = tuple(schema.UNSHARDED_INDEXES.values()), {"ProjectionType": "ALL"}
    return {
        "TableName": name,
        "KeySchema": [{"AttributeName": schema.SEARCH_KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": attribute, "AttributeType": "S"}
            for attribute in (schema.SEARCH_KEY, *(key for index in indexes for key in (index.partition, index.sort)))
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition, "KeyType": "HASH"},
                    {"AttributeName": index.sort, "KeyType": "RANGE"},
                ],
                "Projection": projection,
            }
            for index in indexes
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
