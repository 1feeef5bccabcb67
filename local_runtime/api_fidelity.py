"""Where moto's answers to the AWS APIs differ from AWS's, and the patches that make them agree.

Each patch names the AWS behaviour it restores and where that is documented; ``emulator.py`` applies them
while the emulator runs.

- Step Functions ``StartExecution`` without a name gets a UUID (moto's executing backend names it ``None``),
  a name breaking AWS's rules is refused with ``InvalidName`` (or ``ValidationException`` past 80
  characters), as moto's plain backend and AWS do, and an input longer than 256 KiB with
  ``ValidationException``. API reference, StartExecution, ``name`` and ``input``.
- Errors of moto's executing Step Functions backend carry their error code (``InvalidExecutionInput``,
  ``InvalidDefinition``, ...): it raises exceptions that set ``code``, which moto's serializer ignores, so
  clients saw an empty code (``An error occurred () ...``).
- SQS queue URLs handed out through CloudFormation (``Ref`` of a queue: stack outputs, function
  environments, physical resource ids) are on the local endpoint, as the SQS API's own answers already are.
  moto writes ``https://sqs.<region>.amazonaws.com/...`` there, which sends a client that uses the URL as an
  address (the AWS CLI v1 does for ``sqs``) to AWS.
- Raw UTF-8 bytes in a request's path or query string are read as UTF-8, as AWS reads them. Python's HTTP
  server reads the request line as Latin-1 and werkzeug then encodes that text as UTF-8 a second time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from moto.core.exceptions import AWSError
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.sqs.models import Queue
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser import api as stepfunctions_parser_api
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

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


def raw_path(environ: dict[str, Any]) -> str:
    """The request's path as the client sent it, percent-encoding kept (``PATH_INFO`` is decoded)."""
    return urlsplit(environ.get("RAW_URI") or environ.get("PATH_INFO", "/")).path


@contextmanager
def aws_semantics(endpoint_url: str) -> Iterator[None]:
    """Apply every patch of this module until the context ends; queue URLs name ``endpoint_url``."""
    with ExitStack() as stack:
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
        if execution_input is not None and len(execution_input) > MAX_EXECUTION_INPUT_LENGTH:
            raise ValidationException(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_EXECUTION_INPUT_LENGTH}"
            )
        return start_execution(backend, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    return start_named_execution
