"""A web app on another origin calls the mock from headless Chromium; CORS must let it (or not).

The test installs Debian's chromium when it is missing and it can (root with apt-get), and
drives it with Playwright (no browser download). It skips, saying why, only where Chromium
cannot be installed.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from live_server import free_port, http, start_server

PAGE_DIR = Path(__file__).with_name("browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Chromium is not installed and cannot be installed here (needs root and apt-get): "
                    "install Debian's chromium package to run the browser test")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, capture_output=True,
                   timeout=900)
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


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


def run_page(browser, app_origin: str, mock_url: str, key: str | None) -> str:
    page = browser.new_page()
    try:
        query = f"mock={mock_url}" + (f"&key={key}" if key else "")
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
