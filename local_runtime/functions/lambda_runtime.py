"""Runs Lambda functions the way the Lambda service does, minus the container.

Each function gets sandboxes: long-lived worker processes (``lambda_worker.py``) started on the first invocation
with the function's own environment, on the interpreter of its runtime (``interpreters.py``), with the code of its
deployed package and the content of its deployed layers, extracted under the state folder, and the runtime's own
SDK, and nothing else on its path. On Lambda that SDK is a boto3 of the region's and the day's release
(/var/lang/lib/python3.13/site-packages, after the layers: "Runtime-included SDK versions"); here the pin's
(``RUNTIME_SDK``, built by ``make dev``). The handler is imported once per sandbox (a cold start); module-level
caches and the environment stay per function. As on Lambda, the import (the Init phase) has up to ``INIT_TIMEOUT_S``
of its own before the function's timeout starts; an init that takes longer eats into the first invocation's timeout
("Lambda execution environment lifecycle": "The Init phase is limited to 10 seconds. If all three tasks do not
complete within 10 seconds, Lambda retries the Init phase at the time of the first function invocation with the
configured function timeout"). The timeout is enforced by ending the sandbox. Invocations that find every sandbox
busy start another, up to ``MAX_SANDBOXES_PER_FUNCTION``, then wait.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local_runtime.functions import lambda_worker
from local_runtime.functions.interpreters import interpreter_for

log = logging.getLogger(__name__)

RUNTIME_SDK = Path(".build") / "runtime-sdk"  # under the project folder
MAX_SANDBOXES_PER_FUNCTION = 2
INIT_TIMEOUT_S = 10.0
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


@dataclass(frozen=True)
class FunctionSpec:
    """What a sandbox needs from the deployed function's configuration."""

    name: str
    arn: str
    handler: str
    timeout_s: float
    memory_mb: int
    environment: tuple[tuple[str, str], ...]
    code_sha256: str
    runtime: str  # the Lambda runtime identifier: "python3.13"
    layer_sha256s: tuple[str, ...] = ()  # of its layers' content, in the function's order

    @property
    def sandbox_key(self) -> str:
        # A new configuration, code or layer gets new sandboxes, as a deployment does on AWS.
        identity = [self.handler, self.environment, self.code_sha256, self.runtime, self.layer_sha256s]
        digest = hashlib.sha256(json.dumps(identity).encode())
        return f"{self.arn}#{digest.hexdigest()[:16]}"


@dataclass(frozen=True)
class Package:
    """What a function runs: its code package and its layers' content (zip files), as deployed."""

    code: bytes
    layers: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Invocation:
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed, as the X-Amz-Function-Error header says


class Sandbox:
    """One worker process; runs one invocation at a time."""

    def __init__(
        self, function: FunctionSpec, code_dir: Path, libraries: list[Path], log_file: Path, base_env: dict[str, str]
    ) -> None:
        self.function = function
        # Credentials of its own, as each Lambda execution environment has its role's session credentials:
        # they tell the emulator which sandbox sent a request (local_runtime.faults.injection).
        self.access_key_id = f"ASIA{uuid.uuid4().hex[:16].upper()}"
        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        env = {
            **base_env,
            **dict(function.environment),
            "_HANDLER": function.handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
            lambda_worker.PATH_VARIABLE: os.pathsep.join(map(str, libraries)),
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
            "LOCAL_RUNTIME_FUNCTION_ARN": function.arn,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
        }
        with log_file.open("ab") as output:
            self._process = subprocess.Popen(
                # -I -S: no site-packages, no environment's paths: only the standard library, code and layers
                [
                    interpreter_for(function.runtime),
                    "-I",
                    "-S",
                    lambda_worker.__file__,
                    str(request_read),
                    str(response_write),
                ],
                env=env,
                cwd=code_dir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(request_read, response_write),
            )
        os.close(request_read)
        os.close(response_write)
        self._requests: IO[str] = os.fdopen(self._request_write, "w", encoding="utf-8")
        self._responses: IO[str] = os.fdopen(self._response_read, "r", encoding="utf-8")
        self._initialized = False

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def invoke(self, payload: bytes, request_id: str) -> Invocation:
        started = time.time()
        if not self._initialized:
            # An init past INIT_TIMEOUT_S goes on within the first invocation's timeout.
            if not self._answers_by(started + INIT_TIMEOUT_S + self.function.timeout_s):
                return self._timed_out(request_id)
            self._initialized = True
            if self._responses.readline() != lambda_worker.INITIALIZED:  # "": it exited while importing
                return self._exited(request_id)
        deadline = min(time.time(), started + INIT_TIMEOUT_S) + self.function.timeout_s
        request = {"request_id": request_id, "deadline_ms": int(deadline * 1000), "payload": payload.decode()}
        try:
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
        except BrokenPipeError:
            return self._exited(request_id)
        if not self._answers_by(deadline):
            return self._timed_out(request_id)
        line = self._responses.readline()
        if not line:
            return self._exited(request_id)
        response = json.loads(line)
        if "error" in response:
            return _failed(response["error"])
        return Invocation(payload=response["payload"].encode(), function_error=None)

    def _answers_by(self, deadline: float) -> bool:
        """Whether the worker wrote its next line (a response; first, `lambda_worker.INITIALIZED` once the
        handler is imported or failed to import) before `deadline` (epoch seconds)."""
        ready, _, _ = select.select([self._responses], [], [], max(0.0, deadline - time.time()))
        return bool(ready)

    def _timed_out(self, request_id: str) -> Invocation:
        self.stop()
        message = f"RequestId: {request_id} Error: Task timed out after {self.function.timeout_s:.2f} seconds"
        return _failed({"errorType": "Sandbox.Timedout", "errorMessage": message})

    def _exited(self, request_id: str) -> Invocation:
        status = self._process.wait()
        # Lambda's wording: "exit status 1", or "signal: killed" for a process killed (out of memory, say)
        ending = "signal: killed" if status == -signal.SIGKILL else f"exit status {status}"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {ending}"
        return _failed({"errorType": "Runtime.ExitError", "errorMessage": message})

    def kill(self) -> None:
        """End the process now, from any thread; the invocation in progress then fails Runtime.ExitError."""
        self._process.kill()

    def stop(self) -> None:
        if self.alive:
            self._process.kill()
        self._process.wait()
        self._requests.close()
        self._responses.close()


def _path_safe(code_sha256: str) -> str:
    """A folder name from a CodeSha256 (Lambda's is base64, which may hold '/'): its first 16 characters."""
    return code_sha256.replace("/", "_").replace("+", "-")[:16]


def _failed(error: dict[str, Any]) -> Invocation:
    return Invocation(payload=json.dumps(error).encode(), function_error="Unhandled")


@dataclass
class _SandboxPool:
    idle: list[Sandbox] = field(default_factory=list)
    slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(MAX_SANDBOXES_PER_FUNCTION)
    )


WatchInvocation = Callable[[Sandbox, bytes], AbstractContextManager[Any]]  # the sandbox, the event


def _unwatched(sandbox: Sandbox, payload: bytes) -> AbstractContextManager[None]:
    return nullcontext()


class LambdaRuntime:
    """Invokes functions in sandboxes that live as long as the runtime (or until their code changes); the runtime's
    SDK is `project_dir`'s RUNTIME_SDK.

    ``watch`` is entered around each invocation (the fault plan follows the sandbox's requests with it).
    """

    def __init__(
        self,
        state_dir: Path,
        project_dir: Path,
        endpoint_url: str,
        region: str,
        watch: WatchInvocation = _unwatched,
    ) -> None:
        self._watch = watch
        self._runtime_sdk = project_dir / RUNTIME_SDK
        self._code_root = state_dir / "functions"
        self._log_root = state_dir / "logs"
        self._base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": endpoint_url,
            # There is no X-Ray daemon here; a function's own setting still wins.
            "POWERTOOLS_TRACE_DISABLED": "true",
            **FAKE_CREDENTIALS,
        }
        self._pools: dict[str, _SandboxPool] = {}
        self._lock = threading.Lock()

    def invoke(self, function: FunctionSpec, package: Package, payload: bytes) -> Invocation:
        request_id = str(uuid.uuid4())
        pool = self._pool(function)
        with pool.slots:
            sandbox: Sandbox | None = self._take_idle(pool) or self._start(function, package)
            assert sandbox is not None
            started = time.monotonic()
            with self._watch(sandbox, payload):
                invocation = sandbox.invoke(payload, request_id)
            log.debug("invoked %s (%s) in %.0f ms", function.name, request_id, (time.monotonic() - started) * 1000)
            with self._lock:
                if sandbox.alive and self._pools.get(function.sandbox_key) is pool:
                    pool.idle.append(sandbox)
                    sandbox = None
            if sandbox is not None:  # ended by a timeout, or its function changed meanwhile
                sandbox.stop()
        if invocation.function_error:
            error = json.loads(invocation.payload)
            log.info("%s failed: %s: %s", function.name, error.get("errorType"), error.get("errorMessage"))
        return invocation

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                for sandbox in pool.idle:
                    sandbox.stop()
            self._pools.clear()

    def _pool(self, function: FunctionSpec) -> _SandboxPool:
        with self._lock:
            pool = self._pools.get(function.sandbox_key)
            if pool is None:
                self._retire_older_versions(function)
                pool = self._pools[function.sandbox_key] = _SandboxPool()
            return pool

    def _retire_older_versions(self, function: FunctionSpec) -> None:
        for key in [key for key in self._pools if key.split("#")[0] == function.arn]:
            for sandbox in self._pools.pop(key).idle:
                sandbox.stop()

    def _take_idle(self, pool: _SandboxPool) -> Sandbox | None:
        with self._lock:
            while pool.idle:
                sandbox = pool.idle.pop()
                if sandbox.alive:
                    return sandbox
        return None

    def _start(self, function: FunctionSpec, package: Package) -> Sandbox:
        code_dir = self._extract(
            self._code_root / f"{function.name}-{_path_safe(function.code_sha256)}", [package.code]
        )
        # Lambda extracts the layers into /opt in the function's order, a later one's file over an earlier one's;
        # its Python runtime looks in /opt/python/lib/<runtime>/site-packages, then /opt/python, after the code
        libraries = []
        if package.layers:
            merged = hashlib.sha256("\n".join(function.layer_sha256s).encode()).hexdigest()[:16]
            opt = self._extract(self._code_root / "layers" / merged, package.layers)
            libraries = [opt / "python" / "lib" / function.runtime / "site-packages", opt / "python"]
        libraries.append(self._runtime_sdk)
        self._log_root.mkdir(parents=True, exist_ok=True)
        log.info("cold start of %s (%s)", function.name, function.handler)
        return Sandbox(function, code_dir, libraries, self._log_root / f"{function.name}.log", self._base_env)

    def _extract(self, directory: Path, contents: Sequence[bytes]) -> Path:
        """`directory`, holding the zip files `contents` extracted one over the other, in order (once: its name
        carries their digests)."""
        with self._lock:
            if not directory.exists():
                unpacking = directory.with_name(directory.name + ".unpacking")
                shutil.rmtree(unpacking, ignore_errors=True)
                for content in contents:
                    with zipfile.ZipFile(io.BytesIO(content)) as archive:
                        archive.extractall(unpacking)
                unpacking.rename(directory)
        return directory
