"""The request journal: what clients sent to the API routes, newest first, for inspection.

Control API calls (/__mock/...) are not journaled; the journal is about the API under test.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any, cast

from flask import Flask, Request, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from .clock import format_instant

CONTROL_PREFIX = "/__mock/"
CONTROL_ROOT = "/__mock"  # redirected to the dashboard at /__mock/: not the API's either
RECORDED_HEADERS = {"X-API-Key": "HTTP_X_API_KEY", "Content-Type": "CONTENT_TYPE", "Origin": "HTTP_ORIGIN",
                    "Prefer": "HTTP_PREFER"}  # Prefer: why an answer was forced
MAX_BODY_CHARS = 64 * 1024
STARTED = "gamifyhost_mock.journal.started"  # environ key: (perf_counter, time) at the request's arrival


class Journal:
    """A bounded, thread-safe list of request records.

    Bodies are kept as the bytes that were sent and answered, and decoded only when the
    journal is read: recording must stay cheap on every request.
    """

    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def newest(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            entries = [self._entries[-i] for i in range(1, min(limit, len(self._entries)) + 1)]
        return [_readable(entry) for entry in entries]

    def clear(self) -> int:
        with self._lock:
            removed = len(self._entries)
            self._entries.clear()
            return removed


def _decode(raw: bytes | None) -> tuple[Any, bool]:
    """A body as JSON when it is JSON, else as text cut at MAX_BODY_CHARS; and whether it was cut."""
    if raw is None:
        return None, False
    text = raw.decode("utf-8", errors="replace")
    if len(text) > MAX_BODY_CHARS:
        return text[:MAX_BODY_CHARS], True
    try:
        return json.loads(text), False
    except (ValueError, RecursionError):  # not JSON, or too deeply nested to parse
        return text, False


def _readable(entry: dict[str, Any]) -> dict[str, Any]:
    body, truncated = _decode(entry["body"])
    readable = {**entry, "time": format_instant(datetime.fromtimestamp(entry["time"], UTC)), "body": body,
                "response": _decode(entry["response"])[0] if entry["response"] else None}
    if truncated:
        readable["bodyTruncated"] = True
    return readable


def _request_bytes(current: Request) -> bytes | None:
    """The body as sent. A request without one (no Content-Length or 0, not chunked: every GET a
    client sends) has b"" without reading: going through werkzeug's stream for it took 14 µs of a
    GET's 157 µs of CPU (GET /users/{id}, in-process)."""
    environ = current.environ
    if environ.get("CONTENT_LENGTH", "") in ("", "0") and "HTTP_TRANSFER_ENCODING" not in environ:
        return b""
    try:
        return current.get_data(cache=True)
    except RequestEntityTooLarge:  # never read; the answer was 413
        return None


def record_requests(app: Flask, journal: Journal) -> None:
    """Journal every request outside the control prefix, timed from arrival to answer."""
    serve = app.wsgi_app

    # The arrival time is stamped on the WSGI environ as the request comes in, not by a Flask
    # before_request hook: the hook, with Flask's calls around it and the stamp kept in `g`, cost
    # 6 µs of a 132 µs GET of a user's offers (CPU through the app, in-process).
    def stamped(environ: dict[str, Any], start_response: Any) -> Any:
        environ[STARTED] = (time.perf_counter(), time.time())
        return serve(environ, start_response)

    app.wsgi_app = stamped  # type: ignore[method-assign]  # WSGI middleware, as Flask's docs wrap it

    @app.after_request
    def record(response: Response) -> Response:
        # The request object itself, not the context-local proxy: each read through `request` costs
        # a context lookup, and the record read it six times (about 3 µs of a GET's 157).
        current: Request = cast(Any, request)._get_current_object()
        environ = current.environ
        started = environ.get(STARTED)
        if started is None or current.path.startswith(CONTROL_PREFIX) or current.path == CONTROL_ROOT:
            return response
        journal.record({
            "time": started[1],
            "method": current.method,
            "path": current.path,
            "query": current.query_string.decode("latin-1"),
            "status": response.status_code,
            "durationMs": round((time.perf_counter() - started[0]) * 1000, 3),
            "headers": {name: environ[key] for name, key in RECORDED_HEADERS.items() if environ.get(key)},
            "body": _request_bytes(current),
            "response": None if response.direct_passthrough else response.get_data(),
        })
        return response
