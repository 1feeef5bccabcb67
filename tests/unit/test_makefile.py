"""The make targets pass CONTEXT and PORT on as the CDK CLI and the local runtime take them (`make -n`: printed,
not run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1].parent


def recipe(*arguments: str) -> str:
    """The last command `make` would run for `arguments`."""
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", *arguments], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return printed.stdout.splitlines()[-1]


@pytest.mark.parametrize(
    ("target", "command"),
    [
        ("synth", "npx --no-install cdk synth --quiet -c changeStreamRetentionDays=30 -c kinesisPipeline=false"),
        (
            "deploy",
            "npx --no-install cdk deploy TripSagaStack -c changeStreamRetentionDays=30 -c kinesisPipeline=false",
        ),
        ("diff", "npx --no-install cdk diff TripSagaStack -c changeStreamRetentionDays=30 -c kinesisPipeline=false"),
        (
            "up",
            ".venv/bin/python -m local_runtime up --port 4566 --context changeStreamRetentionDays=30 "
            "--context kinesisPipeline=false",
        ),
    ],
)
def test_context_switches_reach_the_cdk_and_the_local_runtime(target: str, command: str) -> None:
    assert recipe(target, "CONTEXT=changeStreamRetentionDays=30 kinesisPipeline=false") == command


def test_make_up_takes_another_port() -> None:
    assert recipe("up", "PORT=4610") == ".venv/bin/python -m local_runtime up --port 4610"
