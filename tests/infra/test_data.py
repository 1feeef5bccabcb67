"""TripTable, TripSearchTable and the change stream: keys, streams, encryption, recovery, retention."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from services.trip import schema
from tests.infra.conftest import Synthesized
from tests.infra.template_queries import logical_id

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

ENCRYPTED = {"SSEEnabled": True}
PITR = {"PointInTimeRecoveryEnabled": True}


def test_trip_table_streams_both_images_and_copies_changes_to_kinesis_in_microseconds(
    synthesized: Synthesized,
) -> None:
    stream = logical_id(synthesized.resources, "AWS::Kinesis::Stream", "ChangeStream")
    synthesized.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "KeySchema": [
                        {"AttributeName": schema.TRIP_PK, "KeyType": "HASH"},
                        {"AttributeName": schema.TRIP_SK, "KeyType": "RANGE"},
                    ],
                    "BillingMode": "PAY_PER_REQUEST",
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    "KinesisStreamSpecification": {
                        "StreamArn": {"Fn::GetAtt": [stream, "Arn"]},
                        "ApproximateCreationDateTimePrecision": "MICROSECOND",
                    },
                    "SSESpecification": ENCRYPTED,
                    "PointInTimeRecoverySpecification": PITR,
                }
            ),
        },
    )


def test_search_table_has_the_contract_indexes_ttl_encryption_and_recovery(template: Template) -> None:
    shown = "flight_number departure_time arrival_time flight_status hotel_name check_in_date check_out_date"
    shown += " hotel_status total_amount currency payment_status updated_at"

    def index(name: str, pk: str, sk: str) -> dict[str, object]:
        return {
            "IndexName": name,
            "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}],
            "Projection": {
                "ProjectionType": "INCLUDE",
                "NonKeyAttributes": shown.split(),
            },  # what a search shows, no more
        }

    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": schema.SEARCH_KEY, "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": Match.array_equals(
                [
                    index("flight_status-departure_time-sharded-index", "flight_status_shard", "departure_order"),
                    index("hotel_name_prefix-sharded-index", "hotel_name_shard", "hotel_name_order"),
                ]
            ),
            "TimeToLiveSpecification": {"AttributeName": schema.TTL_ATTRIBUTE, "Enabled": True},
            "SSESpecification": ENCRYPTED,
            "PointInTimeRecoverySpecification": PITR,
        },
    )


def test_change_stream_is_encrypted_on_demand_and_keeps_seven_days_by_default(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "RetentionPeriodHours": 7 * 24,
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "ShardCount": Match.absent(),
        },
    )


def test_physical_names_are_generated_from_the_seed_names(synthesized: Synthesized) -> None:
    for table in ("DataTripTable", "DataTripSearchTable"):
        name = logical_id(synthesized.resources, "AWS::DynamoDB::Table", table)
        assert "TableName" not in synthesized.resources[name]["Properties"]
