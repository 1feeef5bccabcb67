"""A poison record too large for SQS is parked within its limit, saying what was left out."""

from __future__ import annotations

import json

from services.trip.adapters.dead_letters import BODY_LIMIT, fitted_body


def test_a_record_over_the_sqs_limit_is_cut_to_fit_and_names_what_was_omitted() -> None:
    text = "日本語" * 130_000  # 390,000 characters, 1,170,000 bytes of UTF-8
    image = {"version": {"N": "3"}, "hotel_name": {"S": text}}
    change = {"Keys": {"PK": {"S": "TRIP#t"}}, "NewImage": image, "OldImage": image}
    record = {"eventName": "MODIFY", "dynamodb": change}
    body = {"kind": "poison-record", "reason": "version did not advance: old 3, new 3", "record": record}
    original = len(json.dumps(body, ensure_ascii=False).encode())

    fitted = fitted_body(body)

    assert len(json.dumps(fitted, ensure_ascii=False).encode()) <= BODY_LIMIT
    assert fitted["truncated"] == {
        "omitted": ["record.dynamodb.NewImage.hotel_name", "record.dynamodb.OldImage.hotel_name"],
        "original_bytes": original,
    }
    assert fitted["record"]["dynamodb"]["Keys"] == {"PK": {"S": "TRIP#t"}}
    assert fitted["record"]["dynamodb"]["NewImage"] == {"version": {"N": "3"}}
    assert fitted["reason"] == "version did not advance: old 3, new 3"
