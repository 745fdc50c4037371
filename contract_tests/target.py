"""What the contract suite runs against, and the one client its own laws use to reach it.

A target is the mock in-process (a fresh WSGI app, no network) or any base URL. Everything
the suite creates carries the run prefix, and a live key is never sent to a remote host
unless the user says so.
"""
from __future__ import annotations

import importlib
import json
import re
import shlex
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

import requests

from mock_server.auth import key_hint
from mock_server.safety import is_loopback, refuse_live_writes
from mock_server.spec import load_contract
from mock_server.unreachable import connect_failure

# operationId -> (method, path template), as the spec declares them.
OPERATIONS = {operation["operationId"]: (method.upper(), path)
              for path, item in load_contract().document["paths"].items()
              for method, operation in item.items() if isinstance(operation, dict) and "operationId" in operation}
_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")
IN_PROCESS_URL = "http://localhost"
CONTROL_PREFIX = "/__mock/"  # the mock's control API: the clock, offers in every status (not GamifyHost's)
DEFAULT_APP = "mock_server:create_app"
# How hard a run pushes by default: the mock in-process or any server on this machine gets the
# full run; a server elsewhere (staging, a partner's) a gentle one.
LOCAL_MAX_EXAMPLES = 100
REMOTE_MAX_EXAMPLES = 20
REMOTE_RATE_LIMIT = 5.0
# Keys the suite uses against the in-process mock: a partner's test key, the same partner's
# live key, and a second partner.
MOCK_KEY = "pk_test_contract0suite0partner0a"
MOCK_OTHER_KEYS = ("pk_live_contract0suite0partner0a", "pk_test_contract0suite0partner0b")


def load_app_factory(spec: str) -> Callable[[], Any]:
    """Import 'package.module:callable' (a factory that returns a WSGI app)."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"--app takes module:callable, not {spec!r}")
    return getattr(importlib.import_module(module_name), attr)


def default_load(base_url: str | None) -> tuple[int, float | None]:
    """Examples per test and requests per second (None: no cap) when the user gives neither."""
    if base_url is None or is_loopback(base_url):
        return LOCAL_MAX_EXAMPLES, None
    return REMOTE_MAX_EXAMPLES, REMOTE_RATE_LIMIT


@dataclass
class Target:
    """The server under test and how hard the suite may push it."""

    api_key: str
    other_api_keys: tuple[str, ...]
    base_url: str | None = None
    app_factory: str = DEFAULT_APP
    max_examples: int = 100
    rate_limit: float | None = None
    inferred_fail: bool = True
    shrink: bool = True
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _app: Any = field(default=None, init=False, repr=False)

    @property
    def in_process(self) -> bool:
        return self.base_url is None

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") if self.base_url else IN_PROCESS_URL

    @property
    def prefix(self) -> str:
        """Every externalId this run creates starts with this."""
        return f"ct-{self.run_id}-"

    @property
    def known_user(self) -> str:
        """A user the preflight tracks under every key, so that it exists before any test."""
        return f"{self.prefix}preflight"

    @property
    def app(self) -> Any:
        """The in-process WSGI app, built once per run."""
        if self._app is None:
            self._app = load_app_factory(self.app_factory)()
        return self._app

    def check_safety(self, allow_live: bool) -> None:
        """Refuse a pk_live_ key against a non-loopback URL unless explicitly allowed."""
        if not self.in_process:
            refuse_live_writes(self.url, (self.api_key, *self.other_api_keys), allow_live,
                               "the suite creates profiles there")


@dataclass
class Exchange:
    """One request the suite made and what came back, with a curl line to replay it."""

    status: int
    body: Any
    curl: str

    def describe(self) -> str:
        return f"request: {self.curl}\nreceived: {self.status} {json.dumps(self.body)[:2000]}"


class RateLimiter:
    """At most `per_second` calls per second, across threads."""

    def __init__(self, per_second: float | None) -> None:
        self._interval = 1 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            time.sleep(delay)


class ApiClient:
    """The API's operations against the target, in-process or over HTTP; every call can be replayed with curl."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._limiter = RateLimiter(target.rate_limit)
        if target.in_process:
            from werkzeug.test import Client

            self._wsgi = Client(target.app)
        else:
            self._session = requests.Session()

    def close(self) -> None:
        """Release the HTTP connections (an in-process client holds none)."""
        if not self._target.in_process:
            self._session.close()

    def track(self, body: dict[str, Any], key: str) -> Exchange:
        return self.call("trackUser", key, body=body)

    def track_event(self, body: dict[str, Any], key: str) -> Exchange:
        return self.call("trackEvent", key, body=body)

    def track_events(self, events: list[dict[str, Any]], key: str) -> Exchange:
        return self.call("trackEvents", key, body={"events": events})

    def user(self, external_id: str, key: str) -> Exchange:
        return self.call("getUser", key, path={"externalId": external_id})

    def timeline(self, external_id: str, key: str, **query: int) -> Exchange:
        return self.call("getUserTimeline", key, path={"externalId": external_id}, query=query)

    def offers(self, external_id: str, key: str) -> Exchange:
        return self.call("getUserOffers", key, path={"externalId": external_id})

    def claim(self, external_id: str, offer_id: str, key: str) -> Exchange:
        """POST .../claim with no body (and so no Content-Type), as the docs' SDK sends it."""
        return self.call("claimOffer", key, path={"externalId": external_id, "offerId": offer_id})

    def call(self, operation_id: str, key: str, *, path: dict[str, str] | None = None,
             query: dict[str, int] | None = None, body: Any = None) -> Exchange:
        """One request to the operation, its path parameters percent-encoded ('/' included)."""
        method, template = OPERATIONS[operation_id]
        resource = _PATH_PARAMETER.sub(lambda m: quote((path or {})[m[1]], safe=""), template)
        return self.send(method, resource, query, body, {"X-API-Key": key})

    def control(self, method: str, resource: str, *, query: dict[str, str] | None = None,
                body: Any = None) -> Exchange:
        """One request to the mock's control API (`resource` under /__mock/), which takes no key."""
        return self.send(method, f"{CONTROL_PREFIX}{resource}", query, body, {})

    def send(self, method: str, resource: str, query: dict[str, Any] | None, body: Any,
             headers: dict[str, str]) -> Exchange:
        """One request to the target: `body`, if any, as JSON; the answer parsed, with a curl line."""
        if query:
            resource += "?" + urlencode(query)
        headers = dict(headers)
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        url = self._target.url + resource
        curl = " ".join(["curl -X", method, shlex.quote(url),
                         *(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in headers.items()),
                         *(["-d", shlex.quote(payload)] if payload is not None else [])])
        self._limiter.wait()
        if self._target.in_process:
            answer = self._wsgi.open(resource, method=method, data=payload, headers=headers)
            status, text = answer.status_code, answer.get_data(as_text=True)
        else:
            response = self._session.request(method, url, data=payload, headers=headers, timeout=30)
            status, text = response.status_code, response.text
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return Exchange(status, parsed, curl)


# Exit code of a run that tested nothing: a key was refused or the target could not be reached.
# (pytest's own codes are 0-5; 4, a usage error, is also what a refused live key gets.)
EXIT_UNTESTED = 6


class TargetUnusable(Exception):
    """The target refused a key or could not be reached: a run would test nothing."""


def preflight(target: Target) -> None:
    """Before any test, one upsert per key the run will use, of a profile named with the run
    prefix: anything but a 200 stops the run, since every test would meet the same answer.

    A harmless body would not do: a server that validates before it authenticates answers 400
    to a bad body whatever the key, and the run would go on against a key it refuses.
    """
    client = ApiClient(target)
    try:
        for key in (target.api_key, *target.other_api_keys):
            try:
                exchange = client.track({"externalId": target.known_user}, key)
            except requests.RequestException as exc:
                why = connect_failure(exc) or f"{type(exc).__name__}: {exc}"
                raise TargetUnusable(f"cannot reach {target.url} ({why})") from None
            if exchange.status != HTTPStatus.OK:
                body = exchange.body
                message = body.get("message") if isinstance(body, dict) else None
                answer = message if isinstance(message, str) else HTTPStatus(exchange.status).phrase
                refused = exchange.status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
                raise TargetUnusable(f"the target {'refused' if refused else 'did not accept an upsert with'} "
                                     f"key {key_hint(key)} ({exchange.status} {answer})")
    finally:
        client.close()
