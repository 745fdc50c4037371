"""A web app on another origin calls the mock from headless Chromium; CORS must let it (or not).

Chromium is the `browser` fixture of tests/conftest.py (Debian's package, driven by Playwright).
"""
from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest

from live_server import free_port, http, start_server

PAGE_DIR = Path(__file__).with_name("browser")


class QuietPages(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def app_origin():
    """The web app's own origin: a static server on another port than any mock."""
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(QuietPages, directory=str(PAGE_DIR)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def run_page(browser, app_origin: str, mock_url: str, key: str | None, prefer: str | None = None) -> str:
    page = browser.new_page()
    try:
        query = urlencode({"mock": mock_url, **({"key": key} if key else {}), **({"prefer": prefer} if prefer else {})})
        page.goto(f"{app_origin}/page.html?{query}")
        page.wait_for_function("document.getElementById('result').textContent !== 'pending'", timeout=15_000)
        return page.text_content("#result")
    finally:
        page.close()


def localhost(url: str) -> str:
    """The same server under another host name, so the page's origin differs from the mock's."""
    return url.replace("127.0.0.1", "localhost")


def test_a_page_on_another_origin_tracks_a_user(browser, app_origin):
    server = start_server("--quiet")
    try:
        result = json.loads(run_page(browser, app_origin, localhost(server.url), "pk_test_browser"))
        assert result["status"] == 200
        assert result["payload"]["data"]["externalId"] == "browser-user"
        assert result["payload"]["data"]["displayName"] == "Tracked from a browser"
        journal = http("GET", server.url + "/__mock/requests")[2]["data"]
        preflight, post = journal[1], journal[0]
        assert (preflight["method"], post["method"]) == ("OPTIONS", "POST")
        assert post["headers"]["Origin"] == app_origin
    finally:
        server.stop()


def test_the_page_can_read_error_envelopes(browser, app_origin):
    server = start_server("--quiet")
    try:
        result = json.loads(run_page(browser, app_origin, localhost(server.url), None))
        assert result == {"status": 401, "payload": {"status": "error", "code": 401,
                                                     "message": "Missing X-API-Key header"}}
    finally:
        server.stop()


def test_an_origin_that_is_not_allowed_is_blocked_by_the_browser(browser, app_origin):
    server = start_server("--quiet", "--cors-origin", "http://app.example.com")
    try:
        result = run_page(browser, app_origin, localhost(server.url), "pk_test_browser")
        assert result.startswith("blocked: TypeError")
        # The mock was reached: the browser asked (preflight), was not allowed, and never posted.
        journal = http("GET", server.url + "/__mock/requests")[2]["data"]
        assert [(e["method"], e["headers"].get("Origin")) for e in journal] == [("OPTIONS", app_origin)]
        assert http("GET", server.url + "/__mock/profiles")[2]["meta"]["total"] == 0
    finally:
        server.stop()


def test_a_page_on_another_origin_forces_an_answer_with_prefer(browser, app_origin):
    """Prefer is not a header a page may send cross-origin unasked: the preflight must allow it, and
    Preference-Applied must be exposed for the page to read it. The forced answer stores nothing."""
    server = start_server("--quiet")
    try:
        result = json.loads(run_page(browser, app_origin, localhost(server.url), "pk_test_browser",
                                     "code=403, example=partnerNotFound"))
        assert result == {"status": 403, "applied": "code=403, example=partnerNotFound",
                          "payload": {"status": "error", "code": 403, "message": "Partner account not found"}}
        journal = http("GET", server.url + "/__mock/requests")[2]["data"]
        assert [(e["method"], e["status"]) for e in journal] == [("POST", 403), ("OPTIONS", 200)]
        assert http("GET", server.url + "/__mock/profiles")[2]["meta"]["total"] == 0
    finally:
        server.stop()


def test_a_page_on_another_site_cannot_reset_the_mock(browser, app_origin):
    """A POST with no body needs no preflight, so the browser sends it; the mock must refuse it."""
    server = start_server("--quiet", "--fixtures", "demo", "--keys", "demo")
    page = browser.new_page()
    try:
        page.goto(f"{app_origin}/page.html")
        page.evaluate("url => fetch(url, {method: 'POST', mode: 'no-cors'}).then(() => null, String)",
                      localhost(server.url) + "/__mock/reset")
        assert http("GET", server.url + "/__mock/profiles")[2]["meta"]["total"] == 66
    finally:
        page.close()
        server.stop()
