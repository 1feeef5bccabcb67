"""The hotel-name index key: one folding (case, accents, width) for the document and the query."""

from __future__ import annotations

import pytest

from services.trip.changes import decode_stream_record
from services.trip.projection import SearchDocument, fold, to_item, unindexed
from services.trip.schema import HOTEL_NAME_INDEX, hotel_name_search_key, shard_key, trip_shard
from services.trip.search.criteria import hotel_name_prefix_query
from tests import factories as f


@pytest.mark.parametrize(
    ("hotel_name", "initial", "key"),
    [
        ("H\u00f4tel Dupont", "h", "hotel dupont"),
        ("Ho\u0302tel Dupont", "h", "hotel dupont"),
        ("\u30ab\u3099\u30fc\u30c7\u30f3", "\u30ac", "\u30ac\u30fc\u30c7\u30f3"),
        ("\uff76\uff9e\uff70\uff83\uff9e\uff9d", "\u30ac", "\u30ac\u30fc\u30c7\u30f3"),
        ("\uff27\uff32\uff21\uff2e\uff24 Hotel", "g", "grand hotel"),
        ("STRASSE Straße", "s", "strasse strasse"),
        ("\u01f0ava", "j", "java"),  # an accent that case folding decomposes is removed too
    ],
)
def test_the_projection_indexes_the_folded_name(hotel_name: str, initial: str, key: str) -> None:
    change = decode_stream_record(f.stream_record(f.insert(f.hotel("trip-001", hotel_name=hotel_name))))
    assert change is not None

    item = to_item(fold(SearchDocument("trip-001"), [change]).document, 8 * 24 * 3600)

    shard = shard_key(initial, trip_shard("trip-001"))
    assert (item["hotel_name"], item[HOTEL_NAME_INDEX.partition], item[HOTEL_NAME_INDEX.sort]) == (
        hotel_name,
        shard,
        f"{key}\x00trip-001",
    )


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("H\u00f4tel Dupont", "Ho\u0302t"),
        ("H\u00f4tel Dupont", "HO\u0302TEL D"),
        ("H\u00f4tel Dupont", "\uff28\uff4f\u0302"),  # full-width, decomposed
        ("\u30ac\u30fc\u30c7\u30f3", "\u30ab\u3099\u30fc"),
        ("\u30ac\u30fc\u30c7\u30f3", "\uff76\uff9e"),  # half-width
        # an unaccented query finds an accented name, and back
        ("\u0130stanbul Grand Hotel", "istanbul"),
        ("\u0130stanbul Grand Hotel", "ISTANBUL"),
        ("H\u00f4tel Plaza Ath\u00e9n\u00e9e", "Hotel"),
        ("H\u00f4tel Plaza Ath\u00e9n\u00e9e", "HOTEL PLAZA ATHENEE"),
        ("Hotel Plaza Athenee", "H\u00d4TEL PLAZA ATH\u00c9N\u00c9E"),
    ],
)
def test_a_query_in_an_equivalent_spelling_is_a_prefix_of_the_key(stored: str, typed: str) -> None:
    key = hotel_name_search_key(stored)

    query = hotel_name_prefix_query(typed)

    assert query.value == key[:1]
    assert query.prefix is not None and key.startswith(query.prefix)


@pytest.mark.parametrize(
    ("hotel_name", "key"),
    [
        ("\u0130stanbul Grand Hotel", "istanbul grand hotel"),  # casefold leaves i + U+0307: the dot goes
        ("istanbul", "istanbul"),
        ("ISTANBUL", "istanbul"),
        ("\u0131stanbul", "istanbul"),  # dotless i
        ("H\u00f4tel Plaza Ath\u00e9n\u00e9e", "hotel plaza athenee"),
        ("Hotel", "hotel"),
        ("H\u00d4TEL", "hotel"),
        ("Ath\u00e9n\u00e9e", "athenee"),
        ("athenee", "athenee"),
        ("\u00d8resund \u00c6ble \u0141\u00f3d\u017a \u0110\u00e0 \u0152uvre", "oresund aeble lodz da oeuvre"),
        ("Stra\u00dfe", "strasse"),
        ("\u0391\u03b8\u03ae\u03bd\u03b1", "\u03b1\u03b8\u03b7\u03bd\u03b1"),  # Greek tonos
        ("\u0419\u043e\u0448\u043a\u0430\u0440", "\u0438\u043e\u0448\u043a\u0430\u0440"),  # Cyrillic breve
    ],
)
def test_the_key_ignores_case_and_accents(hotel_name: str, key: str) -> None:
    assert hotel_name_search_key(hotel_name) == key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("\u0915\u0941\u0932", "\u0915\u0941\u0932"),  # Devanagari कुल: the vowel sign u is a letter
        ("\u0915\u0932", "\u0915\u0932"),  # कल
        ("\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35"),  # Thai vowels kept
        ("\ud55c\uad6d\ud638\ud154", "\ud55c\uad6d\ud638\ud154"),  # Hangul syllables composed again
        ("\u30ac\u30fc\u30c7\u30f3", "\u30ac\u30fc\u30c7\u30f3"),  # kana voicing mark kept
    ],
)
def test_marks_that_are_letters_of_their_script_are_kept(name: str, key: str) -> None:
    assert hotel_name_search_key(name) == key
    assert hotel_name_search_key("\u0915\u0941\u0932") != hotel_name_search_key("\u0915\u0932")


def test_a_name_whose_key_is_too_long_for_the_index_leaves_the_document_out_of_it() -> None:
    name = "H" + "\u00f4" * 526  # key "h" + "o" * 526 is short; the accented name itself is 1,053 bytes
    long_name = "\u0915" * 351  # 1,053 bytes of Devanagari, kept as it is
    for hotel_name, indexed in ((name, True), (long_name, False)):
        change = decode_stream_record(f.stream_record(f.insert(f.hotel("trip-001", hotel_name=hotel_name))))
        assert change is not None

        item = to_item(fold(SearchDocument("trip-001"), [change]).document, 8 * 24 * 3600)

        assert item["hotel_name"] == hotel_name
        keys = (HOTEL_NAME_INDEX.partition in item, HOTEL_NAME_INDEX.sort in item)
        assert keys == (indexed, indexed)
        assert unindexed(item) == (() if indexed else (HOTEL_NAME_INDEX.name,))


def test_a_name_of_accents_only_is_in_no_hotel_name_index_and_said_so() -> None:
    document = SearchDocument("trip-001", {"hotel_name": "\u0301\u0302"})

    item = to_item(document, 8 * 24 * 3600)

    assert HOTEL_NAME_INDEX.partition not in item
    assert unindexed(item) == (HOTEL_NAME_INDEX.name,)
