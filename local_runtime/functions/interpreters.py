"""The Python interpreter a Lambda runtime identifier names, found on this machine.

The local runtime runs each function on the interpreter of its deployed ``Runtime`` (``python3.13``: CPython 3.13),
whatever Python the runtime itself runs on, because the functions' layer holds compiled wheels for that version
only. Looked for as ``python3.13`` on the PATH, then in pyenv's versions (``$PYENV_ROOT``, by default
``~/.pyenv``), newest patch release first; the first that runs and says it is that version is taken (a pyenv shim
on the PATH runs only where that version is selected). It must run on Linux x86_64: the layer's compiled wheels are
for the functions' architecture.

``python -m local_runtime.functions.interpreters`` (run by ``make dev``) prints the path of the stack's runtime's
interpreter (the layer's modules are compiled with it), or one ``error:`` line and exit 2 when there is none.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PYTHON_RUNTIME = re.compile(r"python(\d+)\.(\d+)")
PLATFORM = "linux-x86_64"  # the functions' architecture (infra/lambda_function.py), whose wheels the layer holds


class InterpreterNotFound(RuntimeError):
    """No interpreter of the function's runtime on this machine; the message says how to get one."""


@functools.cache
def interpreter_for(runtime: str) -> str:
    """The path of the interpreter that runs functions of `runtime` (a Lambda runtime identifier, `python3.13`).

    Raises InterpreterNotFound for a runtime that is not Python or a Python this machine lacks."""
    match = PYTHON_RUNTIME.fullmatch(runtime)
    if match is None:
        raise InterpreterNotFound(f"the local runtime runs Python functions only, not the {runtime} runtime")
    major, minor = match.groups()
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    installed = sorted(
        (
            candidate
            for candidate in versions.glob(f"{major}.{minor}.*/bin/{runtime}")
            if re.fullmatch(rf"{major}\.{minor}\.\d+", candidate.parent.parent.name)
        ),
        key=lambda path: -int(path.parent.parent.name.split(".")[2]),
    )
    for candidate in [shutil.which(runtime), *map(str, installed)]:
        reported = _version_and_platform(candidate) if candidate is not None else None
        if reported is not None and reported[0] == f"{major}.{minor}":
            if reported[1] != PLATFORM:
                raise InterpreterNotFound(
                    f"the functions' layer holds wheels for Linux x86_64 (their architecture); this machine's CPython "
                    f"{major}.{minor} is {reported[1]}: the local runtime runs them on Linux x86_64 only"
                )
            return str(candidate)
    raise InterpreterNotFound(
        f"the functions run on the {runtime} Lambda runtime and the local runtime runs them on CPython "
        f"{major}.{minor}, which is not on this machine: install it (`pyenv install {major}.{minor}`, or your "
        f"package manager's {runtime}) so that `{runtime}` is on the PATH"
    )


def _version_and_platform(interpreter: str) -> tuple[str, str] | None:
    """What `interpreter` says it is ("3.13", "linux-x86_64"), or None when it does not run (a pyenv shim of a
    version not selected)."""
    script = "import sys, sysconfig; print('%d.%d' % sys.version_info[:2], sysconfig.get_platform())"
    try:
        ran = subprocess.run(
            [interpreter, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    version, _, platform = ran.stdout.strip().partition(" ")
    return (version, platform) if ran.returncode == 0 else None


def main() -> None:
    from infra.lambda_function import RUNTIME

    try:
        print(interpreter_for(RUNTIME.name))
    except InterpreterNotFound as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
