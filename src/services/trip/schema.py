"""Names shared by the Lambda code, the CDK stack and the tools: one place for each physical name.

TripTable (write model): PK = "TRIP#<trip_id>", SK = "FLIGHT#…" | "HOTEL#…" | "PAYMENT#…".
TripSearchTable (read model): one document per trip, key ``trip_id``.
"""

from __future__ import annotations

import unicodedata

TRIP_PK = "PK"
TRIP_SK = "SK"
TRIP_PK_PREFIX = "TRIP#"
# The saga execution holding an item (its semantic lock): bookkeeping of the saga, never projected.
TRIP_HOLDER = "held_by"

SEARCH_KEY = "trip_id"
FLIGHT_STATUS_INDEX = "flight_status-departure_time-index"
FLIGHT_STATUS_INDEX_KEYS = ("flight_status", "departure_time")
HOTEL_NAME_INDEX = "hotel_name_prefix-index"
HOTEL_NAME_INDEX_KEYS = ("hotel_name_initial", "hotel_name_key")
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


def hotel_name_index_key(hotel_name: str) -> tuple[str, str]:
    """(partition, sort) values under which a hotel name, or a prefix of one, is found: its first folded character
    and its folded form (`fold_hotel_name`). Equivalent spellings and the same name in another letter case or with
    or without accents share one key: `Hôtel`, `Ho\u0302tel`, `HOTEL` and `hotel`; `İstanbul`, `ISTANBUL` and
    `istanbul`; `ガ` as U+30AC or U+30AB U+3099 and half-width `ｶﾞ`; full-width Latin letters. A prefix matches in
    whole characters of that key (`Ho` finds `Hôtel`).

    Documents keyed before this rule (the NFKC case fold, which kept accents) are found only by accented queries
    until re-projected: rebuild the search table (docs/replay.md).
    """
    key = fold_hotel_name(hotel_name)
    return key[:1], key
