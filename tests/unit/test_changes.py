"""Decoding a change from either source into one TripChange."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.trip.changes import (
    ChangeKind,
    Entity,
    PoisonRecord,
    Source,
    SourcePosition,
    WriterContractViolation,
    decode_kinesis_payload,
    decode_kinesis_record,
    decode_stream_record,
)
from tests import factories as f


def test_stream_insert_decodes_to_a_trip_change() -> None:
    record = f.stream_record(f.insert(f.flight("trip-001")), sequence_number="111")

    change = decode_stream_record(record)

    assert change is not None
    assert (change.trip_id, change.entity, change.kind, change.version) == (
        "trip-001",
        Entity.FLIGHT,
        ChangeKind.INSERT,
        1,
    )
    assert change.generation == int(f.T0.timestamp()) * 1_000_000
    assert change.approximate_time == f.T0
    assert change.position == SourcePosition(Source.DYNAMODB_STREAMS, f.STREAM_ARN, None, "111")
    assert change.image["flight_number"] == "NH001"


def test_kinesis_record_decodes_to_the_same_change_as_the_stream_record() -> None:
    modification = f.modify(f.payment("trip-001"), f.payment("trip-001", version=2, status="REFUNDED"), at=f.later(3))

    from_stream = decode_stream_record(f.stream_record(modification))
    from_kinesis = decode_kinesis_record(f.kinesis_record(modification, sequence_number="4950", shard_id="shardId-7"))

    assert from_stream is not None and from_kinesis is not None
    assert from_kinesis.position == SourcePosition(Source.KINESIS, f.KINESIS_ARN, "shardId-7", "4950")
    assert from_kinesis.image["amount"] == Decimal(80000)
    assert (from_kinesis.trip_id, from_kinesis.entity, from_kinesis.kind, from_kinesis.version) == (
        from_stream.trip_id,
        from_stream.entity,
        from_stream.kind,
        from_stream.version,
    )


@pytest.mark.parametrize(
    ("precision", "raw", "expected"),
    [
        ("MICROSECOND", 1_772_355_600_123_456, datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)),
        ("MILLISECOND", 1_772_355_600_123, datetime(2026, 3, 1, 9, 0, 0, 123000, tzinfo=UTC)),
    ],
)
def test_kinesis_timestamps_decode_in_milliseconds_and_microseconds(
    precision: str, raw: int, expected: datetime
) -> None:
    payload = f.kinesis_payload(f.insert(f.hotel("trip-001")), precision=precision)
    payload["dynamodb"]["ApproximateCreationDateTime"] = raw

    change = decode_kinesis_payload(json.dumps(payload).encode(), SourcePosition(Source.KINESIS))

    assert change is not None and change.approximate_time == expected


def test_remove_takes_version_and_generation_from_the_old_image() -> None:
    change = decode_stream_record(f.stream_record(f.remove(f.hotel("trip-001", version=4))))

    assert change is not None
    assert (change.kind, change.version, change.image["hotel_name"]) == (ChangeKind.REMOVE, 4, "Grand Hotel Tokyo")


def test_items_other_than_flight_hotel_payment_are_irrelevant() -> None:
    trip_header = {"PK": "TRIP#trip-001", "SK": "TRIP#trip-001", "version": Decimal(1)}
    other_partition = {"PK": "CUSTOMER#c-1", "SK": "FLIGHT#x", "version": Decimal(1)}

    assert decode_stream_record(f.stream_record(f.insert(trip_header))) is None
    assert decode_stream_record(f.stream_record(f.insert(other_partition))) is None


def test_a_boto3_get_records_timestamp_decodes() -> None:
    record = f.stream_record(f.insert(f.flight("trip-001")))
    record["dynamodb"]["ApproximateCreationDateTime"] = datetime(2026, 3, 1, 9, 0)

    change = decode_stream_record(record)

    assert change is not None and change.approximate_time == f.T0


def _kinesis_with(payload: object) -> dict:
    return f.kinesis_record(data=json.dumps(payload).encode())


def _poison_cases() -> list[tuple[str, dict, str]]:
    good = f.kinesis_payload(f.insert(f.flight("trip-001")))
    no_version = f.kinesis_payload(f.insert({**f.flight("trip-001"), "version": None}))
    no_version["dynamodb"]["NewImage"].pop("version")
    string_version = f.kinesis_payload(f.insert({**f.flight("trip-001"), "version": "7"}))
    amount_as_string = f.kinesis_payload(f.insert(f.payment("trip-001", amount="80000")))
    remove_without_old = f.kinesis_payload(f.remove(f.flight("trip-001")))
    remove_without_old["dynamodb"].pop("OldImage")
    bad_created = f.kinesis_payload(f.insert({**f.flight("trip-001"), "created_at": "yesterday"}))
    return [
        ("not json", f.kinesis_record(data=b"\xff{not json"), "not JSON"),
        ("not base64", {**f.kinesis_record(data=b"{}"), "kinesis": {"data": "%%%", "sequenceNumber": "1"}}, "base64"),
        ("json list", _kinesis_with([1, 2]), "not a JSON object"),
        ("not dynamodb", _kinesis_with({**good, "eventSource": "aws:s3"}), "not a DynamoDB change"),
        ("no keys", _kinesis_with({**good, "dynamodb": {"ApproximateCreationDateTime": 1}}), "no Keys"),
        ("bad event name", _kinesis_with({**good, "eventName": "UPSERT"}), "eventName"),
        ("no version", _kinesis_with(no_version), "version"),
        ("string version", _kinesis_with(string_version), "version"),
        ("amount as string", _kinesis_with(amount_as_string), "'amount' must be a DynamoDB Number (N), got String (S)"),
        ("remove without old image", _kinesis_with(remove_without_old), "OldImage"),
        ("bad created_at", _kinesis_with(bad_created), "created_at"),
        (
            "untyped image",
            _kinesis_with({**good, "dynamodb": {**good["dynamodb"], "NewImage": {"version": "1"}}}),
            "FLIGHT NewImage attribute 'version' must be a DynamoDB Number (N), got '1'",
        ),
    ]


@pytest.mark.parametrize(("case", "record", "reason"), _poison_cases(), ids=[c[0] for c in _poison_cases()])
def test_malformed_records_are_poison_with_a_reason(case: str, record: dict, reason: str) -> None:
    with pytest.raises(PoisonRecord) as raised:
        decode_kinesis_record(record)

    assert reason in raised.value.reason


def test_stream_record_without_dynamodb_body_is_poison() -> None:
    with pytest.raises(PoisonRecord, match="no 'dynamodb' object"):
        decode_stream_record({"eventName": "INSERT", "eventSource": "aws:dynamodb"})


def test_kinesis_data_must_be_base64_text() -> None:
    record = f.kinesis_record(data=b"{}")
    record["kinesis"]["data"] = base64.b64encode(b"\x00\x01").decode()[:-1]

    with pytest.raises(PoisonRecord, match="base64"):
        decode_kinesis_record(record)


def test_a_change_happened_when_the_writer_stamped_it() -> None:
    stamped = f.stream_record(f.insert(f.flight("trip-001"), at=f.later(5)))
    stamped["dynamodb"]["ApproximateCreationDateTime"] = int(f.later(6).timestamp())

    change = decode_stream_record(stamped)

    assert change is not None
    assert (change.changed_at, change.approximate_time) == (f.later(5), f.later(6))


def test_an_unstamped_item_changed_when_the_stream_saw_it() -> None:
    record = f.stream_record(f.Change("INSERT", f.flight("trip-001"), None, f.later(7)))

    change = decode_stream_record(record)

    assert change is not None and change.changed_at == f.later(7)


def test_a_removal_happened_when_the_stream_saw_it_not_at_the_last_update() -> None:
    last_update = f.written(f.hotel("trip-001", version=2), f.later(1))

    change = decode_stream_record(f.stream_record(f.remove(last_update, at=f.later(9))))

    assert change is not None and change.changed_at == f.later(9)


def test_a_malformed_updated_at_is_poison() -> None:
    record = f.stream_record(f.Change("INSERT", {**f.flight("trip-001"), "updated_at": "noon"}, None))

    with pytest.raises(PoisonRecord, match="updated_at"):
        decode_stream_record(record)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (
            f.hotel("trip-001", 3),
            f.hotel("trip-001", 3, hotel_name="Hotel Okura"),
            "version did not advance: old 3, new 3",
        ),
        (f.hotel("trip-001", 3), f.hotel("trip-001", 1, "CANCELLED"), "version did not advance: old 3, new 1"),
        (
            f.hotel("trip-001", 3, created_at=f.later(1)),
            f.hotel("trip-001", 4),
            "created_at went back: old '2026-03-01T09:01:00+00:00', new '2026-03-01T09:00:00+00:00'",
        ),
    ],
    ids=["same-version", "lower-version", "earlier-created-at"],
)
def test_a_modify_must_rank_its_new_image_above_its_old_one(old: dict, new: dict, reason: str) -> None:
    record = f.stream_record(f.modify(old, new, at=f.later(2)))

    with pytest.raises(WriterContractViolation) as raised:
        decode_stream_record(record)

    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            f.modify({**f.hotel("trip-001", 3), "version": "3"}, f.hotel("trip-001", 4)),
            "HOTEL OldImage attribute 'version' must be a DynamoDB Number (N), got String (S)",
        ),
        (
            f.Change("INSERT", {**f.hotel("trip-001"), "updated_at": "noon"}, None),
            "the item's updated_at 'noon' is not an ISO-8601 time",
        ),
        (
            f.Change("INSERT", {**f.hotel("trip-001"), "version": Decimal("1.5")}, None),
            "the item's version must be a whole number >= 1, got Decimal('1.5')",
        ),
    ],
    ids=["untyped-old-version", "malformed-updated-at", "fractional-version"],
)
def test_a_malformed_version_created_at_or_updated_at_is_a_writer_contract_violation(
    change: f.Change, reason: str
) -> None:
    record = f.stream_record(change)

    with pytest.raises(WriterContractViolation) as raised:
        decode_stream_record(record)
    assert raised.value.reason == reason


def test_a_wrongly_typed_entity_attribute_is_poison_but_not_a_contract_violation() -> None:
    record = f.stream_record(f.insert(f.payment("trip-001", currency=Decimal(392))))

    with pytest.raises(PoisonRecord) as raised:
        decode_stream_record(record)

    assert raised.value.reason == "PAYMENT NewImage attribute 'currency' must be a DynamoDB String (S), got Number (N)"
    assert not isinstance(raised.value, WriterContractViolation)


def test_a_modify_onto_a_later_generation_is_a_new_item_put_over_the_old_one() -> None:
    old, new = f.hotel("trip-001", 3), f.hotel("trip-001", 1, created_at=f.later(5))

    change = decode_stream_record(f.stream_record(f.modify(old, new, at=f.later(5))))

    assert change is not None and (change.version, change.generation) == (1, int(f.later(5).timestamp()) * 1_000_000)


@pytest.mark.parametrize(
    ("attribute", "value", "reason"),
    [
        ("hotel_name", {"S": 7}, "HOTEL NewImage attribute 'hotel_name' must be a DynamoDB String (S), got {'S': 7}"),
        (
            "hotel_name",
            {"S": "a", "N": "1"},
            "attribute 'hotel_name' must be a DynamoDB String (S), got {'S': 'a', 'N': '1'}",
        ),
        ("version", {"N": 3}, "HOTEL NewImage attribute 'version' must be a DynamoDB Number (N), got {'N': 3}"),
        ("version", {"N": "three"}, "HOTEL NewImage attribute 'version' is not a DynamoDB Number: 'three'"),
        ("version", {"N": "NaN"}, "HOTEL NewImage attribute 'version' is not a DynamoDB Number: 'NaN'"),
        (
            "created_at",
            "2026-03-01",
            "HOTEL NewImage attribute 'created_at' must be a DynamoDB String (S), got '2026-03-01'",
        ),
    ],
    ids=["string-holding-a-number", "two-types", "number-not-text", "number-not-numeric", "nan-version", "bare-json"],
)
def test_an_attribute_value_that_is_not_its_types_json_form_is_poison(
    attribute: str, value: object, reason: str
) -> None:
    payload = f.kinesis_payload(f.insert(f.hotel("trip-001")))
    payload["dynamodb"]["NewImage"][attribute] = value

    with pytest.raises(PoisonRecord) as raised:
        decode_kinesis_record(_kinesis_with(payload))

    assert reason in raised.value.reason


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_a_non_finite_number_is_poison_not_an_amount(amount: str) -> None:
    payload = f.kinesis_payload(f.insert(f.payment("trip-001")))
    payload["dynamodb"]["NewImage"]["amount"] = {"N": amount}

    with pytest.raises(PoisonRecord) as raised:
        decode_kinesis_record(_kinesis_with(payload))

    assert raised.value.reason == f"PAYMENT NewImage attribute 'amount' is not a DynamoDB Number: {amount!r}"
    assert not isinstance(raised.value, WriterContractViolation)


@pytest.mark.parametrize("image", [["version", 1], "item", 3], ids=["list", "string", "number"])
def test_an_image_that_is_not_an_object_is_poison(image: object) -> None:
    payload = f.kinesis_payload(f.insert(f.flight("trip-001")))
    payload["dynamodb"]["NewImage"] = image

    with pytest.raises(PoisonRecord) as raised:
        decode_kinesis_record(_kinesis_with(payload))

    assert raised.value.reason == "FLIGHT NewImage is not a DynamoDB item"


def test_only_the_attributes_the_projection_reads_are_decoded() -> None:
    old = {**f.payment("trip-001"), "held_by": "arn:execution:1"}
    new = {**f.payment("trip-001", version=2, status="REFUNDED"), "held_by": "arn:execution:1"}
    payload = f.kinesis_payload(f.modify(old, new))
    payload["dynamodb"]["NewImage"]["receipt"] = {"B": 17}  # malformed, and not read
    payload["dynamodb"]["OldImage"]["notes"] = {"L": "not a list"}

    change = decode_kinesis_record(_kinesis_with(payload))

    assert change is not None
    assert change.new_image == {
        "version": Decimal(2),
        "created_at": f.T0.isoformat(),
        "amount": Decimal(80000),
        "currency": "JPY",
        "status": "REFUNDED",
        "updated_at": "2026-03-01T09:00:00.000000+00:00",
    }
    assert change.old_image == {"version": Decimal(1), "created_at": f.T0.isoformat()}


def _kinesis_flight_with(**new_image: object) -> dict:
    payload = f.kinesis_payload(f.insert(f.flight("trip-001")))
    payload["dynamodb"]["NewImage"].update(new_image)
    return _kinesis_with(payload)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("1e400", "'1e400'"),  # above DynamoDB's 1E+126
        ("1e-400", "'1e-400'"),  # below its 1E-130
        ("9" * 50, repr("9" * 50)),  # more than 38 significant digits
        ("0." + "1" * 39, repr("0." + "1" * 39)),
        ("1e1000000", "'1e1000000'"),  # nine characters: an int() of it would take half a minute
        (" 1 ", "' 1 '"),
        ("1_0", "'1_0'"),
        ("\u0661", "'\u0661'"),  # ARABIC-INDIC DIGIT ONE: Decimal reads it, DynamoDB does not
        ("", "''"),
    ],
    ids=[
        "too-large",
        "too-small",
        "50-digits",
        "39-digit-fraction",
        "huge-exponent",
        "padded",
        "underscore",
        "arabic-indic-digit",
        "empty",
    ],
)
def test_a_number_dynamodb_cannot_hold_is_a_contract_violation_as_a_version(text: str, shown: str) -> None:
    with pytest.raises(WriterContractViolation) as raised:
        decode_kinesis_record(_kinesis_flight_with(version={"N": text}))

    assert raised.value.reason == f"FLIGHT NewImage attribute 'version' is not a DynamoDB Number: {shown}"


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("80000.50", Decimal("80000.50")),
        ("-0.5", Decimal("-0.5")),
        ("8E+4", Decimal(80000)),
        ("1" + "0" * 40, Decimal("1E+40")),  # trailing zeros do not count towards the 38 digits
        ("1E+125", Decimal("1E+125")),
        ("1E-130", Decimal("1E-130")),
    ],
)
def test_a_number_dynamodb_can_hold_is_read_exactly(text: str, amount: Decimal) -> None:
    payload = f.kinesis_payload(f.insert(f.payment("trip-001")))
    payload["dynamodb"]["NewImage"]["amount"] = {"N": text}

    change = decode_kinesis_record(_kinesis_with(payload))

    assert change is not None and change.image["amount"] == amount


@pytest.mark.parametrize(("text", "version"), [("1e0", 1), ("01", 1), ("1.0", 1), ("7", 7)])
def test_a_version_in_any_spelling_of_a_whole_number_is_that_number(text: str, version: int) -> None:
    change = decode_kinesis_record(_kinesis_flight_with(version={"N": text}))

    assert change is not None and change.version == version


@pytest.mark.parametrize("raw", [10**400, -(10**400)])
def test_an_epoch_beyond_a_float_is_out_of_range_not_a_crash(raw: int) -> None:
    payload = f.kinesis_payload(f.insert(f.flight("trip-001")))
    payload["dynamodb"]["ApproximateCreationDateTime"] = raw

    with pytest.raises(PoisonRecord) as raised:
        decode_kinesis_record(_kinesis_with(payload))

    assert (
        raised.value.reason
        == f"ApproximateCreationDateTime {repr(raw)[:80]}... (40{1 + (raw < 0)} characters) is out of range"
    )


@pytest.mark.parametrize("name", ["updated_at", "created_at"])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_whose_offset_moves_it_out_of_the_calendar_is_a_contract_violation(name: str, moment: str) -> None:
    with pytest.raises(WriterContractViolation) as raised:
        decode_kinesis_record(_kinesis_flight_with(**{name: {"S": moment}}))

    assert raised.value.reason == f"the item's {name} {moment!r} is out of range in UTC"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"eventSource": "aws:dynamodb", "n": ' + b"1" * 5000 + b"}", "kinesis data is not JSON: Exceeds the limit"),
        (b"[" * 200_000, "kinesis data is not JSON: maximum recursion depth exceeded"),
    ],
    ids=["integer-of-5000-digits", "200000-levels"],
)
def test_kinesis_data_json_cannot_read_is_poison(data: bytes, reason: str) -> None:
    with pytest.raises(PoisonRecord) as raised:
        decode_kinesis_record(f.kinesis_record(data=data))

    assert raised.value.reason.startswith(reason)


def test_a_string_with_a_lone_surrogate_is_poison() -> None:
    payload = f.kinesis_payload(f.insert(f.hotel("trip-001")))
    payload["dynamodb"]["NewImage"]["hotel_name"] = {"S": "Okura\ud800"}
    data = json.dumps(payload).encode()  # JSON carries it as the escape \ud800, which decodes to the lone surrogate

    with pytest.raises(PoisonRecord) as raised:
        decode_kinesis_record(f.kinesis_record(data=data))

    assert raised.value.reason == (
        "HOTEL NewImage attribute 'hotel_name' must be a DynamoDB String (S), got {'S': 'Okura\\ud800'}"
    )


@pytest.mark.parametrize("null", [False, "x", 1])
def test_only_null_true_is_a_dynamodb_null(null: object) -> None:
    with pytest.raises(PoisonRecord) as raised:
        decode_kinesis_record(_kinesis_flight_with(flight_number={"NULL": null}))

    assert raised.value.reason == (
        "FLIGHT NewImage attribute 'flight_number' must be a DynamoDB String (S), got Null (NULL)"
    )


@pytest.mark.parametrize(
    ("trip_id", "rule"),
    [
        ("dHJpcA==", "may hold letters, digits and - _ . ~ @ : and space only, not '='"),
        ("search", "must not be 'search': GET /trips/search is the search"),
        ("a/b", "may hold letters, digits and - _ . ~ @ : and space only, not '/'"),
    ],
)
def test_a_trip_id_the_trip_id_rule_refuses_is_a_contract_violation_in_both_decoders(trip_id: str, rule: str) -> None:
    payload = f.kinesis_payload(f.insert(f.flight(trip_id)))
    expected = (
        f"trip id {trip_id!r} is not one a trip can have: a trip id {rule} (trip_ids.py); writer contract: "
        "write TripTable only with such ids"
    )

    with pytest.raises(WriterContractViolation) as from_kinesis:
        decode_kinesis_record(_kinesis_with(payload))
    with pytest.raises(WriterContractViolation) as from_streams:
        decode_stream_record(f.stream_record(f.insert(f.flight(trip_id))))

    assert from_kinesis.value.reason == expected
    assert from_streams.value.reason == expected


@pytest.mark.parametrize(
    ("text", "amount"),
    [("1" + "0" * 40, "1E+40"), ("12" + "0" * 39, "1.2E+40"), ("1." + "0" * 40, "1")],
)
def test_a_plain_number_with_38_significant_digits_or_fewer_is_valid_whatever_its_length(
    text: str, amount: str
) -> None:
    change = decode_stream_record(_stream_payment_with(amount={"N": text}))

    assert change is not None and str(change.image["amount"]) == amount


@pytest.mark.parametrize("text", ["1" * 39 + "0", "1E-131", "1E+126"])
def test_a_number_beyond_dynamodb_s_digits_or_range_is_poison(text: str) -> None:
    with pytest.raises(PoisonRecord) as raised:
        decode_stream_record(_stream_payment_with(amount={"N": text}))

    assert raised.value.reason == f"PAYMENT NewImage attribute 'amount' is not a DynamoDB Number: {text!r}"


def _stream_payment_with(**new_image: object) -> dict:
    record = f.stream_record(f.insert(f.payment("trip-001")))
    record["dynamodb"]["NewImage"].update(new_image)
    return record
