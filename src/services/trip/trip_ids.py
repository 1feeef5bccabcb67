"""Which trip ids can exist: the ones a URL path carries unambiguously, whether or not it is percent-encoded.

A trip id is 1 to 128 characters in Unicode NFC, each a letter, combining mark or digit of any script, or one of
``- _ . ~ @ :`` and the space; it neither starts nor ends with a space, is not made of dots only, and is not
``search`` (``GET /trips/search`` is the search itself). Why these and no others:

- ``%`` is the escape character itself: without it, an id found in a path decodes the same way whether API
  Gateway hands the path parameter decoded or still percent-encoded (public reports disagree), so decoding it
  once is always right.
- ``/`` and ``\\`` split paths (browsers turn ``\\`` into ``/``); ``?`` and ``#`` end them; ``+`` means a
  space to form decoders; other sub-delimiters (``;`` ``,`` ``=`` ``&`` …) mean parameters to some clients;
  control and invisible characters cannot be typed nor seen; ``.`` and ``..`` are dot segments that clients
  resolve away.
- NFC: the same text has one spelling, so ``trîp-é1`` typed decomposed (macOS) finds the trip stored composed.
- 128 characters (at most 512 UTF-8 bytes) fit the sort key ``PAYMENT#payment_for_<trip_id>`` in any script:
  DynamoDB allows 1,024 bytes (AWS, "Constraints in Amazon DynamoDB", sort key length).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

MAX_LENGTH = 128
PUNCTUATION = "-_.~@: "
SEARCH_SEGMENT = "search"  # GET /trips/search is its own resource beside /trips/{trip_id}: the search


class InvalidTripId(ValueError):
    """A text that cannot be a trip id; the message says why."""


def check_trip_id(trip_id: str) -> str:
    """Return `trip_id` unchanged if a trip may have it, else raise `InvalidTripId`."""
    if not 1 <= len(trip_id) <= MAX_LENGTH:
        raise InvalidTripId(f"must be 1 to {MAX_LENGTH} characters, got {len(trip_id)}")
    for character in trip_id:
        if not (character.isalnum() or unicodedata.category(character)[0] == "M" or character in PUNCTUATION):
            raise InvalidTripId(
                f"may hold letters, digits and {' '.join(PUNCTUATION.strip())} and space only, not {character!r}"
            )
    if trip_id != trip_id.strip(" "):
        raise InvalidTripId("must not start or end with a space")
    if not trip_id.strip("."):
        raise InvalidTripId("must not be made of dots only")
    if trip_id == SEARCH_SEGMENT:
        raise InvalidTripId(f"must not be {trip_id!r}: GET /trips/{trip_id} is the search")
    if not unicodedata.is_normalized("NFC", trip_id):
        raise InvalidTripId(f"must be in Unicode NFC ({unicodedata.normalize('NFC', trip_id)!r})")
    return trip_id


def trip_id_of_path_segment(segment: str) -> str:
    """The trip id a URL path segment names, decoded or still percent-encoded, in either Unicode spelling.

    Raises `InvalidTripId` when no trip can have that id (a `%` left after decoding, invalid UTF-8, ...).
    """
    try:
        decoded = unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise InvalidTripId(f"{segment!r} percent-encodes bytes that are not UTF-8") from None
    return check_trip_id(unicodedata.normalize("NFC", decoded))
