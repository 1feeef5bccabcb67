"""Where the tool's resources are: an AWS session for the operator's options, and the stack's outputs.

Nothing is found by a hard-coded name: the tables, the change stream and the queue are what the deployed
TripSagaStack reports in its outputs, so the same command works on AWS and on the local runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ProfileNotFound

from replay.errors import BadInput, ReplayError, aws_errors, error_code
from services.trip.adapters.search_documents import SearchDocuments
from services.trip.config import DEFAULT_TOMBSTONE_TTL_SECONDS
from services.trip.dynamodb_values import exact_numbers
from services.trip.schema import Layout
from services.trip.search_tables import SearchTables, SearchTablesError, parse

DEFAULT_STACK_NAME = "TripSagaStack"
# Standard retry mode already backs off on throttling; the Kinesis reader adds its own on top (see window/reader.py).
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@dataclass(frozen=True)
class Connection:
    """The operator's AWS options: one boto3 session, clients made on demand."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None

    @cached_property
    def session(self) -> boto3.Session:
        """The session; a profile that does not exist or a region nowhere configured is the operator's to fix."""
        try:
            with aws_errors("opening an AWS session"):
                session = boto3.Session(profile_name=self.profile, region_name=self.region)
        except ReplayError as error:
            if isinstance(error.__cause__, ProfileNotFound):
                raise BadInput(f"--profile {self.profile!r}: no such profile in your AWS configuration") from None
            raise
        if not session.region_name:
            raise BadInput(
                "no AWS region: pass --region (e.g. --region us-east-1), set AWS_DEFAULT_REGION, "
                "or give your AWS profile a region"
            )
        known = {
            region
            for partition in session.get_available_partitions()
            for region in session.get_available_regions("cloudformation", partition)
        }
        if session.region_name not in known:
            raise BadInput(
                f"region {session.region_name!r} (from --region, AWS_DEFAULT_REGION or the profile): no AWS region "
                "of that name (e.g. us-east-1)"
            )
        return session

    def client(self, service: str, config: Config | None = None) -> Any:
        """A boto3 client; `config` is merged over the tool's own client configuration."""
        return self._make(self.session.client, service, config)

    def resource(self, service: str) -> Any:
        """A boto3 resource (Python values in and out), where a client's AWS-typed values are not wanted. A DynamoDB
        one reads numbers exactly (`dynamodb_values.exact_numbers`: `1E+40` as DynamoDB returns it)."""
        resource = self._make(self.session.resource, service)
        return exact_numbers(resource) if service == "dynamodb" else resource

    def _make(self, make: Any, service: str, config: Config | None = None) -> Any:
        with aws_errors(f"connecting to {service}"):
            try:
                merged = _CLIENT_CONFIG.merge(config) if config else _CLIENT_CONFIG
                return make(service, endpoint_url=self.endpoint_url, config=merged)
            except ValueError as error:  # botocore: "Invalid endpoint: ..." from an AWS_ENDPOINT_URL_<SERVICE>
                raise BadInput(f"{error}: check --endpoint-url and the AWS_ENDPOINT_URL* variables") from None


@dataclass(frozen=True)
class StackResources:
    stack_name: str
    trip_table: str
    search_table: str  # the live one, as the search-tables parameter names it now
    change_stream: str
    dlq_url: str
    search_tables_parameter: str
    stack_search_table: str  # the stack's own (output SearchTableName): the first live one
    shadow_table: str | None = None  # the table kept current beside the live one during a cutover
    layouts: Mapping[str, Layout] = field(default_factory=dict)  # the parameter's tables not of this release's layout

    @property
    def search_tables(self) -> SearchTables:
        """The parameter's value, as the functions read it."""
        return SearchTables(self.search_table, self.shadow_table, self.layouts)

    @property
    def written_tables(self) -> tuple[str, ...]:
        """Every table a change must reach, the live one first (services.trip.search_tables)."""
        return self.search_tables.written

    def layout_of(self, table: str) -> Layout:
        """The index keys a table the parameter names holds (any other: this release's)."""
        return self.search_tables.layout_of(table)

    def documents_of(self, table: str, dynamodb: Any) -> SearchDocuments:
        """The documents of a table the parameter names, written with the keys of its layout."""
        return SearchDocuments(table, dynamodb, layout=self.layout_of(table))


_OUTPUTS = {
    "trip_table": "TripTableName",
    "stack_search_table": "SearchTableName",
    "change_stream": "ChangeStreamName",
    "dlq_url": "DlqUrl",
    "search_tables_parameter": "SearchTablesParameter",
}


def find_stack_resources(connection: Connection, stack_name: str) -> StackResources:
    """Read the resource names from the stack's outputs, and which search tables serve from its parameter; say which
    output is missing if one is."""
    cloudformation = connection.client("cloudformation")
    with aws_errors(f"describing stack {stack_name}"):
        try:
            stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if error_code(error) != "ValidationError":
                raise
            where = connection.endpoint_url or connection.session.region_name
            raise BadInput(
                f"stack {stack_name!r} does not exist at {where}: deploy it (make deploy / make up) "
                "or pass --stack-name, --region or --endpoint-url"
            ) from error
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    missing = [key for key in _OUTPUTS.values() if key not in outputs]
    if missing:
        raise ReplayError(
            f"stack {stack_name!r} has no output {', '.join(missing)}: is it a TripSagaStack of this release "
            "(deploy it again)?"
        )
    names = {field: outputs[key] for field, key in _OUTPUTS.items()}
    tables = read_search_tables(connection, names["search_tables_parameter"])
    return StackResources(
        stack_name, search_table=tables.live, shadow_table=tables.shadow, layouts=tables.layouts, **names
    )


def read_search_tables(connection: Connection, parameter: str) -> SearchTables:
    """The search tables the parameter names now (strongly consistent: SSM returns the latest version)."""
    with aws_errors(f"reading parameter {parameter}"):
        value = connection.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    try:
        return parse(value)
    except SearchTablesError as error:
        raise ReplayError(f"parameter {parameter} does not say which search tables serve: {error}") from None


def stream_arn(connection: Connection, stream_name: str) -> tuple[str, int]:
    """The change stream's ARN and its retention in hours."""
    with aws_errors(f"describing stream {stream_name}"):
        summary = connection.client("kinesis").describe_stream_summary(StreamName=stream_name)
    description = summary["StreamDescriptionSummary"]
    return str(description["StreamARN"]), int(description["RetentionPeriodHours"])


def kinesis_consumer(connection: Connection, stream: str) -> dict[str, Any] | None:
    """The configuration of the function the stack maps to the change stream (the live Kinesis consumer)."""
    aws_lambda = connection.client("lambda")
    with aws_errors(f"finding the consumer of stream {stream}"):
        mappings = aws_lambda.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]
        if not mappings:
            return None
        return dict(aws_lambda.get_function_configuration(FunctionName=mappings[0]["FunctionArn"]))


def tombstone_ttl_seconds(consumer: dict[str, Any] | None) -> int:
    """The consumers' tombstone lifetime, so replayed tombstones expire when the consumers' would."""
    variables = (consumer or {}).get("Environment", {}).get("Variables", {})
    return int(variables.get("TOMBSTONE_TTL_SECONDS", DEFAULT_TOMBSTONE_TTL_SECONDS))
