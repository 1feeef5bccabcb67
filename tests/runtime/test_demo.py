"""`make demo` (`python -m local_runtime demo`), the product's main job: the hands-on's section 7 on a fresh
runtime, every check passed, and what it shows of a search document as the API shows it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.local_runtime_session import REPO_ROOT

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("demo")]


def test_the_demo_passes_every_check_and_shows_numbers_as_numbers(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "local_runtime", "demo", "--state-dir", str(tmp_path)]

    finished = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)

    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    lines = finished.stdout.splitlines()
    checks = [re.sub(r"\s\s.*$", "", line[2:]) for line in lines if line.startswith(("✔ ", "✘ "))]
    assert checks == [
        "StreamConsumer and SearchTrips functions",
        "TripSaga state machine",
        *(
            f"saga {trip_id} {status}"
            for trip_id, status in [
                ("trip-streams-001", "SUCCEEDED"),
                ("trip-streams-cancel-001", "FAILED"),
                ("trip-demo-002", "SUCCEEDED"),
                ("trip-demo-003", "SUCCEEDED"),
                ("trip-demo-004", "FAILED"),
                ("trip-demo-005", "SUCCEEDED"),
            ]
        ),
        "Kinesis copy, DynamoDB Streams and Kinesis mappings caught up",
        "7.2 document",
        "7.4 compensated",
        "GET $API_URL/trips/search (March, CONFIRMED)",
        "aws lambda invoke SearchTrips",
        "change records in the stream, in DynamoDB's Kinesis format",
        "poison record in the DLQ",
    ]
    assert not any(line.startswith("✘ ") for line in lines)
    # the 7.2 document, as read from TripSearchTable, and the API's answer: the amount is the number 80000 in both
    assert [line.strip() for line in lines if '"total_amount"' in line] == ['"total_amount": 80000,'] * 2
    assert lines[-1].strip("─ ") == "all checks passed"
