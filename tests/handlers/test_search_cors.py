"""SearchTrips answers CORS for the origins API_ALLOWED_ORIGINS names (context apiAllowedOrigins), and no other.

The handler's resolver is built when the module is imported (a cold start): each test imports it afresh with the
environment it names, and the module is imported back as the other tests know it afterwards.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from services.trip import config
from services.trip.handlers import search_trips
from tests.handlers.test_search_trips import CONTEXT, api_event

ALLOWED = "https://app.example.com"


@pytest.fixture
def cold_started(monkeypatch: pytest.MonkeyPatch, search_table: Any) -> Iterator[ModuleType]:
    monkeypatch.setenv(config.ALLOWED_ORIGINS_VARIABLE, f"{ALLOWED},http://127.0.0.1:8000")
    yield importlib.reload(search_trips)
    monkeypatch.delenv(config.ALLOWED_ORIGINS_VARIABLE)
    importlib.reload(search_trips)


def request(module: ModuleType, method: str, origin: str, **headers: str) -> dict[str, Any]:
    """A search as a browser page of `origin` sends it: the GET, or its preflight (OPTIONS)."""
    event = api_event("/trips/search", "/trips/search", {"status": "CONFIRMED"})
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["headers"] = {**event["headers"], "Origin": origin, **headers}
    event["multiValueHeaders"] = {key: [value] for key, value in event["headers"].items()}
    answer: dict[str, Any] = module.lambda_handler(event, CONTEXT)
    return answer


def test_a_get_from_an_allowed_origin_carries_it_back(cold_started: ModuleType) -> None:
    answer = request(cold_started, "GET", ALLOWED)

    assert answer["statusCode"] == 200
    assert answer["multiValueHeaders"]["Access-Control-Allow-Origin"] == [ALLOWED]
    assert answer["multiValueHeaders"]["Vary"] == ["Origin"]  # a shared cache keeps each origin's answer apart


def test_a_get_from_another_origin_carries_no_cors_header(cold_started: ModuleType) -> None:
    answer = request(cold_started, "GET", "https://elsewhere.example")

    assert answer["statusCode"] == 200
    assert "Access-Control-Allow-Origin" not in answer["multiValueHeaders"]
    assert answer["multiValueHeaders"]["Vary"] == ["Origin"]


def test_a_preflight_is_a_204_naming_the_methods_and_how_long_to_keep_it(cold_started: ModuleType) -> None:
    answer = request(cold_started, "OPTIONS", ALLOWED, **{"Access-Control-Request-Method": "GET"})

    assert answer["statusCode"] == 204
    headers = {key: values[0] for key, values in answer["multiValueHeaders"].items()}
    assert headers["Access-Control-Allow-Origin"] == ALLOWED
    assert headers["Access-Control-Max-Age"] == "600"
    assert set(headers["Access-Control-Allow-Methods"].split(",")) == {"GET", "OPTIONS"}


def test_without_allowed_origins_no_answer_carries_cors(search_table: Any) -> None:
    answer = request(search_trips, "GET", ALLOWED)

    assert answer["statusCode"] == 200
    assert not {"Access-Control-Allow-Origin", "Vary"} & set(answer["multiValueHeaders"])


def test_a_malformed_list_fails_the_cold_start_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.ALLOWED_ORIGINS_VARIABLE, "app.example.com")

    with pytest.raises(config.ConfigurationError) as raised:
        config.allowed_origins()

    assert str(raised.value) == (
        "environment variable API_ALLOWED_ORIGINS: 'app.example.com' is not an origin: scheme://host[:port] (http or "
        "https, no path), or * alone for any"
    )
