"""docs/openapi.json: the search API's OpenAPI 3.1 document, generated from SearchTrips' Powertools resolver.

`make openapi` (`PYTHONPATH=src python -m infra.openapi`) writes it; tests/handlers/test_openapi.py fails when the
file differs from what the resolver generates now. The routes, parameters, answers and examples are declared on the
routes themselves (services.trip.handlers.search_trips); this module adds the document's title and description.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import Server

from services.trip.handlers import search_trips

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
TITLE = "TripSaga search API"
# The API's own version: raise it when a route, parameter or answer changes.
VERSION = "1.0.0"
DESCRIPTION = (
    "Searches TripSearchTable, the projection of TripTable that the TripSaga booking saga writes: trips by flight "
    "status and departure range or by hotel-name prefix, a page at a time, and one trip by its id. Read-only, "
    "public, no credentials. Every rejected parameter is a 400 whose body names it. Served by API Gateway REST "
    "(stage `prod`) in front of the SearchTrips Lambda function; docs/API.md explains it with examples."
)
SERVER = Server(
    url="/",
    description="The stack's `ApiUrl` output: `https://<api-id>.execute-api.<region>.amazonaws.com/prod` on AWS, "
    "the `ApiUrl` that `make up` prints on the local runtime",
)
# Powertools lists a 422 for its request validation on every route, even when an exception handler answers
# validation errors otherwise (aws-powertools/powertools-lambda-python issue #4928): SearchTrips answers them 400.
# It also adds the body of a failed response validation, which no route can give (each returns a Response).
UNANSWERED_STATUS = "422"
UNANSWERED_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def document() -> dict[str, Any]:
    """The OpenAPI document as JSON values, in Powertools' order: only the answers SearchTrips gives."""
    described: dict[str, Any] = json.loads(
        search_trips.app.get_openapi_json_schema(
            title=TITLE, version=VERSION, description=DESCRIPTION, servers=[SERVER]
        )
    )
    for path_item in described["paths"].values():
        for operation in path_item.values():
            del operation["responses"][UNANSWERED_STATUS]
    schemas = described["components"]["schemas"]
    for name in UNANSWERED_SCHEMAS:
        del schemas[name]
    return described


def render() -> str:
    """The text of docs/openapi.json: indent 2, non-ASCII characters as they are, a final newline."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    DOCUMENT_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {DOCUMENT_PATH}")


if __name__ == "__main__":
    main()
