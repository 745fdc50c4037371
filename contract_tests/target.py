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
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

import requests

from mock_server.auth import key_hint
from mock_server.safety import is_loopback, needs_consent, refuse_live_writes
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
    allow_live: bool = False  # --allow-live: pk_live_ keys may write to a server off this machine
    skip_writes: bool = False  # --skip-writes: only read operations, on the `users` named
    users: tuple[str, ...] = ()  # --user: existing users the read laws (and, with --skip-writes, all reads) use
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _app: Any = field(default=None, init=False, repr=False)

    @property
    def in_process(self) -> bool:
        return self.base_url is None

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") if self.base_url else IN_PROCESS_URL

    @property
    def on_this_machine(self) -> bool:
        """The mock in-process, or a server on a loopback address."""
        return self.in_process or is_loopback(self.url)

    @property
    def prefix(self) -> str:
        """Every externalId this run creates starts with this."""
        return f"ct-{self.run_id}-"

    @property
    def known_user(self) -> str:
        """A user that exists before any test: one the preflight tracks under every key it writes with,
        or, with --skip-writes, the first --user."""
        return self.users[0] if self.skip_writes else self.preflight_user

    @property
    def preflight_user(self) -> str:
        """The user the preflight tracks under every key it writes with (and reads under the others)."""
        return f"{self.prefix}preflight"

    def named_user(self, drawn: str) -> str:
        """One of the --user ids for a drawn id, always the same one for the same id."""
        return self.users[zlib.crc32(drawn.encode()) % len(self.users)]

    @property
    def app(self) -> Any:
        """The in-process WSGI app, built once per run."""
        if self._app is None:
            self._app = load_app_factory(self.app_factory)()
        return self._app

    def may_write(self, key: str) -> bool:
        """Whether the run may write (upsert, track events, claim) under `key`: never with --skip-writes;
        with a pk_live_ key only in-process, on this machine, or with --allow-live."""
        if self.skip_writes:
            return False
        return self.in_process or self.allow_live or not needs_consent(self.url, key)

    def why_read_only(self, key: str) -> str:
        """Why `key` may not be written with (for a skip reason); "" when it may."""
        if self.skip_writes:
            return "--skip-writes: the run only reads"
        if not self.may_write(key):
            return (f"{key_hint(key)} is a pk_live_ key and the target is not on this machine "
                    "(--allow-live lets it write)")
        return ""

    def check_safety(self) -> None:
        """Refuse a pk_live_ --api-key against a non-loopback URL unless explicitly allowed, or the run
        only reads. Other pk_live_ keys are used for reads only (may_write)."""
        if not self.in_process and not self.skip_writes:
            refuse_live_writes(self.url, (self.api_key,), self.allow_live,
                               "the suite creates profiles, events and claims there with --api-key "
                               "(--skip-writes only reads)")


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
    """Before any test, each operation the run will use, once per key, with a valid request on a user of
    the run: a key refused (401/403) anywhere stops the run, since every test of that operation would
    meet the same answer. So does an upsert answered anything but 200 (the documented answer), or,
    with --skip-writes, a --user that the main key does not have.

    Valid requests, not harmless empty ones: a server that validates before it authenticates answers 400
    to a bad body (or path) whatever the key, and the run would go on against a key it refuses.
    """
    client = ApiClient(target)
    try:
        for key in (target.api_key, *target.other_api_keys):
            for operation_id, request, expected in preflight_requests(target, key):
                try:
                    exchange = client.call(operation_id, key, **request)
                except requests.RequestException as exc:
                    why = connect_failure(exc) or f"{type(exc).__name__}: {exc}"
                    raise TargetUnusable(f"cannot reach {target.url} ({why})") from None
                _judge_preflight(operation_id, key, request, exchange, expected)
    finally:
        client.close()


def preflight_requests(target: Target, key: str) -> list[tuple[str, dict[str, Any], str]]:
    """(operationId, ApiClient.call arguments, what must come back) for each request the preflight sends
    with `key`: every operation for a key the run writes with; the reads alone for a read-only key.

    A --user the main key does not have stops the run in either mode: the read laws would fail on it.
    What must come back: "ok" a 200; "user" a 200, the --user being the main key's; "any" anything but
    401 and 403 (a read of a user this key may not have is 404; a claim of an offer no one has is 404).
    """
    if target.skip_writes or not target.may_write(key):
        users = target.users or (target.preflight_user,)
        main = key == target.api_key and target.skip_writes
        return [(operation_id, {"path": {"externalId": user}}, "user" if main and operation_id == "getUser" else "any")
                for user in users for operation_id in READS]
    user = {"externalId": target.known_user}
    event = {**user, "category": "GAME_PLAY", "eventType": "contract_preflight"}
    named = [("getUser", {"path": {"externalId": external_id}}, "user")
             for external_id in target.users if key == target.api_key]
    return [*named, ("trackUser", {"body": user}, "ok"),
            *((operation_id, {"path": user}, "any") for operation_id in READS),
            ("trackEvent", {"body": event}, "any"),
            ("trackEvents", {"body": {"events": [event]}}, "any"),
            ("claimOffer", {"path": {**user, "offerId": str(uuid.uuid4())}}, "any")]


# The read operations, which --skip-writes runs, in the order the preflight tries them.
READS = ("getUser", "getUserTimeline", "getUserOffers")


def _judge_preflight(operation_id: str, key: str, request: dict[str, Any], exchange: Exchange,
                     expected: str) -> None:
    """Raise TargetUnusable when the preflight's answer means the run would test nothing."""
    status = exchange.status
    refused = status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN)
    if not refused and (expected == "any" or status == HTTPStatus.OK):
        return
    body = exchange.body
    message = body.get("message") if isinstance(body, dict) else None
    answer = f"{status} {message if isinstance(message, str) else _phrase(status)}"
    if refused:
        raise TargetUnusable(f"the target refused key {key_hint(key)} for {operation_id} ({answer})")
    if expected == "user":
        raise TargetUnusable(f"--user {request['path']['externalId']} is not a user of key {key_hint(key)} ({answer})")
    raise TargetUnusable(f"the target did not accept an upsert with key {key_hint(key)} ({answer})")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no reason given"
