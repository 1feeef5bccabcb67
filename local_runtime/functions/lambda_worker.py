"""One Lambda sandbox: a process that imports a function's handler once and runs invocations one at a time.

Started by ``lambda_runtime.Sandbox`` as ``python3.13 -I -S lambda_worker.py REQUEST_FD RESPONSE_FD`` with the
function's environment only, so it imports nothing but the standard library, the function's own code
(``LAMBDA_TASK_ROOT``), its layers' ``python/`` folders and the runtime's own SDK (``LOCAL_RUNTIME_PATH``), in
Lambda's order: code, layers, runtime. Requests and responses are JSON lines on two pipes; stdout and stderr are
the function's log.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], Any]
INITIALIZED = "initialized\n"  # the sandbox's first line: the handler is imported (or its import failed)
PATH_VARIABLE = "LOCAL_RUNTIME_PATH"  # the layers' python/ folders, then the runtime's SDK, os.pathsep between them


class LambdaContext:
    """The attributes and method of the context object the Python runtime passes to a handler."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = os.environ["LOCAL_RUNTIME_FUNCTION_ARN"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request_id
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_document(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        # The frames of the function's code, not of this runtime, as Lambda's Python runtime reports them.
        "stackTrace": traceback.format_list(
            [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__]
        ),
    }


def load_handler(spec: str) -> Handler:
    module_name, _, attribute = spec.rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise _InitError(
                f"Unable to import module '{module_name}': {error}", "Runtime.ImportModuleError"
            ) from error
        raise
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise _InitError(f"Handler '{attribute}' missing on module '{module_name}'", "Runtime.HandlerNotFound")
    return handler


class _InitError(Exception):
    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def json_number(value: object) -> int | float:
    # The Python runtime serializes Decimal (what boto3's DynamoDB resource returns) as a plain number.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def invoke(handler: Handler, request: dict[str, Any]) -> dict[str, Any]:
    request_id = request["request_id"]
    context = LambdaContext(request_id, request["deadline_ms"])
    started = time.monotonic()
    print(f"START RequestId: {request_id} Version: {context.function_version}", flush=True)
    try:
        result = handler(json.loads(request["payload"]), context)
        try:
            response: dict[str, Any] = {"payload": json.dumps(result, default=json_number)}
        except (TypeError, ValueError) as error:
            response = {"error": error_document(error, "Runtime.MarshalError")}
    except Exception as error:
        traceback.print_exc()
        response = {"error": {**error_document(error), "requestId": request_id}}
    elapsed_ms = (time.monotonic() - started) * 1000
    print(f"END RequestId: {request_id}", flush=True)
    print(f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms", flush=True)
    return response


def main() -> None:
    requests = os.fdopen(int(sys.argv[1]), "r", encoding="utf-8")
    responses = os.fdopen(int(sys.argv[2]), "w", encoding="utf-8")
    libraries = [path for path in os.environ.pop(PATH_VARIABLE, "").split(os.pathsep) if path]
    sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], *libraries]
    try:
        handler: Handler | None = load_handler(os.environ["_HANDLER"])
        init_error = None
    except _InitError as error:
        handler, init_error = None, error_document(error, error.error_type)
    except Exception as error:
        traceback.print_exc()
        handler, init_error = None, error_document(error)
    responses.write(INITIALIZED)  # the Init phase is over: the function's timeout starts with each invocation
    responses.flush()
    for line in requests:
        request = json.loads(line)
        # Lambda retries a failed init on the next invocation: answer with the error, then end the sandbox.
        response = invoke(handler, request) if handler is not None else {"error": init_error}
        responses.write(json.dumps(response) + "\n")
        responses.flush()
        if handler is None:
            return


if __name__ == "__main__":
    main()
