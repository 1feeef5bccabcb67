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


def hotel_name_index_key(hotel_name: str) -> tuple[str, str]:
    """(partition, sort) values under which a hotel name, or a prefix of one, is found.

    The key is the name's NFKC case fold, `NFKC(casefold(NFKC(name)))`: the composed form of the Unicode
    Standard's compatibility caseless matching (section 3.13; the outer NFKC recomposes what folding leaves
    decomposed, such as U+01F0 `ǰ`). Equivalent spellings share one key: composed and decomposed `Hôtel`,
    `ガ` as U+30AC or U+30AB U+3099, half-width `ｶﾞ`, full-width Latin letters, any letter case. A prefix
    matches in whole characters of that key.
    """
    key = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", hotel_name).casefold())
    return key[:1], key
