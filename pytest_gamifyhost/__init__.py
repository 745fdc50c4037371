"""pytest plugin of gamifyhost-mock: the mock as fixtures for a partner's own test suite.

Installing the package registers it (entry point `gamifyhost_mock` in the pytest11 group;
`-p no:gamifyhost_mock` turns it off). It adds:

- gamifyhost_mock (session): a real mock on a free port, a mock_server.testing.LiveMock;
- gamifyhost_client (per test): a fresh mock app in-process, a mock_server.testing.InProcessMock;
- gamifyhost_settings (session): what both are set up with, from the ini options; override it to
  compute them;
- the marker gamifyhost_reset: the session mock goes back to its starting state before the test.

It loads in every pytest run of every project the package is installed in, so it imports only
pytest and the standard library here; the mock (Flask and the rest) is imported when a fixture
is first used. It lives outside mock_server for that reason: importing any module of
mock_server imports Flask first (a quarter of a second).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mock_server.testing import InProcessMock, LiveMock, MockSettings

MARKER = "gamifyhost_reset"
_LOG_START = pytest.StashKey[tuple["LiveMock", int]]()
_INI = {
    "gamifyhost_keys": ("string", "gamifyhost-mock keys file for the fixtures' mock (path from the ini file's "
                                  "folder, or 'demo'); default: none, any well-formed key works"),
    "gamifyhost_fixtures": ("linelist", "gamifyhost-mock fixture files or folders the fixtures' mock starts with "
                                        "(paths from the ini file's folder, or 'demo'), one a line"),
    "gamifyhost_test_key": ("string", "pk_test_ key the gamifyhost fixtures hand out (default: "
                                      "pk_test_gamifyhost_pytest, or the keys file's first usable one)"),
    "gamifyhost_live_key": ("string", "pk_live_ key the gamifyhost fixtures hand out (default: "
                                      "pk_live_gamifyhost_pytest, or the keys file's first usable one)"),
    "gamifyhost_serve_args": ("args", "more `gamifyhost-mock serve` options for gamifyhost_mock, e.g. --threads 4"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (kind, help_text) in _INI.items():
        parser.addini(name, help_text, type=kind)  # type: ignore[arg-type]  # each kind is one pytest takes


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: put the session's gamifyhost_mock back as it started (reset, its fixtures "
                   "loaded again) before the test; tests that do not use gamifyhost_mock are left alone")


def _ini_path(config: pytest.Config, value: str) -> str | Path:
    """'demo' as it is, any other path from the ini file's folder (the root folder without one)."""
    if value == "demo":
        return value
    base = config.inipath.parent if config.inipath else config.rootpath
    return base / value


@pytest.fixture(scope="session")
def gamifyhost_settings(pytestconfig: pytest.Config) -> MockSettings:
    """How gamifyhost_mock and gamifyhost_client are set up, from the gamifyhost_* ini options.

    Override it (session scope) to compute them, e.g. from the settings the ini gives:
    `return dataclasses.replace(gamifyhost_settings, fixtures=(Path(__file__).parent / "data",))`.
    """
    from mock_server.testing import MockSettings

    keys = pytestconfig.getini("gamifyhost_keys")
    fixtures = pytestconfig.getini("gamifyhost_fixtures")
    return MockSettings(keys=_ini_path(pytestconfig, keys) if keys else None,
                        fixtures=tuple(_ini_path(pytestconfig, line) for line in fixtures),
                        test_key=pytestconfig.getini("gamifyhost_test_key") or None,
                        live_key=pytestconfig.getini("gamifyhost_live_key") or None,
                        serve_args=tuple(pytestconfig.getini("gamifyhost_serve_args")))


@pytest.fixture(scope="session")
def gamifyhost_mock(gamifyhost_settings: MockSettings) -> Iterator[LiveMock]:
    """A real gamifyhost-mock on a free port of 127.0.0.1 for the whole session: its base_url, test_key,
    live_key and partner_id, and its control API (reset, load_fixtures, clock, faults, requests, ...).
    State carries over from test to test unless a test is marked gamifyhost_reset."""
    from mock_server.testing import MockServerError, start_mock

    # pytest.fail outside the except: pytest re-raises a session fixture's failure for every later
    # test, and raised inside it, each report also showed the first error "during handling" of it.
    failure = None
    try:
        mock = start_mock(gamifyhost_settings)
    except MockServerError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(f"gamifyhost_mock: {failure}", pytrace=False)
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def gamifyhost_client(gamifyhost_settings: MockSettings) -> InProcessMock:
    """A fresh mock app in this process for one test, no server: the same control methods as
    gamifyhost_mock, its Flask app (.app) and test clients carrying a key (.api())."""
    from mock_server.testing import MockServerError, in_process_mock

    failure = None
    try:
        return in_process_mock(gamifyhost_settings)
    except MockServerError as exc:
        failure = str(exc)
    pytest.fail(f"gamifyhost_client: {failure}", pytrace=False)


@pytest.fixture(autouse=True)
def _gamifyhost_per_test(request: pytest.FixtureRequest) -> None:
    """For tests that use gamifyhost_mock: the reset their marker asks for, and where the mock's log
    of the test starts (shown when it fails)."""
    if "gamifyhost_mock" not in request.fixturenames:
        return
    mock: LiveMock = request.getfixturevalue("gamifyhost_mock")
    if request.node.get_closest_marker(MARKER) is not None:
        mock.restore()
    request.node.stash[_LOG_START] = (mock, mock.output_lines())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """A failed test that used gamifyhost_mock gets the mock's log of its requests as a report section."""
    started = item.stash.get(_LOG_START, None)
    if started is not None and call.when == "call" and call.excinfo is not None:
        mock, start = started
        mock.settle_output()
        item.add_report_section("call", "gamifyhost-mock log", mock.output(start) or "(no requests)\n")
    yield
