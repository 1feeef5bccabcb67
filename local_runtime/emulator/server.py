"""The embedded AWS emulator: a moto server running in this process, on one endpoint for every service.

moto records Lambda functions, event source mappings and Kinesis shards but does not behave like AWS with
them. Because the server runs in our process, we patch its backends while it runs:

- Lambda ``Invoke`` (the API, Step Functions tasks, our own pollers) runs the real handler in our runtime,
  after refusing a payload that is not JSON as Lambda does.
- moto's inline event-source delivery is switched off: it would call functions synchronously inside
  ``PutItem``/``PutRecord`` and even erase DynamoDB stream records once delivered; our pollers read the
  streams instead, as Lambda does.
- CloudFormation creates state machines where the executing Step Functions backend finds them.
- Event source mappings report their ``StartingPositionTimestamp`` (moto stores it but leaves it out).
- Kinesis resharding keeps AWS's semantics: a split or merged parent is closed and keeps its records, its
  children start empty, and new records go only to open shards (moto moves records and keeps writing
  into closed parents).
- The API answers that moto gets wrong are corrected (``api_fidelity.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import urllib.request
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import EventSourceMapping, LambdaBackend, LambdaFunction, LayerVersion, lambda_backends
from moto.cloudformation.models import cloudformation_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.kinesis.models import Shard, Stream
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.stepfunctions import models as stepfunctions_models
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from werkzeug.serving import BaseWSGIServer, make_server

from local_runtime.emulator.api_fidelity import Utf8RequestHandler, aws_semantics
from local_runtime.emulator.wsgi import WsgiApp
from local_runtime.functions.lambda_runtime import FunctionSpec, Invocation, Package
from local_runtime.stopping import join_within
from local_runtime.streams.kinesis_destination import StreamingDestination

log = logging.getLogger(__name__)

RunFunction = Callable[[FunctionSpec, Package, bytes], Invocation]  # function, its code and layers, the event


class Emulator:
    """A moto server on ``host:port`` with our patches applied while it runs."""

    def __init__(self, host: str, port: int, run_function: RunFunction, front: Callable[[WsgiApp], WsgiApp]) -> None:
        self._host = host
        self._run_function = run_function
        self._front = front
        self._patches = ExitStack()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._requested_port = port
        self._kinesis_destinations: list[StreamingDestination] = []

    @property
    def port(self) -> int:
        assert self._server is not None, "the emulator is not started"
        return self._server.server_port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> None:
        _silence_emulator_logs()
        self._patches.enter_context(_moto_patches(self._run_function))
        app = self._front(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._host, self._requested_port, app, threaded=True, request_handler=Utf8RequestHandler
        )
        # After binding: queue URLs name the port the server got.
        self._patches.enter_context(aws_semantics(self.endpoint_url, self._kinesis_destinations))
        # moto's Step Functions interpreter calls Lambda on http://localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()
        self._post_moto_config({"stepfunctions": {"execute_state_machine": True}})
        log.info("emulator listening on %s", self.endpoint_url)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            join_within(self._thread)
        self._patches.close()

    def add_kinesis_streaming_destination(self, destination: StreamingDestination) -> None:
        """Describe a destination the runtime runs as DynamoDB would (moto knows none)."""
        self._kinesis_destinations.append(destination)

    def override_stack_output(self, region: str, stack_name: str, key: str, value: str) -> None:
        """Change what DescribeStacks reports for one output (for values that only make sense on AWS)."""
        backend = cloudformation_backends[DEFAULT_ACCOUNT_ID][region]
        for stack in backend.stacks.values():
            output = stack.output_map.get(key) if stack.name == stack_name else None
            if output is not None:
                output.value = value

    def _post_moto_config(self, config: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/config",
            data=json.dumps(config).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass


def _silence_emulator_logs() -> None:
    # One line per HTTP request (werkzeug); moto's notes on template resources it skips (the deployer reports
    # them once, in plain words) and its ERROR line for every Fail state a state machine reaches (a saga
    # that compensates is not an emulator error).
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto", category=UserWarning)


@contextmanager
def _moto_patches(run_function: RunFunction) -> Iterator[None]:
    def invoke(fn: LambdaFunction, body: Any, request_headers: Any, response_headers: dict[str, Any]) -> bytes:
        event = body.encode() if isinstance(body, str) else (body or b"{}")
        _require_json_payload(event)
        layers = _layer_versions(fn)
        spec = FunctionSpec(
            name=fn.function_name,
            arn=fn.function_arn,
            handler=str(fn.handler),
            timeout_s=float(fn.timeout),
            memory_mb=int(fn.memory_size),
            environment=tuple(sorted((fn.environment_vars or {}).items())),
            code_sha256=fn.code_sha_256,
            runtime=str(fn.run_time),
            layer_sha256s=tuple(layer.code_sha_256 for layer in layers),
        )
        package = Package(fn.code_bytes, tuple(layer.code_bytes for layer in layers))
        invocation_type = (request_headers or {}).get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            threading.Thread(target=run_function, args=(spec, package, event), daemon=True).start()
            return b""
        invocation = run_function(spec, package, event)
        response_headers["x-amz-executed-version"] = str(fn.version)  # "$LATEST" unless a version was invoked
        if invocation.function_error:
            response_headers["x-amz-function-error"] = invocation.function_error
        return invocation.payload

    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(LambdaFunction, "invoke", invoke))
        stack.enter_context(mock.patch.object(LambdaBackend, "send_dynamodb_items", _not_delivered_inline))
        stack.enter_context(mock.patch.object(LambdaBackend, "send_kinesis_message", _not_delivered_inline))
        # With execution on, the Step Functions API answers from the interpreting backend; CloudFormation
        # must create state machines there too, or the API would not list them.
        stack.enter_context(
            mock.patch.object(stepfunctions_models, "stepfunctions_backends", stepfunctions_parser_backends)
        )
        stack.enter_context(mock.patch.object(Stream, "split_shard", _keeping_parent_records(Stream.split_shard)))
        stack.enter_context(mock.patch.object(Stream, "merge_shards", _keeping_parent_records(Stream.merge_shards)))
        stack.enter_context(
            mock.patch.object(Stream, "get_shard_for_key", _open_shard_for_key(Stream.get_shard_for_key))
        )
        stack.enter_context(
            mock.patch.object(
                EventSourceMapping, "get_configuration", _with_starting_timestamp(EventSourceMapping.get_configuration)
            )
        )
        yield


def _layer_versions(fn: LambdaFunction) -> list[LayerVersion]:
    """The function's layers (moto checked each when it was set, as Lambda does)."""
    backend = lambda_backends[fn.account_id][fn.region]
    versions = [backend.layers_versions_by_arn(layer["Arn"]) for layer in fn.layers]
    return [version for version in versions if version is not None]


def _require_json_payload(event: bytes) -> None:
    """Lambda refuses a payload that is not JSON before running anything (API reference, Invoke)."""
    try:
        json.loads(event)
    except ValueError as error:
        message = f"Could not parse request body into json: {error}"
        raise LambdaClientError("InvalidRequestContentException", message) from None


def _with_starting_timestamp(get_configuration: Callable[[EventSourceMapping], dict[str, Any]]) -> Any:
    def configuration(mapping: EventSourceMapping) -> dict[str, Any]:
        result = get_configuration(mapping)
        if mapping.starting_position_timestamp is not None:  # moto stores it but does not return it
            result["StartingPositionTimestamp"] = mapping.starting_position_timestamp
        return result

    return configuration


def _not_delivered_inline(*_args: Any, **_kwargs: Any) -> None:
    """Returning None also keeps moto from clearing the DynamoDB stream after delivery."""
    return None


def _keeping_parent_records(reshard: Callable[..., None]) -> Callable[..., None]:
    def reshard_like_aws(stream: Stream, *shard_args: Any) -> None:
        parents = [stream.shards[arg] for arg in shard_args if arg in stream.shards]
        kept = {shard.shard_id: shard.records for shard in parents}
        for shard in parents:
            shard.records = OrderedDict()
        try:
            reshard(stream, *shard_args)
        finally:
            for shard in parents:
                shard.records = kept[shard.shard_id]

    return reshard_like_aws


def _open_shard_for_key(shard_for_key: Callable[..., Shard | None]) -> Callable[..., Shard | None]:
    def open_shard_for_key(stream: Stream, partition_key: str, explicit_hash_key: str) -> Shard | None:
        # moto's lookup validates the key as AWS does, but may pick a closed shard (or none for the top key).
        shard_for_key(stream, partition_key, explicit_hash_key)
        if explicit_hash_key:
            hash_key = int(explicit_hash_key)
        else:
            hash_key = int(hashlib.md5(partition_key.encode()).hexdigest(), 16)
        return next(
            (s for s in stream.shards.values() if s.is_open and s.starting_hash <= hash_key <= s.ending_hash),
            None,
        )

    return open_shard_for_key
