"""The hotel-name index key: one Unicode normalisation (NFKC case fold) for the document and the query."""

from __future__ import annotations

import pytest

from services.trip.changes import decode_stream_record
from services.trip.projection import SearchDocument, fold, to_item
from services.trip.schema import hotel_name_index_key
from services.trip.search.criteria import hotel_name_prefix_query
from tests import factories as f


@pytest.mark.parametrize(
    ("hotel_name", "initial", "key"),
    [
        ("H\u00f4tel Dupont", "h", "h\u00f4tel dupont"),
        ("Ho\u0302tel Dupont", "h", "h\u00f4tel dupont"),
        ("\u30ab\u3099\u30fc\u30c7\u30f3", "\u30ac", "\u30ac\u30fc\u30c7\u30f3"),
        ("\uff76\uff9e\uff70\uff83\uff9e\uff9d", "\u30ac", "\u30ac\u30fc\u30c7\u30f3"),
        ("\uff27\uff32\uff21\uff2e\uff24 Hotel", "g", "grand hotel"),
        ("STRASSE Straße", "s", "strasse strasse"),
        ("\u01f0ava", "\u01f0", "\u01f0ava"),  # case folding decomposes U+01F0; the key is composed again
    ],
)
def test_the_projection_indexes_the_nfkc_case_folded_name(hotel_name: str, initial: str, key: str) -> None:
    change = decode_stream_record(f.stream_record(f.insert(f.hotel("trip-001", hotel_name=hotel_name))))
    assert change is not None

    item = to_item(fold(SearchDocument("trip-001"), [change]).document, 8 * 24 * 3600)

    assert (item["hotel_name"], item["hotel_name_initial"], item["hotel_name_key"]) == (hotel_name, initial, key)


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("H\u00f4tel Dupont", "Ho\u0302t"),
        ("H\u00f4tel Dupont", "HO\u0302TEL D"),
        ("H\u00f4tel Dupont", "\uff28\uff4f\u0302"),  # full-width, decomposed
        ("\u30ac\u30fc\u30c7\u30f3", "\u30ab\u3099\u30fc"),
        ("\u30ac\u30fc\u30c7\u30f3", "\uff76\uff9e"),  # half-width
    ],
)
def test_a_query_in_an_equivalent_spelling_is_a_prefix_of_the_key(stored: str, typed: str) -> None:
    initial, key = hotel_name_index_key(stored)

    query = hotel_name_prefix_query(typed)

    assert query.partition_value == initial
    assert query.prefix is not None and key.startswith(query.prefix)
