"""Faults injected on purpose (``up --fault-throttle/--fault-crash/--fault-timeout``), drawn from seeded
generators and counted in ``GET /_local_runtime/status`` under ``faults``. All off by default.

- **Throttling**, at the emulator's request layer: that share of the write requests (``PutItem``,
  ``UpdateItem``, ``DeleteItem``, ``BatchWriteItem``) and ``BatchGetItem`` reads addressed to a watched table
  (the stacks' ``SearchTableName``) is answered as DynamoDB answers a request over a table's throughput:
  HTTP 400 with ``ProvisionedThroughputExceededException`` in DynamoDB's JSON error shape. An SDK raises it as
  a ``ClientError`` with that code after its own retries (botocore's default standard mode: 3 retries, seen
  as "reached max retries: 3"), so most throttles are absorbed there, as on AWS.
- **Crashes and timeouts of consumer invocations** (an invocation whose event is a batch of DynamoDB Streams
  or Kinesis records). At the invocation's first write to DynamoDB one draw decides: below the crash rate, the
  write lands and then the sandbox's process is killed (as an out-of-memory kill or a host failure ends it;
  Lambda reports ``Runtime.ExitError``); below crash + timeout rate, the write is held (it never lands) until
  the function's timeout ends the invocation (``Sandbox.Timedout``). Either way the event source mapping sees
  a function error and retries the batch. An invocation that writes nothing has no draw.

A request is matched to the invocation that sent it by its credentials: each sandbox has an access key id of
its own, as each Lambda execution environment has the role's session credentials.

Each kind of fault has its own generator, seeded from ``--seed`` and its name (the invocation draws one per
event source, so each pipeline's sequence of draws is its own), so a run's choices are reproducible given the
same order of requests; with concurrent pipelines that order, and so which request is hit, can vary.
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from local_runtime.emulator.wsgi import WsgiApp

if TYPE_CHECKING:
    from local_runtime.functions.lambda_runtime import Sandbox

log = logging.getLogger(__name__)

_TARGET_PREFIX = "DynamoDB_20120810."
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
THROTTLED_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "BatchGetItem"})
STREAM_EVENT_SOURCES = frozenset({"aws:dynamodb", "aws:kinesis"})
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
# DynamoDB's own message for this error (AWS: DynamoDB API reference, "Common errors" / error handling).
THROTTLE_MESSAGE = (
    "The level of configured provisioned throughput for the table was exceeded. "
    "Consider increasing your provisioning level with the UpdateTable API."
)
HOLD_MARGIN_S = 5.0  # a held write is released at the latest this long after its invocation's deadline


@dataclass(frozen=True)
class FaultRates:
    """Shares in [0, 1]: of the watched table's requests (throttle), of consumer invocations that write
    (crash, timeout; at most 1 together)."""

    throttle: float = 0.0
    crash: float = 0.0
    timeout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("throttle", "crash", "timeout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"the {name} rate must be between 0 and 1, not {getattr(self, name)}")
        if self.crash + self.timeout > 1.0:
            raise ValueError(f"the crash and timeout rates add up to {self.crash + self.timeout:g}, more than 1")

    @property
    def any(self) -> bool:
        return bool(self.throttle or self.crash or self.timeout)


@dataclass
class _Invocation:
    """A sandbox's invocation in progress, as the request layer needs to know it."""

    function_name: str
    event_source: str | None  # of a consumer invocation: "aws:dynamodb" | "aws:kinesis"
    deadline: float  # epoch seconds
    end_sandbox: Callable[[], None]
    ended: threading.Event
    drawn: bool = False


def stream_batch_source(payload: bytes) -> str | None:
    """The event source of an invocation whose event is a batch of stream records (what an event source
    mapping sends), else None."""
    try:
        source = json.loads(payload)["Records"][0]["eventSource"]
    except (ValueError, LookupError, TypeError):
        return None
    return source if source in STREAM_EVENT_SOURCES else None


class FaultPlan:
    """Decides, injects and counts the faults; consulted by the request layer and by the Lambda runtime."""

    def __init__(self, rates: FaultRates, seed: int | None) -> None:
        self.rates = rates
        self._seed = seed
        self._throttle_rng = self._generator("throttle")
        self._invocation_rngs: dict[str, random.Random] = {}
        self._watched_tables: set[str] = set()
        self._invocations: dict[str, _Invocation] = {}  # access key id of the sandbox -> its invocation
        self._lock = threading.Lock()
        self._counts = {
            "throttle": {"requests": 0, "injected": 0},
            "crash": {"invocations": 0, "injected": 0},
            "timeout": {"invocations": 0, "injected": 0},
        }
        self._requests_held = 0

    def _generator(self, name: str) -> random.Random:
        return random.Random(None if self._seed is None else f"{self._seed}/{name}")

    def watch_tables(self, table_names: Iterable[str]) -> None:
        """The tables whose requests may be throttled."""
        with self._lock:
            self._watched_tables.update(table_names)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self._seed,
                "watchedTables": sorted(self._watched_tables),
                **{kind: {"rate": getattr(self.rates, kind), **counts} for kind, counts in self._counts.items()},
                "invocationsInProgress": len(self._invocations),
                "requestsHeld": self._requests_held,
            }

    @contextmanager
    def watch(self, sandbox: Sandbox, payload: bytes) -> Iterator[None]:
        """Around one invocation in ``sandbox``: makes its requests known to the request layer."""
        invocation = _Invocation(
            function_name=sandbox.function.name,
            event_source=stream_batch_source(payload) if self.rates.crash or self.rates.timeout else None,
            deadline=time.time() + sandbox.function.timeout_s,
            end_sandbox=sandbox.kill,
            ended=threading.Event(),
        )
        with self._lock:
            self._invocations[sandbox.access_key_id] = invocation
        try:
            yield
        finally:
            invocation.ended.set()
            with self._lock:
                self._invocations.pop(sandbox.access_key_id, None)

    def wrap(self, app: WsgiApp) -> WsgiApp:
        """The request layer: a WSGI middleware in front of the emulator (nothing in between with faults off)."""
        if not self.rates.any:
            return app

        def with_faults(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            if not target.startswith(_TARGET_PREFIX):
                return app(environ, start_response)
            operation = target.removeprefix(_TARGET_PREFIX)
            body = _read_body(environ)
            if operation in THROTTLED_OPERATIONS and self._throttled(_table_names(operation, body)):
                return _throttled_response(start_response)
            fault = self._draw(environ) if operation in WRITE_OPERATIONS else None
            if fault is None:
                return app(environ, start_response)
            invocation, kind = fault
            if kind == "crash":
                response = list(app(environ, start_response))  # the write is carried out ...
                log.info("injected crash: ending the sandbox of %s after a write", invocation.function_name)
                invocation.end_sandbox()  # ... and the process ends before the function hears of it
                invocation.ended.wait(HOLD_MARGIN_S)
                return response
            log.info("injected timeout: holding a write of %s past its timeout", invocation.function_name)
            self._hold(invocation)
            start_response("503 Service Unavailable", [("Content-Type", "application/x-amz-json-1.0")])
            return [b'{"__type":"ServiceUnavailable","message":"the invocation timed out"}']

        return with_faults

    def _throttled(self, tables: list[str]) -> bool:
        with self._lock:
            if not self._watched_tables.intersection(tables):
                return False
            counts = self._counts["throttle"]
            counts["requests"] += 1
            throttled = self._throttle_rng.random() < self.rates.throttle
            counts["injected"] += throttled
            return throttled

    def _draw(self, environ: dict[str, Any]) -> tuple[_Invocation, str] | None:
        """For the first write of a consumer invocation: crash, timeout, or nothing (None)."""
        credential = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        with self._lock:
            invocation = self._invocations.get(credential.group(1)) if credential else None
            if invocation is None or invocation.event_source is None or invocation.drawn:
                return None
            invocation.drawn = True
            rng = self._invocation_rngs.get(invocation.event_source)
            if rng is None:
                rng = self._invocation_rngs[invocation.event_source] = self._generator(invocation.event_source)
            draw = rng.random()
            self._counts["crash"]["invocations"] += 1
            self._counts["timeout"]["invocations"] += 1
            if draw < self.rates.crash:
                kind = "crash"
            elif draw < self.rates.crash + self.rates.timeout:
                kind = "timeout"
            else:
                return None
            self._counts[kind]["injected"] += 1
            return invocation, kind

    def _hold(self, invocation: _Invocation) -> None:
        with self._lock:
            self._requests_held += 1
        try:
            invocation.ended.wait(max(0.0, invocation.deadline - time.time()) + HOLD_MARGIN_S)
        finally:
            with self._lock:
                self._requests_held -= 1


def _read_body(environ: dict[str, Any]) -> dict[str, Any]:
    """The request's JSON body; the WSGI input is replaced so the emulator reads it again."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _table_names(operation: str, body: dict[str, Any]) -> list[str]:
    names = list(body.get("RequestItems") or {}) if operation.startswith("Batch") else [body.get("TableName")]
    # A table may be named by its ARN: arn:aws:dynamodb:<region>:<account>:table/<name>
    return [
        name.rsplit("table/", 1)[-1] if name.startswith("arn:") else name for name in names if isinstance(name, str)
    ]


def _throttled_response(start_response: Callable[..., Any]) -> list[bytes]:
    error_type = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
    body = json.dumps({"__type": error_type, "message": THROTTLE_MESSAGE}).encode()
    start_response(
        "400 Bad Request",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", uuid.uuid4().hex.upper()),
        ],
    )
    return [body]
