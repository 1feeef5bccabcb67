"""The change stream: the Kinesis data stream TripTable copies every change into (Kinesis Data Streams for DynamoDB).

Unlike DynamoDB Streams (24 h), it keeps changes for the configured retention, so the replay tool can rebuild
the projection from it and the Kinesis consumer can fall behind for days without losing anything.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kinesis as kinesis
from constructs import Construct

from infra.settings import CapacityMode, StackSettings


class ChangeStream(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings) -> None:
        super().__init__(scope, construct_id)
        provisioned = settings.capacity_mode is CapacityMode.PROVISIONED
        self.stream = kinesis.Stream(
            self,
            "TripChangeStream",
            retention_period=Duration.days(settings.retention_days),
            stream_mode=kinesis.StreamMode.PROVISIONED if provisioned else kinesis.StreamMode.ON_DEMAND,
            shard_count=settings.shard_count if provisioned else None,
            encryption=kinesis.StreamEncryption.MANAGED,
            # Holds only copies of TripTable's changes: nothing is lost with it.
            removal_policy=RemovalPolicy.DESTROY,
        )
