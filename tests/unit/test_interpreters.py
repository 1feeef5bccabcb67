"""The interpreter a Lambda runtime names: the PATH's when it runs and is that version, else pyenv's newest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_runtime.functions.interpreters import InterpreterNotFound, interpreter_for

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_lookups() -> Iterator[None]:
    interpreter_for.cache_clear()
    yield
    interpreter_for.cache_clear()


def version_of(interpreter: str) -> str:
    command = [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def fake_pyenv(root: Path, version: str, target: str) -> Path:
    """`root`/versions/`version`/bin/python3.13, a link to `target`."""
    binary = root / "versions" / version / "bin" / "python3.13"
    binary.parent.mkdir(parents=True)
    binary.symlink_to(target)
    return binary


def test_python313_is_found_and_is_313() -> None:
    assert version_of(interpreter_for("python3.13")) == "3.13"


def test_a_shim_on_the_path_that_does_not_run_is_passed_over_for_pyenvs_newest_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a python3.13 on the PATH that fails (a pyenv shim where 3.13 is not selected), and pyenv holding 3.13.2
    # and 3.13.10, both the real interpreter
    real = interpreter_for("python3.13")
    interpreter_for.cache_clear()
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python3.13").write_text("#!/bin/sh\nexit 127\n")
    (shims / "python3.13").chmod(0o755)
    fake_pyenv(tmp_path / "pyenv", "3.13.2", real)
    newest = fake_pyenv(tmp_path / "pyenv", "3.13.10", real)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))

    # then the newest pyenv release is taken (10 > 2, not by the string's order)
    assert interpreter_for("python3.13") == str(newest)


def test_a_python_this_machine_lacks_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))

    with pytest.raises(InterpreterNotFound) as raised:
        interpreter_for("python3.13")

    assert str(raised.value) == (
        "the functions run on the python3.13 Lambda runtime and the local runtime runs them on CPython 3.13, which "
        "is not on this machine: install it (`pyenv install 3.13`, or your package manager's python3.13) so that "
        "`python3.13` is on the PATH"
    )


def test_a_runtime_that_is_not_python_is_refused() -> None:
    with pytest.raises(InterpreterNotFound) as raised:
        interpreter_for("nodejs20.x")

    assert str(raised.value) == "the local runtime runs Python functions only, not the nodejs20.x runtime"


def test_the_check_make_dev_runs_is_one_error_line_and_exit_2_without_the_runtimes_python(tmp_path: Path) -> None:
    # the CDK needs node; a PATH with only node's folder holds no python3.13
    node = shutil.which("node")
    assert node is not None
    path = str(Path(node).parent)
    assert shutil.which("python3.13", path=path) is None
    env = {**os.environ, "PATH": path, "PYENV_ROOT": str(tmp_path)}
    command = [sys.executable, "-m", "local_runtime.functions.interpreters"]

    checked = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)

    assert checked.returncode == 2
    assert checked.stderr.splitlines() == [
        "error: the functions run on the python3.13 Lambda runtime and the local runtime runs them on CPython 3.13, "
        "which is not on this machine: install it (`pyenv install 3.13`, or your package manager's python3.13) so "
        "that `python3.13` is on the PATH"
    ]


def test_a_python_of_another_platform_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a python3.13 on the PATH that is CPython 3.13 on macOS arm64
    fake = tmp_path / "python3.13"
    fake.write_text("#!/bin/sh\necho 3.13 macosx-14.0-arm64\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "none"))

    with pytest.raises(InterpreterNotFound) as raised:
        interpreter_for("python3.13")

    assert str(raised.value) == (
        "the functions' layer holds wheels for Linux x86_64 (their architecture); this machine's CPython 3.13 is "
        "macosx-14.0-arm64: the local runtime runs them on Linux x86_64 only"
    )
