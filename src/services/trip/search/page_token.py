"""The opaque `next_token`: where the next page starts, bound to the query that issued it.

The token is base64url JSON of the resume position (the order key of the page's last trip: every shard of the
search resumes after it) plus a digest over (query, position). The digest catches a
token that was edited or that belongs to another search; it is not a secret (the API has none to keep), so the
decoder also checks that the position lies inside the query, which is all a forged token could try to escape.

A token of the releases before write sharding (its position the unsharded index's key as a map, its digest over
that release's query fingerprint) is taken too, as the order key it stands for: a walk under way while such a
stack is redeployed with `searchTableLayout=unsharded` goes on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from services.trip import schema
from services.trip.search.criteria import ABOVE_SEPARATOR, InvalidSearchParameter, SearchQuery

PARAMETER = "next_token"


def encode(position: str, query: SearchQuery) -> str:
    payload = {"after": position, "check": _digest(position, query)}
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, query: SearchQuery) -> str:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):  # json.loads recurses once per nested array or object
        raise InvalidSearchParameter(PARAMETER, "is not a token this API issued") from None
    after, check = (payload.get("after"), payload.get("check")) if isinstance(payload, dict) else (None, None)
    position: str | None = None
    if isinstance(after, dict):
        position = _unsharded_position(after, check, query)
    elif isinstance(after, str) and check == _digest(after, query):
        position = after
    if not (isinstance(position, str) and query.covers(position)):
        raise InvalidSearchParameter(PARAMETER, "was altered or belongs to a different search")
    return position


def _unsharded_position(after: dict[Any, Any], check: object, query: SearchQuery) -> str | None:
    """The order key a token of the releases before write sharding resumes at, or None if it is not one of theirs
    for this search. Their position was the unsharded index's key (`trip_id`, its partition and sort attributes), and
    their digest covered it with their query's fingerprint: the index, its key attributes and value, the departure
    range (its upper end without U+0001) or the folded prefix."""
    index = schema.UNSHARDED_INDEXES[query.index]
    if set(after) != {schema.SEARCH_KEY, index.partition, index.sort} or not all(
        isinstance(value, str) for value in after.values()
    ):
        return None
    fingerprint = {
        "index_name": index.name,
        "partition_attribute": index.partition,
        "partition_value": query.value,
        "sort_attribute": index.sort,
        "lower": query.lower,
        "upper": None if query.upper is None else query.upper.removesuffix(ABOVE_SEPARATOR),
        "prefix": query.prefix,
    }
    material = json.dumps(
        [json.dumps(fingerprint, sort_keys=True, separators=(",", ":")), after], sort_keys=True, separators=(",", ":")
    )
    if check != hashlib.sha256(material.encode()).hexdigest()[:32] or after[index.partition] != query.value:
        return None
    return schema.bounded_order_key(after[index.sort], after[schema.SEARCH_KEY])


def _digest(position: str, query: SearchQuery) -> str:
    material = json.dumps([query.fingerprint(), position], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]
