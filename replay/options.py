"""The options every command takes, declared and validated once, and how a command ends: JSON out, or one
`error: ...` line and its exit code (2: the operator asked for something that cannot be done as asked)."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

from operator_cli.usage import print_error
from replay.errors import ReplayError
from services.trip import exact_json
from services.trip.trip_ids import InvalidTripId, check_trip_id

# CloudFormation: letters, digits and hyphens, starting with a letter, at most 128; or the stack's ARN.
_STACK_NAME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]{0,127}|arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack/\S+)$")
# DynamoDB: 3 to 255 of a-z, A-Z, 0-9, underscore, hyphen and dot (Developer Guide, "Naming rules").
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
# us-east-1, ap-northeast-1, us-gov-west-1, eusc-de-east-1
_REGION = re.compile(r"^[a-z]{2,}(?:-[a-z]+)+-\d+$")


def endpoint_url_value(value: str | None) -> str | None:
    if value is None:
        return None
    scheme = urlsplit(value).scheme
    if scheme not in ("http", "https") or not (is_valid_endpoint_url(value) or is_valid_ipv6_endpoint_url(value)):
        raise typer.BadParameter(f"{value!r} is not an http(s) URL with a host, e.g. http://127.0.0.1:4566")
    return value


def region_value(value: str | None) -> str | None:
    if value is not None and not _REGION.match(value):
        raise typer.BadParameter(f"{value!r} is not an AWS region name, e.g. us-east-1")
    return value


def stack_name_value(value: str) -> str:
    if not _STACK_NAME.match(value):
        raise typer.BadParameter(
            f"{value!r} is not a CloudFormation stack name (a letter, then letters, digits and hyphens, at most 128) "
            "or stack ARN"
        )
    return value


def table_name_value(value: str | None) -> str | None:
    if value is not None and not _TABLE_NAME.match(value):
        raise typer.BadParameter(
            f"{value!r} is not a DynamoDB table name: 3 to 255 characters, each a letter, digit, '_', '-' or '.'"
        )
    return value


def seconds_value(value: float) -> float:
    if not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number of seconds")
    return value


def name_value(value: str) -> str:
    """A trip id or a message id: whatever it is, not empty and not padded."""
    if not value.strip() or value != value.strip():
        raise typer.BadParameter(f"{value!r}: an id is neither empty nor padded with spaces")
    return value


def names_value(values: list[str] | None) -> list[str] | None:
    for value in values or ():
        name_value(value)
    return values


def trip_ids_value(values: list[str] | None) -> list[str] | None:
    """Trip ids a trip can have (services.trip.trip_ids): an id none can have would select nothing, silently."""
    for value in values or ():
        try:
            check_trip_id(value)
        except InvalidTripId as error:
            raise typer.BadParameter(f"{value!r} is no trip id: it {error}") from None
    return values


StackName = Annotated[
    str,
    typer.Option(
        "--stack-name",
        metavar="NAME",
        callback=stack_name_value,
        help="The deployed stack whose outputs name the tables, stream and queue.",
    ),
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        metavar="URL",
        envvar="AWS_ENDPOINT_URL",
        callback=endpoint_url_value,
        help="AWS endpoint, e.g. the local runtime's http://127.0.0.1:4566.",
    ),
]
Region = Annotated[
    str | None,
    typer.Option(
        "--region",
        metavar="REGION",
        callback=region_value,
        help="AWS region (default: AWS_DEFAULT_REGION or your AWS profile's).",
    ),
]
Profile = Annotated[
    str | None, typer.Option("--profile", metavar="PROFILE", help="AWS profile from your AWS configuration.")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]


@contextmanager
def operator_errors() -> Iterator[None]:
    """A ReplayError ends the command with its message and exit code (2: bad input, 1: failure); no traceback."""
    try:
        yield
    except ReplayError as error:
        print_error(str(error))
        raise typer.Exit(error.exit_code) from None


def print_json(document: Any) -> None:
    """Every `--json` output: numbers with all their digits (`exact_json`), other values (times, ...) as text."""
    sys.stdout.write(exact_json.dumps(document, indent=2, default=str) + "\n")
