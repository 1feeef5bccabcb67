"""The opaque `next_token`: where the next page starts, bound to the query that issued it.

The token is base64url JSON of the resume position (the order key of the page's last trip: every shard of the
search resumes after it) plus a digest over (query, position). The digest catches a
token that was edited or that belongs to another search; it is not a secret (the API has none to keep), so the
decoder also checks that the position lies inside the query, which is all a forged token could try to escape.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from services.trip.search.criteria import InvalidSearchParameter, SearchQuery

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
    position = payload.get("after") if isinstance(payload, dict) else None
    if not (isinstance(position, str) and payload.get("check") == _digest(position, query) and query.covers(position)):
        raise InvalidSearchParameter(PARAMETER, "was altered or belongs to a different search")
    return position


def _digest(position: str, query: SearchQuery) -> str:
    material = json.dumps([query.fingerprint(), position], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]
