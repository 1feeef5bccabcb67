"""Every operator mistake is one `error: ...` line naming the option, exit code 2, and nothing done (moto)."""

from __future__ import annotations

import http.server
import os
import socketserver
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from replay.cli import app
from tests.conftest import REGION

REPO = Path(__file__).resolve().parents[2]


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


def assert_one_error_line(result: Any, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    for fragment in fragments:
        assert fragment in line


RUN = ("run", "--from", "1h")


@pytest.mark.parametrize("url", ["127.0.0.1:4566", "localhost:4566", "ftp://127.0.0.1:4566", "http://", "http//x", ""])
def test_an_endpoint_url_without_scheme_and_host_is_refused(stack: Any, url: str) -> None:
    assert_one_error_line(invoke(*RUN, "--endpoint-url", url), "--endpoint-url", repr(url))


def test_a_bad_endpoint_url_from_the_environment_names_the_variable(stack: Any) -> None:
    result = invoke("dlq", "list", env={"AWS_ENDPOINT_URL": "127.0.0.1:4566"})

    assert_one_error_line(result, "--endpoint-url", "AWS_ENDPOINT_URL", "'127.0.0.1:4566'")


@pytest.mark.parametrize(
    "name", ["bad name!", "x", "ab", "a" * 256, "trip/search", "trip search", "tríp", "TripSearch$"]
)
def test_a_target_table_that_dynamodb_would_refuse_is_refused_and_nothing_is_created(stack: Any, name: str) -> None:
    before = boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]

    result = invoke(*RUN, "--target-table", name)

    assert_one_error_line(result, "--target-table", "is not a DynamoDB table name")
    assert boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"] == before


@pytest.mark.parametrize("name", ["abc", "a" * 255, "Trip_Search.Rebuild-2"])
def test_table_names_dynamodb_accepts_are_accepted(stack: Any, name: str) -> None:
    result = invoke(*RUN, "--target-table", name, "--dry-run", "--json")

    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("region", ["us east 1", "US-EAST-1", "useast1", "us-east-", "../etc", ""])
def test_a_malformed_region_is_refused(stack: Any, region: str) -> None:
    assert_one_error_line(invoke(*RUN, "--region", region), "--region", "is not an AWS region name")


def test_no_region_at_all_says_which_option_or_variable_to_set(stack: Any, tmp_path: Path) -> None:
    no_config = {"AWS_DEFAULT_REGION": None, "AWS_REGION": None, "AWS_CONFIG_FILE": str(tmp_path / "none")}

    result = invoke("dlq", "list", env=no_config)

    assert_one_error_line(result, "no AWS region", "--region", "AWS_DEFAULT_REGION")


@pytest.mark.parametrize("stack_name", ["1stack", "trip_saga", "Trip Saga", "a" * 129, "arn:aws:s3:::bucket"])
def test_a_malformed_stack_name_is_refused(stack: Any, stack_name: str) -> None:
    assert_one_error_line(invoke(*RUN, "--stack-name", stack_name), "--stack-name", "is not a CloudFormation stack")


def test_an_unknown_profile_is_named(stack: Any) -> None:
    assert_one_error_line(invoke(*RUN, "--profile", "no-such-profile"), "--profile 'no-such-profile'")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--segments", "0"), ("--segments", "greater than or equal to 1")),
        (("--segments", "65"), ("--segments", "less than or equal to 64")),
        (("--segments", "two"), ("--segments", "valid integer")),
        (("--shard-concurrency", "0"), ("--shard-concurrency", "greater than or equal to 1")),
        (("--shard-concurrency", "65"), ("--shard-concurrency", "less than or equal to 64")),
        (("--shard-concurrency", "all"), ("--shard-concurrency", "valid integer")),
        (("--quiet-for", "0.5"), ("--quiet-for", "greater than or equal to 1")),
        (("--quiet-for", "inf"), ("--quiet-for", "not a number of seconds")),
        (("--quiet-for", "nan"), ("--quiet-for",)),
        (("--source", "s3"), ("--source", "'s3' is not one of 'kinesis', 'table'")),
        (("--trip-id", ""), ("--trip-id", "'' is no trip id: it must be 1 to 128 characters, got 0")),
        (("--trip-id", " trip-1"), ("--trip-id", "' trip-1' is no trip id: it must not start or end with a space")),
        (("--to", "tomorrow"), ("--to 'tomorrow'", "neither ISO-8601")),
        (("--to", "2026-13-01"), ("--to '2026-13-01'",)),
        (("--no-such-option",), ("No such option: --no-such-option",)),
    ],
)
def test_a_bad_run_option_value_is_one_error_line(stack: Any, args: tuple[str, ...], fragments: tuple[str]) -> None:
    assert_one_error_line(invoke(*RUN, *args), *fragments)


@pytest.mark.parametrize("value", ["yesterday", "-1h", "6 h", "2026-02-30T00:00Z", ""])
def test_a_bad_from_is_one_error_line(stack: Any, value: str) -> None:
    assert_one_error_line(invoke("run", "--from", value), f"--from {value!r}")


def test_a_bad_choice_reads_as_our_own_message_not_pydantics() -> None:
    result = invoke(*RUN, "--source", "s3")

    message, _, hint = result.stderr.partition(" (see ")
    assert (result.exit_code, message) == (
        2,
        "error: Invalid value for '--source': 's3' is not one of 'kinesis', 'table'.",
    )
    assert hint.endswith("run --help)\n")


def test_a_checkpoint_dir_that_is_a_file_is_refused(stack: Any, tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")

    assert_one_error_line(invoke(*RUN, "--checkpoint-dir", str(a_file)), "--checkpoint-dir", "is a file")


def test_a_checkpoint_dir_that_cannot_be_created_is_refused_before_anything_is_written(
    stack: Any, tmp_path: Path
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")

    result = invoke(*RUN, "--target-table", "NeverCreated", "--checkpoint-dir", str(blocked / "below"))

    assert_one_error_line(result, "--checkpoint-dir")
    assert "NeverCreated" not in boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("dlq", "show"), ("Missing argument",)),
        (("dlq", "show", ""), ("neither empty nor padded",)),
        (("dlq", "redrive"), ("name the messages to redrive, or pass --all",)),
        (("dlq", "redrive", "--all", "an-id"), ("name the messages to redrive, or pass --all",)),
        (("dlq", "list", "--all"), ("No such option: --all",)),
        (("dlq", "delete"), ("name the messages to delete, or pass --all",)),
        (("dlq", "delete", "--all"), ("--all", "--yes")),
        (("dlq", "nothing"), ("No such command",)),
    ],
)
def test_a_bad_dlq_command_is_one_error_line(stack: Any, args: tuple[str, ...], fragments: tuple[str]) -> None:
    assert_one_error_line(invoke(*args), *fragments)


def test_the_real_entrypoint_prints_one_line_and_no_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "replay", "dlq", "list", "--endpoint-url", "127.0.0.1:4566"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_DEFAULT_REGION": REGION},
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: Invalid value for '--endpoint-url' (env var: 'AWS_ENDPOINT_URL'): '127.0.0.1:4566' is not an "
        "http(s) URL with a host, e.g. http://127.0.0.1:4566 (see python -m replay dlq list --help)"
    ]


@pytest.mark.parametrize("region", ["us-east-99", "eu-nowhere-1"])
def test_a_well_formed_region_that_aws_has_not_is_refused_before_any_request(stack: Any, region: str) -> None:
    result = invoke("dlq", "list", "--region", region)

    assert result.stderr.splitlines() == [
        f"error: region {region!r} (from --region, AWS_DEFAULT_REGION or the profile): no AWS region of that name "
        "(e.g. us-east-1)"
    ]
    assert result.exit_code == 2


@pytest.mark.parametrize("command", [("dlq", "list"), RUN])
def test_a_stack_that_does_not_exist_is_bad_input(stack: Any, command: tuple[str, ...]) -> None:
    result = invoke(*command, "--stack-name", "NoSuchStack")

    assert_one_error_line(result, "stack 'NoSuchStack' does not exist at us-east-1", "--stack-name")


def test_an_endpoint_that_answers_no_aws_answer_is_one_error_line(stack: Any) -> None:
    # given an endpoint that answers every request with a page that is no AWS answer (a captive portal, a web server)
    class HtmlErrors(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = b"<html><body><h1>Welcome</h1><p>Sign in to continue<br></body>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), HtmlErrors) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            result = invoke("dlq", "list", "--endpoint-url", url, env={"AWS_MAX_ATTEMPTS": "1"})
        finally:
            server.shutdown()

    # then the operator reads one line saying what the tool was doing and what to check, exit 1
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: describing stack TripSagaStack: the endpoint's answer is not an AWS answer (")
    assert line.endswith("): check --endpoint-url and --region")


@pytest.mark.parametrize("command", [RUN, ("audit",)])
@pytest.mark.parametrize(
    ("trip_id", "why"),
    [
        ("bad/id", "may hold letters, digits and - _ . ~ @ : and space only, not '/'"),
        ("..", "must not be made of dots only"),
        ("t" * 129, "must be 1 to 128 characters, got 129"),
        ("search", "must not be 'search': GET /trips/search is the search"),
    ],
)
def test_a_trip_id_no_trip_can_have_is_refused(stack: Any, command: tuple[str, ...], trip_id: str, why: str) -> None:
    result = invoke(*command, "--trip-id", "trip-001", "--trip-id", trip_id)

    assert_one_error_line(
        result,
        f"error: Invalid value for '--trip-id': {trip_id!r} is no trip id: it {why} (see ",
        f"{command[0]} --help)",
    )
