"""The request journal: what clients sent to the API routes, newest first, for inspection.

Control API calls (/__mock/...) are not journaled; the journal is about the API under test.
"""
from __future__ import annotations

import json
import threading
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from .clock import format_instant

CONTROL_PREFIX = "/__mock/"
RECORDED_HEADERS = ("X-API-Key", "Content-Type", "Origin")
MAX_BODY_CHARS = 64 * 1024


class Journal:
    """A bounded, thread-safe list of request records."""

    def __init__(self, size: int = 1000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def newest(self, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            return [self._entries[-i] for i in range(1, min(limit, len(self._entries)) + 1)]

    def clear(self) -> int:
        with self._lock:
            removed = len(self._entries)
            self._entries.clear()
            return removed


def _body() -> tuple[Any, bool]:
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return None, False
    text = raw.decode("utf-8", errors="replace")
    truncated = len(text) > MAX_BODY_CHARS
    if truncated:
        return text[:MAX_BODY_CHARS], True
    try:
        return json.loads(text), False
    except (ValueError, RecursionError):  # not JSON, or too deeply nested to parse
        return text, False


def record_requests(app: Flask, journal: Journal) -> None:
    """Journal every request outside the control prefix, timed from arrival to answer."""

    @app.before_request
    def start_timer() -> None:
        g.journal_started = (time.perf_counter(), datetime.now(timezone.utc))

    @app.after_request
    def record(response: Response) -> Response:
        started = g.pop("journal_started", None)
        if started is None or request.path.startswith(CONTROL_PREFIX):
            return response
        body, truncated = _body()
        entry = {
            "time": format_instant(started[1]),
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode("latin-1"),
            "status": response.status_code,
            "durationMs": round((time.perf_counter() - started[0]) * 1000, 3),
            "headers": {h: request.headers[h] for h in RECORDED_HEADERS if h in request.headers},
            "body": body,
            "response": response.get_json(silent=True),
        }
        if truncated:
            entry["bodyTruncated"] = True
        journal.record(entry)
        return response
