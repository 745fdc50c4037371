"""Running the mock on granian, a production WSGI server, with one log line per request.

Exactly one worker process holds the app: the store lives in memory, so a second worker
would hold a second, different store. Within that worker granian runs the app on a small
pool of threads. granian forks the worker, so the app built here is the one that serves.
"""
from __future__ import annotations

import gc
import os
import time
from typing import Any, Callable, Iterable

from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server import Server

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"generic": {"format": "[%(levelname)s] %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stderr"}},
    "loggers": {"_granian": {"handlers": ["console"], "propagate": False}},
}


class AccessLog:
    """WSGI middleware: `client METHOD PATH STATUS TIMEms` per request, on standard output.

    Each line goes straight to the file descriptor in one write: granian's own access log
    runs Python's logging machinery per request, which cost about a tenth of the throughput.
    """

    def __init__(self, app: WSGIApp, fd: int = 1) -> None:
        self._app = app
        self._fd = fd

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status = "-"

        def capture(code: str, headers: list, exc_info: Any = None) -> Callable:
            nonlocal status
            status = code[:3]
            return start_response(code, headers, exc_info)

        result = self._app(environ, capture)
        elapsed = (time.perf_counter() - started) * 1000
        line = (f"{environ.get('REMOTE_ADDR', '-')} {environ['REQUEST_METHOD']} "
                f"{environ.get('PATH_INFO', '')} {status} {elapsed:.1f}ms\n")
        os.write(self._fd, line.encode("utf-8", "replace"))
        return result


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


def serve(app: WSGIApp, host: str, port: int, threads: int = 1, access_log: bool = True,
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
    )
    served = AccessLog(app) if access_log else app
    # Everything built so far (the app, compiled schemas, preloaded profiles) lives as long as
    # the server: keep the cyclic garbage collector from scanning it again on every collection.
    gc.collect()
    gc.freeze()
    print(f"gamifyhost-mock serving on {base_url(host, port)} (Ctrl-C to stop)", flush=True)
    worker = Server._spawn_wsgi_worker
    server.serve(spawn_target=_then(worker, on_exit) if on_exit else worker, target_loader=lambda _target: served)
    print("gamifyhost-mock stopped", flush=True)
