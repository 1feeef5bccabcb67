"""The tool's own errors: what went wrong in operator terms, and the exit code that goes with it.

AWS errors never reach the operator raw: `aws_errors` turns them into a `ReplayError` that says what the tool was
doing, so the message reads "reading shard X of stream Y: ..." instead of a botocore traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class ReplayError(Exception):
    """The tool could not do what was asked (AWS refused, a resource is missing, a run failed)."""

    exit_code = EXIT_FAILURE


class BadInput(ReplayError):
    """The operator asked for something that cannot be done as asked (a malformed time, an unknown message)."""

    exit_code = EXIT_BAD_INPUT


class Throttled(ReplayError):
    """AWS kept throttling after every backoff: the stream's read limit is shared with the live consumers."""


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Translate any AWS failure inside the block into a `ReplayError` naming what the tool was doing."""
    try:
        yield
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise ReplayError(f"{doing}: {error_code(error)}: {message}") from error
    except BotoCoreError as error:
        raise ReplayError(f"{doing}: {error}") from error
    except ResponseParserError as error:  # an answer that is no AWS answer: an HTML error page, a 500 of a proxy
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ReplayError(
            f"{doing}: the endpoint's answer is not an AWS answer ({first}): check --endpoint-url and --region"
        ) from error
