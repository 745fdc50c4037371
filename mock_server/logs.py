"""The server's log lines: text for people, or one JSON object per line for log collectors.

Every JSON line has `time` (UTC, milliseconds, `2025-01-15T10:30:00.123Z`) and `level`; an access
line adds `client`, `method`, `path`, `status` and `durationMs`, any other line `message`.
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

LOG_FORMATS = ("text", "json")  # the first is the default


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_line(level: str, seconds: float | None = None, **fields: Any) -> str:
    """One JSON log line (without its newline)."""
    stamp = _timestamp(time.time() if seconds is None else seconds)
    return orjson.dumps({"time": stamp, "level": level, **fields}).decode()


class JsonFormatter(logging.Formatter):
    """Formats a log record as a JSON line; a traceback goes in `error`."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"message": record.getMessage()}
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        return json_line(record.levelname.lower(), record.created, **fields)


def _text_access(client: str, method: str, path: str, status: str, ms: float) -> str:
    return f"{client} {method} {path} {status} {ms:.1f}ms\n"


def _json_access(client: str, method: str, path: str, status: str, ms: float) -> str:
    return json_line("info", client=client, method=method, path=path,
                     status=int(status) if status.isdigit() else None, durationMs=round(ms, 1)) + "\n"


# The access line of each format: (client, method, path, status, milliseconds) -> line.
ACCESS_LINES: dict[str, Callable[[str, str, str, str, float], str]] = {"text": _text_access, "json": _json_access}


def announce(log_format: str, message: str, **fields: Any) -> None:
    """A start-up or stop line on standard output; `fields` are added to a JSON line."""
    print(message if log_format == "text" else json_line("info", message=message, **fields), flush=True)


def warn(log_format: str, message: str) -> None:
    """A start-up warning on standard error (text starting "warning: ", or a JSON line)."""
    print(f"warning: {message}" if log_format == "text" else json_line("warning", message=message),
          file=sys.stderr, flush=True)



def logging_config(log_format: str, app_logger: str) -> dict[str, Any]:
    """The `logging` configuration of the serving process: granian's own messages on standard error
    as `[LEVEL] message`, or, in JSON, those and the app's warnings (named `app_logger`) as JSON lines."""
    formatter = {"format": "[%(levelname)s] %(message)s"} if log_format == "text" else {"()": JsonFormatter}
    loggers = ["_granian"] if log_format == "text" else ["_granian", app_logger]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"generic": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "generic",
                                 "stream": "ext://sys.stderr"}},
        "loggers": {name: {"handlers": ["console"], "propagate": False} for name in loggers},
    }
