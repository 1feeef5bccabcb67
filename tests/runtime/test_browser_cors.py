"""A browser page of another origin reads a search result (CORS), on a runtime deployed with that origin allowed.

Headless Chromium (Debian's `chromium`, `make browser`) loads a page served from one local origin; its `fetch` calls
the search API on the local runtime's port, another origin. The stack is deployed with context apiAllowedOrigins
naming the page's origin: the answer carries Access-Control-Allow-Origin and the page shows the trips; a page of an
origin the context does not name cannot read the answer (the browser refuses it). Without Chromium the tests are
skipped with one line, unless REQUIRE_CHROMIUM is set (`.ci/run` sets it): then they fail.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from local_runtime.scenarios import trip_input
from tests.local_runtime_session import RunningRuntime, eventually, running_runtime

pytestmark = [pytest.mark.runtime, pytest.mark.xdist_group("browser")]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The flags this machine's Chromium runs headless with (its closed network refuses background connections)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGE = """<!doctype html>
<html><body><pre id="out">waiting</pre>
<script>
fetch({url!r}).then(r => r.json()).then(
  answer => {{ document.getElementById("out").textContent = "trips " + answer.trips.map(t => t.trip_id).join(","); }},
  error => {{ document.getElementById("out").textContent = "failed " + error.name; }}
);
</script></body></html>
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("REQUIRE_CHROMIUM"):
            pytest.fail("REQUIRE_CHROMIUM is set and there is no chromium: `make browser` installs Debian's")
        pytest.skip("no chromium on this machine: `make browser` installs Debian's (the CORS browser test)")
    return CHROMIUM


class Pages:
    """Serves `page.html` from a folder on its own port: an origin of its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None  # type: ignore[method-assign]
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def allowed_and_other(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pages, Pages]]:
    allowed, other = Pages(tmp_path_factory.mktemp("allowed")), Pages(tmp_path_factory.mktemp("other"))
    yield allowed, other
    for pages in (allowed, other):
        pages.server.shutdown()


@pytest.fixture(scope="module")
def runtime(
    allowed_and_other: tuple[Pages, Pages], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRuntime]:
    allowed, _ = allowed_and_other
    state = tmp_path_factory.mktemp("cors-runtime")
    with running_runtime(state, "--context", f"apiAllowedOrigins={allowed.origin}") as running:
        yield running


@pytest.fixture(scope="module")
def search_url(runtime: RunningRuntime) -> str:
    """A search that finds the one trip booked on this runtime."""
    stepfunctions = runtime.client("stepfunctions")
    stepfunctions.start_execution(
        stateMachineArn=runtime.outputs["StateMachineArn"],
        name="trip-cors-001",
        input=json.dumps(trip_input("trip-cors-001", day="2026-04-20")),
    )
    url = f"{runtime.outputs['ApiUrl']}/trips/search?status=CONFIRMED&from=2026-04-20T00:00:00&to=2026-04-20T23:59:59"

    def found() -> bool:
        with urllib_open(url) as answer:
            return [trip["trip_id"] for trip in json.load(answer)["trips"]] == ["trip-cors-001"]

    eventually(found, timeout=180, interval=0.5)
    return url


def urllib_open(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    response: http.client.HTTPResponse = urllib.request.urlopen(
        urllib.request.Request(url, method=method, headers=headers or {}), timeout=60
    )
    return response


def rendered(chromium: str, pages: Pages, search_url: str) -> str:
    """What the page of `pages`' origin shows once its fetch of `search_url` settled."""
    folder = pages.folder
    (folder / "page.html").write_text(PAGE.format(url=search_url))
    profile = folder / "profile"
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=30000"]
    command += ["--dump-dom", f"{pages.origin}/page.html"]
    dumped = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    start = dumped.stdout.index('<pre id="out">') + len('<pre id="out">')
    return dumped.stdout[start : dumped.stdout.index("</pre>", start)]


def test_a_page_of_an_allowed_origin_reads_the_search_result(
    chromium: str, allowed_and_other: tuple[Pages, Pages], search_url: str
) -> None:
    allowed, _ = allowed_and_other

    assert rendered(chromium, allowed, search_url) == "trips trip-cors-001"


def test_a_page_of_another_origin_cannot_read_it(
    chromium: str, allowed_and_other: tuple[Pages, Pages], search_url: str
) -> None:
    _, other = allowed_and_other

    assert rendered(chromium, other, search_url) == "failed TypeError"


def test_the_preflight_and_the_answer_name_only_the_allowed_origin(
    allowed_and_other: tuple[Pages, Pages], search_url: str
) -> None:
    allowed, other = allowed_and_other
    preflight = {"Origin": allowed.origin, "Access-Control-Request-Method": "GET"}

    with urllib_open(search_url, "OPTIONS", preflight) as answer:
        assert answer.status == 204
        assert answer.headers["Access-Control-Allow-Origin"] == allowed.origin
        assert "GET" in answer.headers["Access-Control-Allow-Methods"]
    with urllib_open(search_url, headers={"Origin": allowed.origin}) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] == allowed.origin
    with urllib_open(search_url, headers={"Origin": other.origin}) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] is None
