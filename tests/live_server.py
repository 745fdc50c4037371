"""Starting the real `gamifyhost-mock` command on a free port, for tests that speak HTTP."""
from __future__ import annotations

import atexit
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Self  # typing.Self from Python 3.11


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A running mock process and its base URL, with what it prints read as it goes (a pipe that
    nobody reads fills at 64 KiB and then blocks the mock on its next log line)."""

    process: subprocess.Popen
    url: str
    _output: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._reader = threading.Thread(target=self._output.extend, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop it unless the block did: a failing test leaves no server behind."""
        if self.process.returncode is None:
            self.stop()

    def output(self) -> str:
        """What it has printed so far."""
        return "".join(self._output)

    def stop(self, timeout: float = 15) -> tuple[int, str]:
        """SIGTERM the server; return its exit code and everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.finish(timeout)

    def finish(self, timeout: float = 15) -> tuple[int, str]:
        """Wait for the server to end (killing it after `timeout`); its exit code and output."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self._reader.join(timeout)
        return self.process.returncode, self.output()


def launch(port: int, *args: str) -> subprocess.Popen:
    """Run `python -m mock_server serve --port PORT ARGS`, its output (both streams) piped as text."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_server", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    _launched.append(process)
    return process


_launched: list[subprocess.Popen] = []


@atexit.register
def _kill_leftovers() -> None:
    """A test that fails before it stops its mock leaves it running (one was found still serving an
    hour later); none outlives the test run."""
    for process in _launched:
        if process.poll() is None:
            process.kill()


PORT_TRIES = 3  # as mock_server.testing.start_mock: a port found free may be taken before the mock binds it


def start_server(*args: str, timeout: float = 30) -> LiveServer:
    """Run `python -m mock_server serve --port <free> ARGS` and wait until it says it is serving.

    Not until the port accepts: the mock listens before it builds its app (so that a taken port
    is found first), and a test that stopped it then would stop a mock still loading.
    """
    for attempt in range(PORT_TRIES):
        port = free_port()
        server = LiveServer(launch(port, *args), f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + timeout
        while "serving on" not in server.output():
            if server.process.poll() is not None:
                output = server.finish()[1]
                if "already in use" in output and attempt + 1 < PORT_TRIES:
                    break  # another process took the port between free_port() and the mock's bind
                raise RuntimeError(f"server exited early: {output}")
            if time.monotonic() > deadline:
                server.process.kill()
                raise RuntimeError(f"server did not start serving on {port} within {timeout}s: {server.finish()[1]}")
            time.sleep(0.02)
        else:
            return server
    raise AssertionError("unreachable: the last try returns or raises")


def _lower(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         raw: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    """One HTTP exchange with the standard library: (status, lower-cased headers, parsed JSON)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, _lower(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers), json.loads(error.read() or b"null")
