"""gamifyhost-mock: an offline, stateful stand-in for the GamifyHost User Journeys API."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from flask import Flask, Response, request
from flask_cors import CORS

from . import control, errors, journal, operations, state
from .api import HANDLERS
from .json_provider import FastJSONProvider

DEFAULT_MAX_BODY = 1024 * 1024
# Every config key create_app reads, with its default, and the server's own settings; the
# CLI's defaults come from here too.
DEFAULTS: dict[str, Any] = {
    "HOST": "127.0.0.1",  # server: where `gamifyhost-mock serve` listens
    "PORT": 4010,
    "SERVER_THREADS": 1,  # server: threads of its one worker (the control API warns on latency faults with 1)
    "LOG_FORMAT": "text",  # server: text or json
    "SPEC_PATH": None,  # the shipped openapi.yaml
    "KEYS_FILE": None,  # none: any well-formed pk_ key is accepted
    "CLOCK": None,  # a mock_server.clock.Clock; none: real time
    "MAX_CONTENT_LENGTH": DEFAULT_MAX_BODY,
    "FIXTURES": [],  # files and folders loaded at start
    "STATE_FILE": None,  # none: profiles in memory only
    "STATE_SYNC": "normal",  # SQLite synchronous mode for STATE_FILE: normal or full
    "CONTROL_API": True,
    "PREFER": True,  # a Prefer header forces a declared answer (prefer.py); only with CONTROL_API
    "JOURNAL_SIZE": 1000,
    "FAULT_SEED": None,  # seeds the random draw of `rate` faults
    "CORS_ORIGINS": "*",  # any origin
}
# What a browser app may send cross-origin: the API's own headers and methods, and the mock's
# Prefer; and the answer's headers beyond the CORS-safelisted ones it may read.
CORS_HEADERS = ["X-API-Key", "Content-Type", "Prefer"]
CORS_METHODS = ["GET", "POST"]
NOT_CONTROL_API = r"^(?!/__mock(/|$)).*"  # the paths CORS covers: all but the control API's
CORS_EXPOSE = ["Preference-Applied"]


def _with_origin_only(cors_hook: Callable[[Response], Any]) -> Callable[[Response], Response]:
    """Flask-CORS's after-request hook, run only for requests with an Origin.

    Without an Origin (or with an empty one) the hook adds nothing when always_send is off, but
    it still matched the path against its resources and read the answer's and the request's
    headers: 11 µs of a GET's 140 µs of CPU (GET /users/{id}, in-process, with and without it).
    The answers are the same with it skipped (tests/test_hot_path.py).
    """
    @wraps(cors_hook)
    def cors_with_origin(response: Response) -> Response:
        return cors_hook(response) if request.environ.get("HTTP_ORIGIN") else response

    return cors_with_origin


class MockFlask(Flask):
    """Flask, remembering which functions are plain (not coroutines) instead of asking again.

    Flask asks `inspect.iscoroutinefunction` of every hook and view on every request, through
    `ensure_sync`: four times for an API request, 17,000 of the 773,000 instructions of a GET of a
    user's offers (2%; counted by valgrind over 3,000 requests through the served WSGI stack).
    The answer never changes for a function. At most SYNC_CACHE functions are remembered: those
    are the app's own hooks, views and error handlers; any others are asked about as Flask does.
    """

    SYNC_CACHE = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if func in self._plain:
            return func
        sync = super().ensure_sync(func)
        if sync is func and len(self._plain) < self.SYNC_CACHE:
            self._plain.add(func)
        return sync


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a mock app from `config` (keys and defaults: DEFAULTS)."""
    app = MockFlask(__name__)
    app.json = FastJSONProvider(app)
    app.config.from_mapping(DEFAULTS)
    if config:
        app.config.from_mapping(config)
    mock = state.init_app(app)
    errors.init_app(app, {op.id: op.failure for op in mock.operations.values()})
    # always_send=False: only requests with an Origin (browsers) need CORS headers. Not for /__mock/:
    # a page on any other origin could otherwise read every profile (export), claim offers and reset
    # the mock of a developer who visits it; the dashboard is same-origin and needs none.
    hooks = list(app.after_request_funcs.get(None, []))
    CORS(app, resources=NOT_CONTROL_API, origins=app.config["CORS_ORIGINS"], allow_headers=CORS_HEADERS,
         methods=CORS_METHODS, max_age=600, expose_headers=CORS_EXPOSE, always_send=False)
    app.after_request_funcs[None] = [hook if hook in hooks else _with_origin_only(hook)
                                     for hook in app.after_request_funcs[None]]
    journal.record_requests(app, mock.journal)
    app.register_blueprint(operations.blueprint(mock.operations, HANDLERS, state.current_state))
    if app.config["CONTROL_API"]:
        app.register_blueprint(control.bp)
    return app
