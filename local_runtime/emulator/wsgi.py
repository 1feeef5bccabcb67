"""Routes of our own in front of the emulator, on the same port: everything else goes to moto."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from local_runtime.emulator.api_fidelity import not_emulated, raw_path

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
RouteHandler = Callable[[Request, re.Match[str]], Response]

STATUS_PATH = "/_local_runtime/status"


class FrontRoutes:
    """A WSGI middleware: the first route whose pattern matches the path answers; moto answers the rest.

    Patterns match the path as the client sent it (percent-encoding kept), so a route sees what it would
    see on AWS.
    """

    def __init__(self, routes: list[tuple[str, RouteHandler]]) -> None:
        self._routes = [(re.compile(pattern), handler) for pattern, handler in routes]

    def wrap(self, emulator_app: WsgiApp) -> WsgiApp:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = raw_path(environ)
            for pattern, handler in self._routes:
                match = pattern.fullmatch(path)
                if match:
                    return handler(Request(environ), match)(environ, start_response)
            try:
                return emulator_app(environ, start_response)
            except NotImplementedError as error:  # moto raises it for actions it lacks
                return not_emulated(error, environ)(environ, start_response)

        return app


def json_response(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document, indent=2, default=str), status=status, mimetype="application/json")
