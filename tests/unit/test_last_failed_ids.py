"""`pytest --lf` after a `make test` (`-n 2 --dist loadgroup`) reruns only what failed, and FAILED lines name ids a
user can pass to pytest: the suite's plugin tests/xdist_ids.py strips pytest-xdist's `@<group>` from reported ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
import os, pytest

@pytest.mark.xdist_group("runtime")
def test_fails_until_fixed():
    assert os.environ.get("FIXED")

@pytest.mark.xdist_group("runtime")
@pytest.mark.parametrize("case", ["a@b", "plain"])
def test_passes(case):
    pass

def test_ungrouped():
    pass
"""


def pytest_in(folder: Path, *arguments: str, fixed: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", **({"FIXED": "1"} if fixed else {})}
    command = [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", *arguments]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_last_failed_reruns_only_the_failed_test_named_without_its_group(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.xdist_ids"]\n')
    (tmp_path / "test_sample.py").write_text(TESTS)

    first = pytest_in(tmp_path)
    lastfailed = json.loads((tmp_path / ".pytest_cache" / "v" / "cache" / "lastfailed").read_text())
    again = pytest_in(tmp_path, "--lf")
    fixed = pytest_in(tmp_path, "--lf", fixed=True)

    assert "FAILED test_sample.py::test_fails_until_fixed - " in first.stdout
    assert lastfailed == {"test_sample.py::test_fails_until_fixed": True}
    assert again.stdout.splitlines()[-1].startswith("1 failed in ")
    assert fixed.stdout.splitlines()[-1].startswith("1 passed in ")
