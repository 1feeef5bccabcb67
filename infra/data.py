"""The two tables: TripTable (the saga's write model) and TripSearchTable (the projection the search API reads)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from services.trip import schema
from services.trip.projection import INDEX_PROJECTION
from services.trip.schema import Layout

_STRING = dynamodb.AttributeType.STRING
_PITR = dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)


class TripData(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, change_stream: kinesis.IStream, search_table_layout: Layout
    ) -> None:
        super().__init__(scope, construct_id)
        self.trip_table = dynamodb.Table(
            self,
            "TripTable",
            partition_key=dynamodb.Attribute(name=schema.TRIP_PK, type=_STRING),
            sort_key=dynamodb.Attribute(name=schema.TRIP_SK, type=_STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=_PITR,
            # Both images: the projection needs the old image of a REMOVE to know what it clears.
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            kinesis_stream=change_stream,
            # Microseconds order two changes of one item made within the same millisecond.
            kinesis_precision_timestamp=dynamodb.ApproximateCreationDateTimePrecision.MICROSECOND,
            # The system of record outlives the stack: `make destroy` leaves it (docs/operations.md, "Deploy and
            # tear down").
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.search_table = dynamodb.Table(
            self,
            "TripSearchTable",
            partition_key=dynamodb.Attribute(name=schema.SEARCH_KEY, type=_STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=_PITR,
            # Tombstones of fully removed trips expire once no late change can arrive any more.
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            # A projection: the replay tool rebuilds it from the change stream.
            removal_policy=RemovalPolicy.DESTROY,
        )
        if search_table_layout is Layout.UNSHARDED:
            # Exactly what the releases before write sharding declared: a stack deployed by one keeps its table
            # untouched until a cutover moves it to a sharded table.
            for old in schema.UNSHARDED_INDEXES.values():
                self._add_index(old.name, old.partition, old.sort, dynamodb.ProjectionType.ALL)
            return
        for index in schema.SEARCH_INDEXES:
            # Write-sharded keys and only what a search shows (schema.SearchIndex, docs/design.md).
            self._add_index(index.name, index.partition, index.sort, dynamodb.ProjectionType.INCLUDE)

    def _add_index(self, name: str, partition: str, sort: str, projection: dynamodb.ProjectionType) -> None:
        self.search_table.add_global_secondary_index(
            index_name=name,
            partition_key=dynamodb.Attribute(name=partition, type=_STRING),
            sort_key=dynamodb.Attribute(name=sort, type=_STRING),
            projection_type=projection,
            non_key_attributes=list(INDEX_PROJECTION) if projection is dynamodb.ProjectionType.INCLUDE else None,
        )
