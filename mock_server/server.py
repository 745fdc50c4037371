"""Running the mock on granian, a production WSGI server, with one log line per request.

Exactly one worker process holds the app: the store lives in memory, so a second worker
would hold a second, different store. Within that worker granian runs the app on a small
pool of threads. granian forks the worker, so the app built here is the one that serves.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

ACCESS_FORMAT = "%(addr)s %(method)s %(path)s %(status)d %(dt_ms).1fms"
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(message)s"},
        "generic": {"format": "[%(levelname)s] %(message)s"},
    },
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"},
        "console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "_granian": {"handlers": ["console"], "propagate": False},
        "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


def base_url(host: str, port: int) -> str:
    """The URL clients use, with IPv6 hosts bracketed."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _then(worker: Callable[..., Any], on_exit: Callable[[], None]) -> Callable[..., Any]:
    """granian's worker entry point, followed by `on_exit` in the worker once it has stopped."""

    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return worker(*args, **kwargs)
        finally:
            on_exit()

    return run


def serve(app: WSGIApp, host: str, port: int, threads: int = 4, access_log: bool = True,
          on_exit: Callable[[], None] | None = None) -> None:
    """Serve `app` until Ctrl-C or SIGTERM, after printing the base URL.

    `on_exit` runs in the worker process, where the app's state lives, after a clean stop.
    """
    server = Server(
        target="gamifyhost-mock",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=threads,
        log_level=LogLevels.warning,
        log_dictconfig=LOG_CONFIG,
        log_access=access_log,
        log_access_format=ACCESS_FORMAT,
    )
    print(f"gamifyhost-mock serving on {base_url(host, port)} (Ctrl-C to stop)", flush=True)
    worker = Server._spawn_wsgi_worker
    server.serve(spawn_target=_then(worker, on_exit) if on_exit else worker, target_loader=lambda _target: app)
    print("gamifyhost-mock stopped", flush=True)
