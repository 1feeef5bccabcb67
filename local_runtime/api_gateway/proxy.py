"""The stack's REST APIs served on the emulator's port, through their Lambda proxy integrations.

moto keeps the API's resources, methods and integrations but serves no requests. An API is invoked at
``<endpoint>/restapis/<api id>/<stage>/_user_request_/<path>``: the route is matched against the API's resources,
and a Lambda proxy integration gets a REST (v1) proxy event.

As on AWS (live captures of REST proxy events), ``path`` and ``pathParameters`` keep the client's
percent-encoding while query string parameters arrive decoded, as UTF-8; raw non-ASCII bytes in the URL
count as their percent-encoded form. Every answer carries ``x-amzn-RequestId`` (the event's ``requestId``),
gateway errors AWS's ``x-amzn-ErrorType``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from local_runtime.emulator.aws_clients import Endpoint
from local_runtime.emulator.deployer import ACCOUNT_ID

log = logging.getLogger(__name__)

# "Length, in characters, of the URL for a regional API: 10240", not adjustable (API Gateway developer guide,
# "Quotas for configuring and running a REST API in API Gateway"); counted here over the request target as sent.
MAX_URL_CHARACTERS = 10_240
USER_REQUEST_ROUTE = r"/restapis/(?P<api_id>[^/]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?"
_LAMBDA_INTEGRATION = re.compile(r"arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<function>.+)/invocations")


def path_pattern(resource_path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(resource_path))
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern))


class RestApiServer:
    def __init__(self, endpoint: Endpoint) -> None:
        self._apigateway = endpoint.client("apigateway")
        self._lambda = endpoint.lambda_client()

    def __call__(self, request: Request, route: re.Match[str]) -> Response:
        request_id = str(uuid.uuid4())
        response = self._answer(request, route, request_id)
        response.headers["x-amzn-RequestId"] = request_id
        return response

    def _answer(self, request: Request, route: re.Match[str], request_id: str) -> Response:
        if len(request.environ.get("RAW_URI") or request.full_path) > MAX_URL_CHARACTERS:
            return gateway_error(414, "Request-URI Too Long", "RequestURITooLong")
        api_id, stage = route["api_id"], route["stage"]
        path = re.sub("/+", "/", route["path"] or "/")
        if stage not in {s["stageName"] for s in self._apigateway.get_stages(restApiId=api_id)["item"]}:
            return gateway_error(403, "Forbidden", "ForbiddenException")
        # A trailing slash selects the same resource; the event's path keeps it.
        found = self._find_method(api_id, path.rstrip("/") or "/", request.method)
        if found is None:  # what API Gateway answers for unknown routes
            return gateway_error(403, "Missing Authentication Token", "MissingAuthenticationTokenException")
        resource, method, path_parameters = found
        integration = method.get("methodIntegration") or {}
        target = _LAMBDA_INTEGRATION.fullmatch(integration.get("uri", ""))
        if integration.get("type") != "AWS_PROXY" or target is None:
            unsupported = f"only Lambda proxy integrations are served locally, not {integration.get('type')}"
            return gateway_error(500, unsupported, "InternalServerErrorException")
        event = proxy_event(request, request_id, api_id, stage, path, resource, path_parameters)
        log.info("%s %s -> %s", request.method, path, target["function"].split(":")[6])
        response = self._lambda.invoke(FunctionName=target["function"], Payload=json.dumps(event).encode())
        return http_response(response.get("FunctionError"), response["Payload"].read())

    def _find_method(
        self, api_id: str, path: str, http_method: str
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]] | None:
        resources = self._apigateway.get_resources(restApiId=api_id, limit=500, embed=["methods"])["items"]
        # Literal segments win over path parameters, as in API Gateway's route selection.
        for resource in sorted(resources, key=lambda r: r["path"].count("{")):
            match = path_pattern(resource["path"]).fullmatch(path)
            methods = resource.get("resourceMethods") or {}
            method = methods.get(http_method) or methods.get("ANY")
            if match and method is not None:
                if "methodIntegration" not in method:
                    method = self._apigateway.get_method(
                        restApiId=api_id, resourceId=resource["id"], httpMethod=http_method
                    )
                return resource, method, match.groupdict()
        return None


def proxy_event(
    request: Request,
    request_id: str,
    api_id: str,
    stage: str,
    path: str,
    resource: dict[str, Any],
    path_parameters: dict[str, str],
) -> dict[str, Any]:
    """The REST (v1) Lambda proxy event of `request` on `resource` (its `id` and `path`); also the search API's fuzz
    test serves requests with it."""
    now = time.time()
    body = request.get_data()
    text_body = body.decode("utf-8", errors="strict") if body and _is_text(body) else None
    return {
        "resource": resource["path"],
        "path": path,
        "httpMethod": request.method,
        "headers": dict(request.headers) or None,
        "multiValueHeaders": {key: request.headers.getlist(key) for key, _ in request.headers} or None,
        # A repeated parameter's single value is its last one, as in API Gateway's documented example event.
        "queryStringParameters": {key: values[-1] for key, values in request.args.lists()} or None,
        "multiValueQueryStringParameters": request.args.to_dict(flat=False) or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "resourceId": resource["id"],
            "resourcePath": resource["path"],
            "httpMethod": request.method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "requestId": request_id,
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now * 1000),
            "domainName": request.host,
            "identity": {"sourceIp": request.remote_addr, "userAgent": request.user_agent.string},
        },
        "body": text_body if text_body is not None else (base64.b64encode(body).decode() if body else None),
        "isBase64Encoded": bool(body) and text_body is None,
    }


def _is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def http_response(function_error: str | None, payload: bytes) -> Response:
    internal_error = gateway_error(502, "Internal server error", "InternalServerErrorException")
    if function_error:
        return internal_error
    try:
        result = json.loads(payload)
        status = int(result["statusCode"])
    except (ValueError, KeyError, TypeError):
        return internal_error  # API Gateway: a malformed Lambda proxy response
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(content, status=status, mimetype="application/json")  # API Gateway's default type
    for key, values in _merged_headers(result.get("headers") or {}, result.get("multiValueHeaders") or {}):
        response.headers.setlist(key, values)
    return response


def _merged_headers(headers: dict[str, Any], multi_value_headers: dict[str, list[Any]]) -> list[tuple[str, list[str]]]:
    """API Gateway merges both into one list per header; a header in both takes multiValueHeaders' values.

    (Developer Guide, "Support for multi-value headers and query string parameters".)
    """
    multi = {key.lower(): (key, [str(value) for value in values]) for key, values in multi_value_headers.items()}
    single = [(key, [str(value)]) for key, value in headers.items() if key.lower() not in multi]
    return single + list(multi.values())


def gateway_error(status: int, message: str, error_type: str) -> Response:
    """An answer of API Gateway itself, in its shape (compact JSON body, ``x-amzn-ErrorType``)."""
    body = json.dumps({"message": message}, separators=(",", ":"))
    return Response(body, status=status, mimetype="application/json", headers={"x-amzn-ErrorType": error_type})
