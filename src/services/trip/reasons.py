"""How a reason (a poison record's, a refused value's) quotes the value it refuses."""

from __future__ import annotations

QUOTED_LIMIT = 80


def quoted(value: object, limit: int = QUOTED_LIMIT) -> str:
    """`repr(value)`, whole when at most `limit` characters, else its start and its length: a reason stays one
    readable line whatever a writer put in the record (a DynamoDB string may be 400 KB)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
