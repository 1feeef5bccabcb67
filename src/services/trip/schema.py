"""Names shared by the Lambda code, the CDK stack and the tools: one place for each physical name.

TripTable (write model): PK = "TRIP#<trip_id>", SK = "FLIGHT#…" | "HOTEL#…" | "PAYMENT#…".
TripSearchTable (read model): one document per trip, key ``trip_id``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

TRIP_PK = "PK"
TRIP_SK = "SK"
TRIP_PK_PREFIX = "TRIP#"
# The saga execution holding an item (its semantic lock): bookkeeping of the saga, never projected.
TRIP_HOLDER = "held_by"

SEARCH_KEY = "trip_id"
TTL_ATTRIBUTE = "expires_at"
# Key value lengths in UTF-8 bytes (AWS, "Constraints in Amazon DynamoDB": partition key 1 to 2,048, sort key 1 to
# 1,024), for the tables' keys and their indexes' alike.
PARTITION_KEY_BYTES = 2048
SORT_KEY_BYTES = 1024


# Combining marks that are diacritics: the script-neutral blocks Latin, Greek and Cyrillic letters take their accents
# from (Combining Diacritical Marks and its Extended and Supplement blocks, Combining Marks for Symbols, Combining Half
# Marks), Hebrew points and Arabic harakat. Marks of other scripts (Indic vowel signs and viramas, Thai vowels and
# tone marks, kana voicing marks) are letters or primary differences there and are kept.
_DIACRITIC_RANGES = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
    (0x0591, 0x05C7),  # Hebrew accents and points
    (0x064B, 0x065F),  # Arabic harakat
    (0x0670, 0x0670),  # Arabic superscript alef
)
# Letters with a stroke, a ligature or a dotless form that no decomposition separates from their base: folded as a
# search engine's accent folding (ICU, Lucene's ASCIIFoldingFilter) folds them. Applied after case folding.
_LETTER_FOLDS = str.maketrans(
    {
        "\u0131": "i",  # dotless i
        "\u00f8": "o",  # ø
        "\u00e6": "ae",  # æ
        "\u0153": "oe",  # œ
        "\u0111": "d",  # đ
        "\u0142": "l",  # ł
        "\u0127": "h",  # ħ
        "\u0167": "t",  # ŧ
        "\u0180": "b",  # ƀ
        "\u0268": "i",  # ɨ
    }
)


def _is_diacritic(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char) == "Mn" and any(low <= code <= high for low, high in _DIACRITIC_RANGES)


def fold_hotel_name(text: str) -> str:
    """A hotel name (or a typed prefix of one) as search compares it: insensitive to case, accents and width.

    `NFKC(letter folds(strip diacritics(NFKD(casefold(NFKD(text))))))`: the compatibility decomposition separates
    accents from their letters (and maps full-width and half-width forms to the usual ones); case folding (Unicode
    full case folding: `ß` -> `ss`, `İ` -> `i` + U+0307) is decomposed again; the combining marks that are
    diacritics (`_DIACRITIC_RANGES`: those Latin, Greek and Cyrillic letters carry, U+0307 included, Hebrew points,
    Arabic harakat) go; dotless i and `ø æ œ đ ł ħ ŧ` become `i o ae oe d l h t`; NFKC composes the rest. Marks
    that are letters of their script are kept: Devanagari `कुल` and `कल` stay apart, as do Thai vowels and kana
    voicing marks (`ガ` is not `カ`). This is close to UCA primary strength (ICU's case and accent folding) for the
    Latin, Greek and Cyrillic scripts, and stricter elsewhere.
    """
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    stripped = "".join(char for char in decomposed if not _is_diacritic(char))
    return unicodedata.normalize("NFKC", stripped.translate(_LETTER_FOLDS))


@dataclass(frozen=True)
class SearchIndex:
    """A global secondary index of TripSearchTable: the stack, the test tables, the rebuild targets and the cost
    model all read its definition from here.

    Its partition key is a *write-sharded* value, `<value>#<shard>`: `<value>` is what a search asks for (a flight
    status, a hotel name's first folded character) and `<shard>` (`trip_shard`, 000 to `SEARCH_SHARDS` - 1)
    spreads one value's writes over `SEARCH_SHARDS` partition keys, so no key takes more than its share of a
    status's or an initial's writes (docs/design.md, "Write-sharded indexes"). Its sort key is an *order key*,
    `<sort value>` U+0000 `<trip id>`: unique per document, so the shards of a search merge into one total order
    (search/reader.py). It projects only what the search shows (`projection.INDEX_PROJECTION`, the public fields):
    a write that moves only the document's bookkeeping (its `versions` marks, its `revision`) writes no index.
    """

    name: str
    partition: str
    sort: str

    def partitions(self, value: str) -> tuple[str, ...]:
        """Every partition key a search for `value` reads: one per shard, in shard order."""
        return tuple(shard_key(value, shard) for shard in range(SEARCH_SHARDS))


# A power of two would not matter; 64 is what 100,000 changes a second needs (docs/capacity.md): the hottest
# flight status then takes under half of a partition's 1,000 WCU a second.
SEARCH_SHARDS = 64
ORDER_SEPARATOR = "\x00"  # sorts before every character: `a` + U+0000 + id < `a b` + U+0000 + id, as `a` < `a b`
FLIGHT_STATUS_INDEX = SearchIndex(
    "flight_status-departure_time-sharded-index", "flight_status_shard", "departure_order"
)
HOTEL_NAME_INDEX = SearchIndex("hotel_name_prefix-sharded-index", "hotel_name_shard", "hotel_name_order")
SEARCH_INDEXES = (FLIGHT_STATUS_INDEX, HOTEL_NAME_INDEX)


class Layout(StrEnum):
    """The index keys a search table holds.

    - `SHARDED`: this release's (`SEARCH_INDEXES`).
    - `UNSHARDED`: the releases' before write sharding (`UNSHARDED_INDEXES`), kept by a stack deployed with the
      context `searchTableLayout=unsharded` until a cutover moves it to a sharded table without downtime
      (docs/operations.md, "Moving to the sharded indexes"). Its flight-status index is keyed on the document's
      own `flight_status` and `departure_time`, its hotel-name index on `hotel_name_initial` and `hotel_name_key`
      (the hotel name's first folded character and its fold), and both project every attribute.
    """

    SHARDED = "sharded"
    UNSHARDED = "unsharded"


@dataclass(frozen=True)
class UnshardedIndex:
    """An index of an `UNSHARDED` table: one partition key per value a search asks for, sorted by the value the
    search orders by (ties in an order of DynamoDB's own)."""

    name: str
    partition: str
    sort: str


# Per index of this release, its unsharded predecessor: exactly what those releases declared.
UNSHARDED_INDEXES = {
    FLIGHT_STATUS_INDEX: UnshardedIndex("flight_status-departure_time-index", "flight_status", "departure_time"),
    HOTEL_NAME_INDEX: UnshardedIndex("hotel_name_prefix-index", "hotel_name_initial", "hotel_name_key"),
}


def trip_shard(trip_id: str) -> int:
    """The trip's write shard, 0 to `SEARCH_SHARDS` - 1: the first 8 bytes of SHA-256 of its UTF-8 id, modulo the
    shard count. Stable across processes and releases (unlike `hash`), uniform over any set of ids."""
    digest = hashlib.sha256(trip_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % SEARCH_SHARDS


def shard_key(value: str, shard: int) -> str:
    """An index partition key: `CONFIRMED#017`, `h#005`."""
    return f"{value}#{shard:03d}"


def order_key(value: str, trip_id: str) -> str:
    """An index sort key: the value, U+0000, the trip id. `value` holds no U+0000 (callers remove it), so the order
    keys sort as the values do, ties by trip id, and a prefix of the value is a prefix of its order keys only."""
    return f"{value}{ORDER_SEPARATOR}{trip_id}"


def bounded_order_key(value: str, trip_id: str) -> str:
    """`order_key` of a value less its U+0000, its value cut (at a character) so that it fits `SORT_KEY_BYTES`:
    a resume position for an index whose stored key may be longer than an order key can be (`Layout.UNSHARDED`'s,
    the fold alone). It sorts at or before the stored key's own order key."""
    value = value.replace(ORDER_SEPARATOR, "")
    room = SORT_KEY_BYTES - key_bytes(order_key("", trip_id))
    encoded = value.encode("utf-8", "surrogatepass")
    if len(encoded) > room:
        value = encoded[:room].decode("utf-8", "ignore")
    return order_key(value, trip_id)


def trip_of_order_key(key: str) -> str:
    """The trip id an order key ends with."""
    return key.partition(ORDER_SEPARATOR)[2]


def hotel_name_search_key(hotel_name: str) -> str:
    """A hotel name, or a typed prefix of one, as the hotel-name index compares it: its fold (`fold_hotel_name`)
    without U+0000, the order key's separator. Equivalent spellings and the same name in another letter case or
    with or without accents share one key: `Hôtel`, `Ho\u0302tel`, `HOTEL` and `hotel`; `İstanbul`, `ISTANBUL`
    and `istanbul`; `ガ` as U+30AC or U+30AB U+3099 and half-width `ｶﾞ`; full-width Latin letters. A prefix
    matches in whole characters of that key (`Ho` finds `Hôtel`); its first character is the index's `<value>`."""
    return fold_hotel_name(hotel_name).replace(ORDER_SEPARATOR, "")


def key_bytes(value: str) -> int:
    """A key value's size as DynamoDB counts it: UTF-8 bytes (a lone surrogate counted as its 3 bytes)."""
    return len(value.encode("utf-8", "surrogatepass"))
