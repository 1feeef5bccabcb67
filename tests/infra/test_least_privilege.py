"""Who may touch what: projectors write only the search tables (the stack's TripSearchTable and a cutover's
`<stack>-search-*`) and the DLQ, SearchTrips writes nothing, saga steps touch only TripTable."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synthesized
from tests.infra.template_queries import (
    actions_of,
    function_id,
    logical_id,
    referenced_ids,
    rendered_join,
    statements_of,
)

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

CONSUMERS = [
    "services.trip.handlers.stream_consumer.lambda_handler",
    "services.trip.handlers.kinesis_consumer.lambda_handler",
]
SAGA_STEPS = [
    f"services.trip.handlers.saga_steps.{step}"
    for step in (
        "reserve_flight",
        "reserve_hotel",
        "process_payment",
        "cancel_flight",
        "cancel_hotel",
        "refund_payment",
    )
]
DYNAMODB_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:*",
}
# Everything SearchTrips may do: read TripSearchTable, write its own logs and traces.
SEARCH_ALLOWED = {
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "ssm:GetParameter",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


CUTOVER_TABLES = "arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/TripSagaStack-search-*"


def table(synthesized: Synthesized, name: str) -> str:
    return logical_id(synthesized.resources, "AWS::DynamoDB::Table", name)


def rendered(resource: object) -> list[str]:
    """A statement's Resource as text: `<LogicalId.Attribute>` for a GetAtt, a Join written out."""
    if isinstance(resource, list):
        return [text for item in resource for text in rendered(item)]
    if isinstance(resource, dict) and "Fn::Join" in resource:
        return [rendered_join(resource)]
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return ["<{}.{}>".format(*resource["Fn::GetAtt"])]
    if isinstance(resource, dict) and "Ref" in resource:
        return [f"<{resource['Ref']}>"]
    return [str(resource)]


def search_tables(synthesized: Synthesized) -> set[str]:
    """The stack's search table with its indexes, and a cutover's (IAM's `*` matches `/` too: their indexes)."""
    own = f"<{table(synthesized, 'DataTripSearchTable')}.Arn>"
    return {own, f"{own}/index/*", CUTOVER_TABLES}


@pytest.mark.parametrize("handler", CONSUMERS)
def test_projector_writes_only_the_search_table(synthesized: Synthesized, handler: str) -> None:
    statements = statements_of(synthesized.resources, function_id(synthesized.resources, handler))
    write_targets = {
        target
        for statement in statements
        if DYNAMODB_WRITES & set(actions_of(statement))
        for target in rendered(statement["Resource"])
    }
    assert write_targets == search_tables(synthesized)


@pytest.mark.parametrize("handler", CONSUMERS)
def test_projector_cannot_write_trip_table(synthesized: Synthesized, handler: str) -> None:
    trip_table = table(synthesized, "DataTripTable")
    statements = statements_of(synthesized.resources, function_id(synthesized.resources, handler))
    on_trip_table = {
        action
        for statement in statements
        if trip_table in set(referenced_ids(statement["Resource"]))
        for action in actions_of(statement)
    }
    # Only the stream reads that DynamoEventSource grants (GetAtt TripTable.StreamArn).
    assert on_trip_table <= {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}


@pytest.mark.parametrize("handler", CONSUMERS)
def test_projector_may_send_to_the_dlq(synthesized: Synthesized, handler: str) -> None:
    dlq = logical_id(synthesized.resources, "AWS::SQS::Queue", "DeadLetterQueue")
    statements = statements_of(synthesized.resources, function_id(synthesized.resources, handler))
    assert any(
        "sqs:SendMessage" in actions_of(statement) and list(referenced_ids(statement["Resource"])) == [dlq]
        for statement in statements
    )


def test_search_function_cannot_write_anything(synthesized: Synthesized) -> None:
    resources = synthesized.resources
    search = function_id(resources, "services.trip.handlers.search_trips.lambda_handler")
    statements = statements_of(resources, search)
    actions = {action for statement in statements for action in actions_of(statement)}
    assert actions <= SEARCH_ALLOWED
    dynamodb_targets = {
        target
        for statement in statements
        if any(action.startswith("dynamodb:") for action in actions_of(statement))
        for target in rendered(statement["Resource"])
    }
    assert dynamodb_targets == search_tables(synthesized)


@pytest.mark.parametrize("handler", [*CONSUMERS, "services.trip.handlers.search_trips.lambda_handler"])
def test_the_search_tables_parameter_is_read_by_name_and_never_written(synthesized: Synthesized, handler: str) -> None:
    parameter = logical_id(synthesized.resources, "AWS::SSM::Parameter", "SearchTables")
    statements = statements_of(synthesized.resources, function_id(synthesized.resources, handler))
    on_parameters = [
        (actions_of(statement), rendered(statement["Resource"]))
        for statement in statements
        if any(action.startswith("ssm:") for action in actions_of(statement))
    ]
    assert on_parameters == [
        (
            ["ssm:GetParameter"],
            [f"arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter<{parameter}>"],
        )
    ]


@pytest.mark.parametrize("handler", SAGA_STEPS)
def test_saga_step_touches_only_trip_table(synthesized: Synthesized, handler: str) -> None:
    statements = statements_of(synthesized.resources, function_id(synthesized.resources, handler))
    dynamodb_targets = {
        target
        for statement in statements
        if any(action.startswith("dynamodb:") for action in actions_of(statement))
        for target in referenced_ids(statement["Resource"])
    }
    assert dynamodb_targets == {table(synthesized, "DataTripTable")}
    assert not any(action.startswith(("sqs:", "kinesis:")) for s in statements for action in actions_of(s))
