"""Where moto's answers to the AWS APIs differ from AWS's, and the patches that make them agree.

Each patch names the AWS behaviour it restores and where that is documented; ``server.py`` applies them
while the emulator runs.

- Step Functions ``StartExecution`` without a name gets a UUID (moto's executing backend names it ``None``),
  a name breaking AWS's rules is refused with ``InvalidName`` (or ``ValidationException`` past 80
  characters), as moto's plain backend and AWS do; an input longer than 256 KiB with
  ``ValidationException``, one that is not JSON with ``InvalidExecutionInput`` in AWS's wording ("Invalid
  State Machine Execution Input: ..."). API reference, StartExecution, ``name`` and ``input``.
- Errors of moto's executing Step Functions backend carry their error code (``InvalidExecutionInput``,
  ``InvalidDefinition``, ...): it raises exceptions that set ``code``, which moto's serializer ignores, so
  clients saw an empty code (``An error occurred () ...``).
- SQS queue URLs handed out through CloudFormation (``Ref`` of a queue: stack outputs, function
  environments, physical resource ids) are on the local endpoint, as the SQS API's own answers already are.
  moto writes ``https://sqs.<region>.amazonaws.com/...`` there, which sends a client that uses the URL as an
  address (the AWS CLI v1 does for ``sqs``) to AWS.
- Raw UTF-8 bytes in a request's path or query string are read as UTF-8, as AWS reads them. Python's HTTP
  server reads the request line as Latin-1 and werkzeug then encodes that text as UTF-8 a second time.
- DynamoDB ``DescribeKinesisStreamingDestination`` (not implemented by moto) describes the streaming
  destinations the runtime runs, ``ACTIVE``, as AWS describes a table's destination. API reference,
  DescribeKinesisStreamingDestination.
- DynamoDB requests run one at a time and a refused ``TransactWriteItems`` writes nothing
  (``dynamodb_isolation.py``), as AWS isolates them.
- Any other action moto has not implemented answers ``501 NotImplemented`` naming it, at once: moto's own
  answer is a 500, which clients retry (the AWS CLI for half a minute) before showing an HTML page.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from html import escape
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.sqs.models import Queue
from moto.stepfunctions.exceptions import InvalidExecutionInput, ValidationException
from moto.stepfunctions.parser import api as stepfunctions_parser_api
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from werkzeug.wrappers import Response

from local_runtime.emulator.dynamodb_isolation import dynamodb_isolation
from local_runtime.streams.kinesis_destination import StreamingDestination

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
MAX_EXECUTION_INPUT_LENGTH = 262_144  # StartExecution ``input``: "Length Constraints: Maximum length of 262144"


class Utf8RequestHandler(MotoRequestHandler):
    """Percent-encodes the raw non-ASCII bytes of the request target before werkzeug decodes it.

    ``http.server`` decodes the request line as Latin-1, so each character of ``self.path`` above U+007F
    stands for one raw byte; its percent-encoded form is what a client that encodes would have sent.
    """

    def make_environ(self) -> dict[str, Any]:
        self.path = _NON_ASCII.sub(lambda byte: f"%{ord(byte[0]):02X}", self.path)
        return super().make_environ()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What ``http.server`` refuses before any route sees the request (a request line over 64 KiB: 414, a
        malformed one: 400) answers JSON, as every other answer of the endpoint does, not an HTML page."""
        body = json.dumps({"message": message or self.responses.get(code, ("",))[0]}, separators=(",", ":")).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


def raw_path(environ: dict[str, Any]) -> str:
    """The request's path as the client sent it, percent-encoding kept (``PATH_INFO`` is decoded)."""
    return urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", "/")).path


def not_emulated(error: NotImplementedError, environ: dict[str, Any]) -> Response:
    """The answer to an action moto raised ``NotImplementedError`` for, in the protocol of the request.

    Query-protocol services (CloudFormation, IAM, ...: form-encoded requests) read XML errors, the others JSON.
    """
    message = f"not emulated by the local runtime: {error}"
    headers = {"x-amzn-ErrorType": "NotImplemented"}
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        error_xml = f"<Error><Type>Sender</Type><Code>NotImplemented</Code><Message>{escape(message)}</Message></Error>"
        return Response(f"<ErrorResponse>{error_xml}</ErrorResponse>", status=501, mimetype="text/xml", headers=headers)
    body = json.dumps({"__type": "NotImplemented", "message": message})
    return Response(body, status=501, mimetype="application/x-amz-json-1.0", headers=headers)


@contextmanager
def aws_semantics(endpoint_url: str, kinesis_destinations: Sequence[StreamingDestination]) -> Iterator[None]:
    """Apply every patch of this module until the context ends.

    Queue URLs name ``endpoint_url``; ``kinesis_destinations`` is read at each request (the runtime adds to
    it once the stack is deployed).
    """
    with ExitStack() as stack:
        stack.enter_context(dynamodb_isolation())
        for error in _step_functions_parser_errors():
            stack.enter_context(mock.patch.object(error, "TYPE", error.code))
        stack.enter_context(
            mock.patch.object(
                StepFunctionsParserBackend,
                "start_execution",
                _named_like_aws(StepFunctionsParserBackend.start_execution),
            )
        )
        local_queue_url = property(lambda queue: queue.url(urlsplit(endpoint_url)))
        stack.enter_context(mock.patch.object(Queue, "physical_resource_id", local_queue_url))
        stack.enter_context(
            mock.patch.object(
                DynamoHandler,
                "describe_kinesis_streaming_destination",
                _describing(kinesis_destinations),
                create=True,
            )
        )
        yield


def _step_functions_parser_errors() -> Iterator[Any]:
    for value in vars(stepfunctions_parser_api).values():
        if isinstance(value, type) and issubclass(value, AWSError) and isinstance(value.__dict__.get("code"), str):
            yield value


def _named_like_aws(start_execution: Callable[..., Any]) -> Callable[..., Any]:
    def start_named_execution(
        backend: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        if name:
            backend._validate_name(name)  # moto's plain backend's check: AWS's forbidden characters, 80 at most
        if execution_input is not None:
            _validate_execution_input(execution_input)
        return start_execution(backend, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start_named_execution


def _validate_execution_input(execution_input: str) -> None:
    if len(execution_input) > MAX_EXECUTION_INPUT_LENGTH:
        raise ValidationException(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_EXECUTION_INPUT_LENGTH}"
        )
    try:
        json.loads(execution_input)
    except ValueError as error:  # AWS's wording, with the parser's detail
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{error}'") from None


def _describing(destinations: Sequence[StreamingDestination]) -> Callable[[DynamoHandler], ActionResult]:
    def describe_kinesis_streaming_destination(handler: DynamoHandler) -> ActionResult:
        table = handler.dynamodb_backend.get_table(handler.body["TableName"])  # ResourceNotFoundException
        described = [
            {
                "StreamArn": destination.kinesis_stream_arn,
                "DestinationStatus": "ACTIVE",
                "ApproximateCreationDateTimePrecision": destination.precision,
            }
            for destination in destinations
            if destination.table_name == table.name
        ]
        return ActionResult({"TableName": table.name, "KinesisDataStreamDestinations": described})

    return describe_kinesis_streaming_destination
