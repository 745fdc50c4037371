"""Running the mock on granian, a production WSGI server, with one log line per request.

Exactly one worker process holds the app: the store lives in memory, so a second worker
would hold a second, different store. Within that worker granian runs the app on a small
pool of threads. granian forks the worker, so the app built here is the one that serves.

The port is bound here, not by granian: granian binds with SO_REUSEPORT, which let a second
mock on the same port start and take half of the connections. Bound without it, a port that
anything else listens on is an error before the mock says it is serving.
"""
from __future__ import annotations

import ctypes
import errno
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from granian._granian import SocketHolder
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server.mp import MPServer

from .logs import ACCESS_LINES, LOG_FORMATS, announce, logging_config

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

BACKLOG = 1024  # granian's default
# A body the app did not read is read and dropped in chunks of DRAIN_CHUNK bytes, up to
# DRAIN_CHUNKS of them: 64 MiB, which took the worker 35 ms over loopback. Checking a body that
# was read to its end costs one read of 0.13 µs.
DRAIN_CHUNK = 64 * 1024
DRAIN_CHUNKS = 1024
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Seconds the worker gets to finish its answers once asked to stop; then it is killed. A stop that
# reaches granian's worker while it sets itself up is lost (its signal event is set before anything
# waits on it): the worker served on and the parent waited for it forever, in about 1 of 60 quick
# start-stops on a loaded machine (tests/test_server_process.py).
WORKER_STOP_TIMEOUT = 5
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class ListenError(Exception):
    """The address or port cannot be listened on; the message says why, in one line."""


class AccessLog:
    """WSGI middleware: one line per request on standard output, in the chosen log format.

    Each line goes straight to the file descriptor in one write: granian's own access log
    runs Python's logging machinery per request, which cost about a tenth of the throughput.
    """

    def __init__(self, app: WSGIApp, log_format: str = LOG_FORMATS[0], fd: int = 1) -> None:
        self._app = app
        self._line = ACCESS_LINES[log_format]
        self._fd = fd

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status = "-"

        def capture(code: str, headers: list, exc_info: Any = None) -> Callable:
            nonlocal status
            status = code[:3]
            return start_response(code, headers, exc_info)

        result = self._app(environ, capture)
        line = self._line(environ.get("REMOTE_ADDR", "-"), environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                          status, (time.perf_counter() - started) * 1000)
        os.write(self._fd, line.encode("utf-8", "replace"))
        return result


def _drain(environ: dict) -> bool:
    """Read and drop what is left of the request body, up to the bound; whether it all came."""
    if environ.get("CONTENT_LENGTH", "") in ("", "0") and "HTTP_TRANSFER_ENCODING" not in environ:
        return True
    body = environ["wsgi.input"]
    return any(not body.read(DRAIN_CHUNK) for _ in range(DRAIN_CHUNKS))


class FinishBody:
    """WSGI middleware: read the rest of each request body before answering.

    An answer given without reading the body (a 413, a 401 before the body is looked at) made
    granian close the connection with the body unread: a client still sending got EPIPE or a
    reset instead of the answer, and a keep-alive client lost its next request (Node's agent:
    15 to 20 of 20). A body drained to its end leaves the connection usable; one longer than
    the bound is cut off, and the answer then says `Connection: close`.
    """

    def __init__(self, app: WSGIApp) -> None:
        self._app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        def finish(status: str, headers: list, exc_info: Any = None) -> Callable:
            if not _drain(environ):
                headers = [*headers, ("Connection", "close")]
            return start_response(status, headers, exc_info)

        return self._app(environ, finish)


def base_url(host: str, port: int) -> str:
    """The URL clients use, with IPv6 hosts bracketed."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _why(exc: OSError, host: str, port: int) -> str:
    """The one line that says why host:port could not be listened on."""
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use"
    if exc.errno == errno.EACCES:
        try:
            with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as limit:
                first_free = int(limit.read())
        except OSError:
            first_free = 1024
        return f"no permission to listen on port {port} on {host} (ports below {first_free} need root)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: no such address on this machine"
    return f"cannot listen on {host} port {port}: {exc.strerror or exc}"


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, without SO_REUSEPORT, so that nothing else can share it.

    SO_REUSEADDR only lets it bind while connections of an earlier server linger in TIME_WAIT.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: answers are not held back waiting for the client's ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ListenError(_why(exc, host, port)) from None
    return sock


class _Server(MPServer):
    """granian's process server, serving on a socket bound by `listen` instead of its own."""

    def __init__(self, listener: socket.socket, **options: Any) -> None:
        super().__init__(**options)
        self._listener = listener

    def _init_shared_socket(self) -> None:
        # What granian does on platforms where the parent binds: the worker serves this socket.
        # granian closes `_sso` at shutdown. (granian leaves these attributes untyped, and its
        # stub lacks SocketHolder's Linux signature, (fd, uds, backlog).)
        self._ssp = None
        self._sfd = self._listener.fileno()  # type: ignore[assignment]
        self._shd = SocketHolder(self._sfd, False, BACKLOG)  # type: ignore[call-arg,assignment]
        self._sso = self._listener

    def _spawn_workers(self, spawn_target: Any, target_loader: Any) -> None:
        # The worker inherits the parent's stop handler, which in the worker only sets a flag no
        # one reads: a SIGTERM arriving before granian's own worker handlers was swallowed, and
        # the worker never stopped (6 of 20 quick start-stops). The stop signals stay blocked
        # across the fork; the worker restores their default action before unblocking them.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            super()._spawn_workers(spawn_target, target_loader)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def signal_handler_reload(self, *args: Any, **kwargs: Any) -> None:
        """SIGHUP: granian would start a new worker from the state at start-up, and every profile
        held in memory since would be gone (and with --state, two workers would share the file)."""
        logging.getLogger("_granian").warning(
            "SIGHUP ignored: reloading would lose what the mock holds in memory; restart it instead")


def _dies_with(parent: int) -> bool:
    """Ask Linux to SIGTERM this process when `parent` dies; whether `parent` is still alive.

    SIGTERM, not SIGKILL: the worker stops as on Ctrl-C, finishing the answers in progress.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # A parent that died before the request above left this process to init: no signal will come.
    return os.getppid() == parent


def _worker(target: Callable[..., Any], parent: int, on_exit: Callable[[], None] | None) -> Callable[..., Any]:
    """granian's worker entry point, bound to the life of `parent`, followed by `on_exit` once it has stopped."""

    def run(*args: Any, **kwargs: Any) -> Any:
        for stop in STOP_SIGNALS:  # until granian sets its own: a stop now ends the worker at once
            signal.signal(stop, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if sys.platform == "linux" and not _dies_with(parent):
            return None
        # Out of the terminal's process group: Ctrl-C reaches the parent alone, which then stops
        # the worker. When both got SIGINT at once, granian's worker missed the parent's stop in
        # 8 of 10 tries on a loaded machine, and the mock kept serving.
        os.setpgid(0, 0)
        try:
            return target(*args, **kwargs)
        finally:
            if on_exit:
                on_exit()

    return run


def serve(app: Flask, host: str, port: int, threads: int = 1, access_log: bool = True,
          on_exit: Callable[[], None] | None = None, log_format: str = LOG_FORMATS[0],
          listener: socket.socket | None = None) -> None:
    """Serve `app` until Ctrl-C or SIGTERM, after printing the base URL.

    `listener` is the socket from `listen(host, port)`; without it, it is opened here (and
    ListenError raised, before printing anything, if it cannot be). `on_exit` runs in the
    worker process, where the app's state lives, after it stops.
    """
    listener = listener or listen(host, port)
    server = _Server(
        listener,
        target="gamifyhost-mock",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=threads,
        log_level=LogLevels.warning,
        log_dictconfig=logging_config(log_format, app.name),
        workers_kill_timeout=WORKER_STOP_TIMEOUT,
    )
    served = FinishBody(AccessLog(app, log_format) if access_log else app)
    # Everything built so far (the app, compiled schemas, preloaded profiles) lives as long as
    # the server: keep the cyclic garbage collector from scanning it again on every collection.
    gc.collect()
    gc.freeze()
    url = base_url(host, port)
    announce(log_format, f"gamifyhost-mock serving on {url} (Ctrl-C to stop)", url=url)
    worker = _worker(MPServer._spawn_wsgi_worker, os.getpid(), on_exit)
    try:
        server.serve(spawn_target=worker, target_loader=lambda _target: served)
    finally:  # also when a stop came before granian's own handler (the CLI's exits at once)
        listener.close()
        announce(log_format, "gamifyhost-mock stopped")
