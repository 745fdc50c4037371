"""The request journal: what clients sent to the API routes, newest first, for inspection.

Control API calls (/__mock/...) are not journaled; the journal is about the API under test.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from .clock import format_instant

CONTROL_PREFIX = "/__mock/"
RECORDED_HEADERS = {"X-API-Key": "HTTP_X_API_KEY", "Content-Type": "CONTENT_TYPE", "Origin": "HTTP_ORIGIN"}
MAX_BODY_CHARS = 64 * 1024


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


def _request_bytes() -> bytes | None:
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:  # never read; the answer was 413
        return None


def record_requests(app: Flask, journal: Journal) -> None:
    """Journal every request outside the control prefix, timed from arrival to answer."""

    @app.before_request
    def start_timer() -> None:
        g.journal_started = (time.perf_counter(), time.time())

    @app.after_request
    def record(response: Response) -> Response:
        started = g.pop("journal_started", None)
        if started is None or request.path.startswith(CONTROL_PREFIX):
            return response
        environ = request.environ
        journal.record({
            "time": started[1],
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode("latin-1"),
            "status": response.status_code,
            "durationMs": round((time.perf_counter() - started[0]) * 1000, 3),
            "headers": {name: environ[key] for name, key in RECORDED_HEADERS.items() if environ.get(key)},
            "body": _request_bytes(),
            "response": None if response.direct_passthrough else response.get_data(),
        })
        return response
