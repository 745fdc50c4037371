"""Driving the mock from a test suite: one client of the control API (/__mock/) over HTTP or in-process,
and a real mock started on a free port.

The pytest plugin (package pytest_gamifyhost) hands these out as the gamifyhost_mock and
gamifyhost_client fixtures; any other test runner can use them directly:

    mock = start_mock(MockSettings(fixtures=("demo",), keys="demo"))
    try:
        mock.clock.freeze("2026-03-01T12:00:00Z")
        ...  # point the code under test at mock.base_url, with mock.test_key
    finally:
        mock.stop()

Every method is one call (or, for paged lists, a few) of the control API, described by
control-openapi.yaml; a call it answers with an error raises ControlError.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import requests

from .bundled import DEMO, demo_fixtures, demo_keys
from .clock import parse_instant

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

__all__ = ["ApiSession", "ControlError", "GamifyHostMock", "InProcessMock", "LiveMock", "MockServerError",
           "MockSettings", "in_process_mock", "parse_duration", "start_mock"]

# Keys used when there is no keys file: any well-formed key is accepted then, and keys that share a
# token belong to one partner, so these are one partner's TEST and LIVE keys.
DEFAULT_TEST_KEY = "pk_test_gamifyhost_pytest"
DEFAULT_LIVE_KEY = "pk_live_gamifyhost_pytest"
IN_PROCESS_URL = "http://localhost"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
CONTROL_TIMEOUT = 60.0  # seconds a control call may take (a latency fault delays API calls, not these)
PAGE = 100  # the largest page the control API's lists give
# serve options the settings own, so that the client knows its URL and keys.
_OWNED_OPTIONS = {"--host": "the mock listens on 127.0.0.1", "--port": "the port is a free one, chosen at start",
                  "--keys": "use the keys setting (gamifyhost_keys)",
                  "--fixtures": "use the fixtures setting (gamifyhost_fixtures)",
                  "--no-control-api": "the fixtures drive the mock through its control API"}
_DURATION = re.compile(r"(?P<sign>-)?P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
                       r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
                       r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?", re.IGNORECASE)
_SHORT_DURATION = re.compile(r"(-)?(\d+(?:\.\d+)?)([smhdw])")
_SHORT_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# Run as `python -c BOOT PARENT_PID serve ...`: `python -m mock_server`, bound to the life of the process
# that started it (Linux): a test run killed outright (a CI timeout's kill -9) leaves no mock serving.
_BOOT = """\
import os, runpy, signal, sys
parent = int(sys.argv.pop(1))
if sys.platform == "linux":
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
if os.getppid() != parent:
    sys.exit("gamifyhost-mock: the test run that started it has ended")
runpy.run_module("mock_server", run_name="__main__", alter_sys=True)
"""


class ControlError(Exception):
    """The control API refused a call: its status, its answer, and a message saying both."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        message = body.get("message") if isinstance(body, dict) else None
        details = [e.get("message", e) for e in body.get("errors", [])] if isinstance(body, dict) else []
        text = f"{method} {path} answered {status}" + (f" {message}" if message else f": {str(body)[:500]}")
        super().__init__("\n  ".join([text, *map(str, details)]))


class MockServerError(RuntimeError):
    """The mock process did not start, or is no longer running; the message says why and what to change."""


class Transport(Protocol):
    """One request to the mock: (status, the answer's JSON or None)."""

    def __call__(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                 body: Any = None) -> tuple[int, Any]: ...


@dataclass(frozen=True)
class MockSettings:
    """How a mock is set up: what the command line's --keys and --fixtures would say, and the keys tests use.

    `keys` and each of `fixtures` are a path or "demo" (the data set the package ships). Without
    test_key/live_key: with no keys file, DEFAULT_TEST_KEY and DEFAULT_LIVE_KEY (one partner); with
    one, the first usable pk_test_ and pk_live_ key it lists. `serve_args` are more `gamifyhost-mock
    serve` options for a real mock (e.g. ("--threads", "4")); the in-process mock has no server to pass
    them to.
    """

    keys: str | Path | None = None
    fixtures: tuple[str | Path, ...] = ()
    test_key: str | None = None
    live_key: str | None = None
    serve_args: tuple[str, ...] = ()
    start_timeout: float = START_TIMEOUT

    def keys_path(self) -> Path | None:
        return None if self.keys is None else _data_path(self.keys, keys=True)

    def fixture_paths(self) -> list[Path]:
        return [_data_path(source, keys=False) for source in self.fixtures]


def _data_path(source: str | Path, *, keys: bool) -> Path:
    if source == DEMO:  # the string only: Path("demo") is a folder so named, as on the command line
        return demo_keys() if keys else demo_fixtures()
    return Path(source)


def _to_instant(at: datetime | str) -> str:
    if isinstance(at, str):
        return at
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)  # a naive time is taken as UTC, as the mock's clock is
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration ("P20D", "PT1H30M", "P1W", "-P1D") or a short one as fixtures write them
    ("20d", "90m", "45s", "2w", "-1h")."""
    short = _SHORT_DURATION.fullmatch(text.strip())
    if short:
        sign = -1 if short[1] else 1
        return sign * timedelta(**{_SHORT_UNITS[short[3].lower()]: float(short[2])})
    match = _DURATION.fullmatch(text.strip())
    parts = {name: float(value) for name, value in (match.groupdict() if match else {}).items()
             if name != "sign" and value}
    if not match or not parts or ("T" in text.upper() and not parts.keys() & {"hours", "minutes", "seconds"}):
        raise ValueError(f"{text!r} is not a duration: write e.g. 'P20D', 'PT1H30M', '20d' or '90m'")
    return (-1 if match["sign"] else 1) * timedelta(**parts)


class ClockControl:
    """The mock's clock: `POST /__mock/clock` and `GET /__mock/clock`. Each call returns the mock's now."""

    def __init__(self, mock: GamifyHostMock) -> None:
        self._mock = mock

    def state(self) -> dict[str, Any]:
        """{"now", "frozen", "offsetSeconds"}."""
        data: dict[str, Any] = self._mock.control("GET", "clock")
        return data

    def now(self) -> datetime:
        return parse_instant(self.state()["now"])

    @property
    def frozen(self) -> bool:
        return bool(self.state()["frozen"])

    def freeze(self, at: datetime | str | None = None) -> datetime:
        """Stop the clock at `at` (an aware datetime, a naive one taken as UTC, or RFC 3339 text), or now."""
        body: dict[str, Any] = {"action": "freeze"}
        if at is not None:
            body["at"] = _to_instant(at)
        return self._set(body)

    def advance(self, by: timedelta | float | str | None = None, /, *, weeks: float = 0, days: float = 0,
                hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
        """Move the clock (frozen or running) by a timedelta, a number of seconds, a duration text
        ("P20D", "20d"; see parse_duration), or the keywords; negative moves it back."""
        if isinstance(by, str):
            delta = parse_duration(by)
        elif isinstance(by, timedelta):
            delta = by
        else:
            delta = timedelta(seconds=by or 0)
        delta += timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
        return self._set({"action": "advance", "seconds": delta.total_seconds()})

    def real(self) -> datetime:
        """Back to real time."""
        return self._set({"action": "real"})

    def _set(self, body: dict[str, Any]) -> datetime:
        return parse_instant(self._mock.control("POST", "clock", body=body)["now"])


class FaultControl:
    """Faults in force: `POST`, `GET` and `DELETE /__mock/faults`. Iterate it, or take its len(), for
    the faults in force now (each with its `hits`)."""

    def __init__(self, mock: GamifyHostMock) -> None:
        self._mock = mock

    def add(self, operation_id: str = "trackUser", *, latency_ms: int | None = None, count: int | None = None,
            rate: float | None = None) -> dict[str, Any]:
        """Break an operation of the API (its operationId): it answers its documented 500 and stores
        nothing; with `latency_ms`, it waits that long first instead. `count`: the next N requests
        only; `rate`: that fraction of them, at random; neither: every request until cleared."""
        body: dict[str, Any] = {"operationId": operation_id, "type": "error" if latency_ms is None else "latency"}
        optional = {"latencyMs": latency_ms, "count": count, "rate": rate}
        body.update({name: value for name, value in optional.items() if value is not None})
        fault: dict[str, Any] = self._mock.control("POST", "faults", body=body)
        return fault

    def in_force(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = self._mock.control("GET", "faults")
        return faults

    def clear(self) -> int:
        """Remove every fault; how many there were."""
        return int(self._mock.control("DELETE", "faults")["removed"])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.in_force())

    def __len__(self) -> int:
        return len(self.in_force())


class GamifyHostMock:
    """A mock and the keys to call it with, driven through its control API.

    `test_key` and `live_key` are one partner's keys (unless the settings name keys of two), TEST and
    LIVE; `partner_id` is the test key's partner. Calls that name a user take `key`, whose partner
    and environment hold it (default: the test key).
    """

    base_url: str

    def __init__(self, transport: Transport, settings: MockSettings, spaces: Callable[[str], tuple[str, str]]) -> None:
        self._transport = transport
        self.settings = settings
        self._spaces = spaces
        self.test_key, self.live_key = default_keys(settings)
        self.partner_id = self.space(self.test_key)[0]
        self.clock = ClockControl(self)
        self.faults = FaultControl(self)

    def space(self, key: str | None = None) -> tuple[str, str]:
        """(partnerId, environment) of a key (default: the test key), as the mock authenticates it."""
        return self._spaces(key or self.test_key)

    def control(self, method: str, resource: str, *, query: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        """One call of the control API (`resource` under /__mock/): its `data`, or the whole answer
        when it has no envelope (export). Raises ControlError unless it answers 2xx."""
        path = f"/__mock/{resource}"
        status, answer = self._transport(method, path, query=query, body=body)
        if not 200 <= status < 300:
            raise ControlError(method, path, status, answer)
        if isinstance(answer, dict) and answer.get("status") == "success" and "data" in answer:
            return answer["data"]
        return answer

    def reset(self, partner_id: str | None = None, environment: str | None = None) -> dict[str, Any]:
        """`POST /__mock/reset`. With neither argument: every profile, event and offer removed, the
        request journal emptied, every fault removed and the clock back to real time; with either or
        both, only those profiles (and their events and offers). The fixtures the mock started with
        go too: restore() loads them again."""
        body = {name: value for name, value in (("partnerId", partner_id), ("environment", environment))
                if value is not None}
        removed: dict[str, Any] = self.control("POST", "reset", body=body or None)
        return removed

    def restore(self) -> dict[str, int]:
        """reset(), then the fixtures the mock started with loaded again, by the mock itself (no body
        size limit): the state it started in (fixture events given with `ago` placed back from the
        mock's now)."""
        reset: dict[str, Any] = self.control("POST", "reset", body={"reloadFixtures": True})
        loaded: dict[str, int] = reset.get("fixturesLoaded", {"created": 0, "updated": 0})
        return loaded

    def load_fixtures(self, *sources: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, int]:
        """Load fixtures through `POST /__mock/fixtures`: each source a fixture document (a dict), a
        YAML or JSON file, a folder of them, or "demo" (the shipped data set). Each file is loaded
        whole or not at all; {"created": n, "updated": n} over all of them."""
        from .fixtures import read_documents

        totals = {"created": 0, "updated": 0}
        for source in sources:
            if isinstance(source, Mapping):
                documents: list[tuple[str, Any]] = [("fixture document", dict(source))]
            else:
                documents = read_documents([_data_path(os.fspath(source), keys=False)])
            for name, document in documents:
                try:
                    loaded = self.control("POST", "fixtures", body=document)
                except ControlError as exc:
                    raise ControlError("POST", f"/__mock/fixtures ({name})", exc.status, exc.body) from None
                for count in totals:
                    totals[count] += loaded[count]
        return totals

    def requests(self, limit: int = PAGE) -> list[dict[str, Any]]:
        """The journal of the last requests to the API (not the control API), newest first."""
        journal: list[dict[str, Any]] = self.control("GET", "requests", query={"limit": limit})
        return journal

    def clear_requests(self) -> int:
        return int(self.control("DELETE", "requests")["removed"])

    def profiles(self, *, partner_id: str | None = None, environment: str | None = None,
                 external_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored profile (as the API shows them) matching the filters, in creation order."""
        query = {name: value for name, value in (("partnerId", partner_id), ("environment", environment),
                                                 ("externalId", external_id)) if value is not None}
        return self._all_pages("profiles", query)

    def events(self, external_id: str, *, key: str | None = None) -> list[dict[str, Any]]:
        """Every event of the user that `key` (default: the test key) names, newest first, as the timeline shows."""
        partner_id, environment = self.space(key)
        return self._all_pages("events", {"partnerId": partner_id, "environment": environment,
                                          "externalId": external_id})

    def offers(self, external_id: str, *, key: str | None = None) -> dict[str, Any]:
        """{"offers": every offer of the user in every status, "segment": what they follow}; issues nothing."""
        partner_id, environment = self.space(key)
        listing: dict[str, Any] = self.control("GET", "offers", query={
            "partnerId": partner_id, "environment": environment, "externalId": external_id})
        return listing

    def place_offer(self, external_id: str, *, key: str | None = None, **offer: Any) -> dict[str, Any]:
        """Put an offer on a stored user (a fixture offer: offerType=..., expiresIn=..., ...)."""
        partner_id, environment = self.space(key)
        placed: dict[str, Any] = self.control("POST", "offers", body={
            **offer, "partnerId": partner_id, "environment": environment, "externalId": external_id})
        return placed

    def export(self) -> dict[str, Any]:
        """The whole store as a fixture document (load_fixtures takes it back)."""
        document: dict[str, Any] = self.control("GET", "export")
        return document

    def _all_pages(self, resource: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            status, answer = self._transport("GET", f"/__mock/{resource}", query={**query, "page": page,
                                                                                   "limit": PAGE})
            if status != 200:
                raise ControlError("GET", f"/__mock/{resource}", status, answer)
            found += answer["data"]
            if page >= answer["meta"]["totalPages"]:
                return found
            page += 1


def default_keys(settings: MockSettings) -> tuple[str, str]:
    """The settings' test and live keys, or the defaults MockSettings describes."""
    if settings.test_key and settings.live_key:
        return settings.test_key, settings.live_key
    keys_file = settings.keys_path()
    if keys_file is None:
        return settings.test_key or DEFAULT_TEST_KEY, settings.live_key or DEFAULT_LIVE_KEY
    listed = _listed_keys(keys_file)

    def first(kind: str, given: str | None) -> str:
        usable = given or next((key for key, entry in listed.items()
                                if key.startswith(f"pk_{kind}_") and entry.refusal is None), None)
        if usable is None:
            raise MockServerError(f"keys file {keys_file} lists no usable pk_{kind}_ key: add one, or name the "
                                  f"key tests use (gamifyhost_{kind}_key)")
        return usable

    return first("test", settings.test_key), first("live", settings.live_key)


def _listed_keys(keys_file: Path) -> dict[str, Any]:
    from .auth import KeysFileError, load_keys_file

    try:
        return load_keys_file(keys_file, _key_pattern())
    except KeysFileError as exc:
        raise MockServerError(f"cannot use keys file {keys_file} (gamifyhost_keys):\n{exc}") from None


def _key_pattern() -> str:
    from .spec import load_contract

    pattern: str = load_contract().document["components"]["securitySchemes"]["publicKey"]["x-key-format"]["pattern"]
    return pattern


def _spaces_of(authenticate: Callable[[str], Any], keys_file: Path | None) -> Callable[[str], tuple[str, str]]:
    """(partnerId, environment) of a key as `authenticate` (the mock's Authenticator.authenticate) says;
    a key it refuses raises MockServerError saying which setting to change."""
    from .errors import ApiError

    def space(key: str) -> tuple[str, str]:
        try:
            principal = authenticate(key)
        except ApiError as exc:
            where = f"with keys file {keys_file}" if keys_file else "(no keys file)"
            raise MockServerError(f"the mock {where} answers {exc.status} {exc.message} to key {key!r}: name a "
                                  "usable key (gamifyhost_test_key, gamifyhost_live_key) or list it in the "
                                  "keys file") from None
        return principal.partner_id, principal.environment

    return space


def _local_spaces(keys_file: Path | None) -> Callable[[str], tuple[str, str]]:
    """Key spaces worked out here as a mock started with `keys_file` works them out."""
    from .auth import Authenticator

    keys = _listed_keys(keys_file) if keys_file else None
    return _spaces_of(Authenticator(_key_pattern(), keys).authenticate, keys_file)


class _HttpTransport:
    def __init__(self, base_url: str, on_failure: Callable[[], str | None]) -> None:
        self._base_url = base_url
        self._session = requests.Session()
        self._session.trust_env = False  # a loopback mock: never through HTTP_PROXY (a proxied CI reached none)
        self._on_failure = on_failure

    def __call__(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                 body: Any = None) -> tuple[int, Any]:
        try:
            response = self._session.request(method, self._base_url + path, params=query, json=body,
                                             timeout=CONTROL_TIMEOUT)
        except requests.ConnectionError as exc:
            why = self._on_failure()
            raise MockServerError(why or f"cannot reach the mock at {self._base_url}: {exc}") from None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text or None

    def close(self) -> None:
        self._session.close()


class ApiSession(requests.Session):
    """A requests session for the mock's API: paths are taken from its base URL, and every request
    carries X-API-Key (pass headers={"X-API-Key": ...} to send another, or None to send none)."""

    def __init__(self, base_url: str, key: str | None) -> None:
        super().__init__()
        self.trust_env = False  # a loopback mock: never through HTTP_PROXY
        self.base_url = base_url.rstrip("/")
        if key is not None:
            self.headers["X-API-Key"] = key

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, str):
            url = url if re.match(r"[a-z][a-z0-9+.-]*://", url, re.IGNORECASE) else f"{self.base_url}/{url.lstrip('/')}"
        return super().request(method, url, *args, **kwargs)


@dataclass(eq=False)
class _Process:
    """The mock process, with what it prints read as it goes (a pipe nobody reads fills and blocks it)."""

    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._read, name="gamifyhost-mock output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    def output(self, start: int = 0) -> str:
        return "".join(self.lines[start:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(timeout)
        return self.popen.returncode


class LiveMock(GamifyHostMock):
    """A real `gamifyhost-mock serve` process on a free port of 127.0.0.1 (start_mock starts one)."""

    def __init__(self, process: _Process, base_url: str, settings: MockSettings) -> None:
        self._process = process
        self.base_url = base_url
        self._http = _HttpTransport(base_url, self._died)
        super().__init__(self._http, settings, _local_spaces(settings.keys_path()))

    @property
    def pid(self) -> int:
        return self._process.popen.pid

    def url(self, path: str = "") -> str:
        """base_url + path."""
        return self.base_url + path

    def api(self, key: str | None = None) -> ApiSession:
        """A requests session for the API with `key` (default: the test key) as X-API-Key; close it after."""
        return ApiSession(self.base_url, key or self.test_key)

    def output(self, start: int = 0) -> str:
        """What the mock has printed (a line per request, unless --quiet), from line `start`."""
        return self._process.output(start)

    def output_lines(self) -> int:
        return len(self._process.lines)

    def settle_output(self, timeout: float = 2.0) -> None:
        """Wait until what the mock has printed so far has been read: a marked request's log line
        comes after those of every request answered before it. (A request's line is printed after
        its answer, and read by a thread: read at once, a failed test's log missed its last request,
        4 times in 300.) With --quiet nothing is printed, and this waits `timeout` in vain."""
        marker = f"/__mock/settle-{uuid.uuid4().hex}"  # a 404 whose path the log line shows
        start = len(self._process.lines)
        try:
            self._http("GET", marker)
        except MockServerError:
            return
        deadline = time.monotonic() + timeout
        while marker not in self._process.output(start):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)

    def running(self) -> bool:
        return self._process.popen.poll() is None

    def stop(self) -> int:
        """Stop the mock (SIGTERM; killed if it has not stopped in 15 s); its exit code."""
        self._http.close()
        return self._process.stop()

    def _died(self) -> str | None:
        code = self._process.popen.poll()
        if code is None:
            return None
        self._process.stop()
        return (f"the mock at {self.base_url} (pid {self.pid}) has exited with code {code}; what it printed last:\n"
                + "".join(self._process.lines[-20:]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve_command(settings: MockSettings, port: int) -> list[str]:
    """The `gamifyhost-mock serve` arguments for a mock with these settings on `port` of 127.0.0.1."""
    for option in settings.serve_args:
        name = option.split("=", 1)[0]
        if name in _OWNED_OPTIONS:
            raise MockServerError(f"serve option {name} cannot be given to the mock the fixtures start "
                                  f"({_OWNED_OPTIONS[name]})")
    keys_file = settings.keys_path()
    return ["serve", "--host", "127.0.0.1", "--port", str(port),
            *(["--keys", str(keys_file)] if keys_file else []),
            *(arg for path in settings.fixture_paths() for arg in ("--fixtures", str(path))),
            *settings.serve_args]


def start_mock(settings: MockSettings | None = None, *, cwd: str | os.PathLike[str] | None = None) -> LiveMock:
    """Run `python -m mock_server serve` on a free port and wait until it serves (at most
    settings.start_timeout seconds); stop it with .stop(). Raises MockServerError with what it
    printed if it does not start."""
    settings = settings or MockSettings()
    default_keys(settings)  # a keys file without usable keys stops here, before a process is started
    for _attempt in range(3):
        port = _free_port()
        command = serve_command(settings, port)
        popen = subprocess.Popen([sys.executable, "-c", _BOOT, str(os.getpid()), *command], cwd=cwd,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, encoding="utf-8", errors="replace")
        process = _Process(popen)
        deadline = time.monotonic() + settings.start_timeout
        while "serving on" not in process.output():
            if popen.poll() is not None:
                process.stop()
                break
            if time.monotonic() > deadline:
                process.stop()
                raise MockServerError(f"the mock did not start serving within {settings.start_timeout:g} s "
                                      f"(gamifyhost-mock {' '.join(command)}); it printed:\n{process.output()}")
            time.sleep(0.02)
        else:
            try:
                return LiveMock(process, f"http://127.0.0.1:{port}", settings)
            except MockServerError:  # a key the mock refuses: stop it, or it outlived the error (found by review)
                process.stop()
                raise
        if "already in use" not in process.output():  # a port taken since it was found free: try another
            raise MockServerError(f"the mock did not start (gamifyhost-mock {' '.join(command)}), exit code "
                                  f"{popen.returncode}:\n{process.output().strip()}")
    raise MockServerError(f"the mock did not start: no free port in 3 tries:\n{process.output().strip()}")


class _WsgiTransport:
    def __init__(self, app: Flask) -> None:
        self._client = app.test_client()

    def __call__(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                 body: Any = None) -> tuple[int, Any]:
        options: dict[str, Any] = {} if body is None else {"json": body}
        response = self._client.open(path, method=method, query_string=dict(query or {}), **options)
        return response.status_code, response.get_json(silent=True)


class InProcessMock(GamifyHostMock):
    """A mock app in this process, no server and no port: its control API through Flask's test client."""

    base_url = IN_PROCESS_URL

    def __init__(self, app: Flask, settings: MockSettings) -> None:
        from .state import EXTENSION

        self.app = app
        authenticator = app.extensions[EXTENSION].authenticator
        super().__init__(_WsgiTransport(app), settings, _spaces_of(authenticator.authenticate, settings.keys_path()))

    def api(self, key: str | None = None) -> FlaskClient:
        """A Flask test client of the app whose requests carry `key` (default: the test key) as X-API-Key."""
        client = self.app.test_client()
        client.environ_base["HTTP_X_API_KEY"] = key or self.test_key
        return client


def in_process_mock(settings: MockSettings | None = None, **config: Any) -> InProcessMock:
    """A fresh mock app (create_app) with the settings' keys file and fixtures, and any more config."""
    from . import create_app
    from .auth import KeysFileError
    from .fixtures import FixtureError

    settings = settings or MockSettings()
    try:
        app = create_app({"TESTING": True, "KEYS_FILE": settings.keys_path(), "FIXTURES": settings.fixture_paths(),
                          **config})
    except (KeysFileError, FixtureError) as exc:
        raise MockServerError(f"the in-process mock cannot start:\n{exc}") from None
    return InProcessMock(app, settings)
