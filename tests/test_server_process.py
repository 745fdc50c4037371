"""The server process: a port it cannot have, a worker that never outlives it, its log formats."""
from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from mock_server.logs import JsonFormatter
from mock_server.server import _why

import live_server
from live_server import free_port, http, launch, start_server

TRACK = "/v1/user-journeys/users"
KEY = {"X-API-Key": "pk_test_process", "Content-Type": "application/json"}


def run_mock(*args: str, timeout: float = 60) -> tuple[int, str]:
    """Run the command to its end: (exit code, everything it printed). A mock that serves instead
    of exiting is killed with all its processes, so that a failing test leaves no server behind."""
    process = subprocess.Popen([sys.executable, "-m", "mock_server", "serve", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise AssertionError(f"the mock did not exit: {output}") from None
    return process.returncode, output


def in_use(port: int, host: str = "127.0.0.1") -> str:
    return f"Error: port {port} on {host} is already in use\n"


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_second_mock_on_the_port_is_refused_and_the_first_keeps_every_upsert():
    with start_server() as live:
        port = int(live.url.rsplit(":", 1)[1])
        assert run_mock("--port", str(port)) == (1, in_use(port))
        ids = {http("POST", live.url + TRACK, {"externalId": "one"}, KEY)[2]["data"]["id"] for _ in range(8)}
        assert len(ids) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
@pytest.mark.parametrize("reuse_port", [False, True], ids=["plain", "SO_REUSEPORT"])
def test_a_port_another_program_listens_on_is_refused(host, reuse_port):
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as holder:
        # A holder with SO_REUSEPORT is what a granian server, or an older mock, looks like.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, int(reuse_port))
        holder.bind((host, 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert run_mock("--host", host, "--port", str(port)) == (1, in_use(port, host))


def test_two_mocks_started_at_the_same_instant_one_refuses():
    port = free_port()
    both = [launch(port), launch(port)]
    try:
        assert wait_for(lambda: any(p.poll() is not None for p in both), 30)
        loser, winner = sorted(both, key=lambda p: p.poll() is None)
        assert (loser.returncode, loser.communicate()[0]) == (1, in_use(port))
        # Seen once, in a run sharing the machine with other test runs: the port stopped accepting.
        # Say why, should it happen again: the winner's own output if it exited.
        assert wait_for(lambda: _accepts(port) or winner.poll() is not None, 30)
        assert winner.poll() is None, winner.communicate()[0]
        assert _accepts(port)
        assert http("GET", f"http://127.0.0.1:{port}/")[0] == 404
        assert winner.poll() is None
    finally:
        for process in both:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.communicate(timeout=15)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_an_address_this_machine_lacks_is_a_one_line_error():
    port = free_port()
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to a real interface.
    assert run_mock("--host", "192.0.2.1", "--port", str(port)) == (
        1, "Error: cannot listen on 192.0.2.1: no such address on this machine\n")


def test_a_permission_error_names_the_first_port_anyone_may_use():
    """The message itself, also where the machine lets anyone listen anywhere (the test below skips there)."""
    first_free = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    refused = OSError(errno.EACCES, "Permission denied")
    assert _why(refused, "127.0.0.1", 80) == (
        f"no permission to listen on port 80 on 127.0.0.1 (ports below {first_free} need root)")


def test_a_privileged_port_without_privileges_is_a_one_line_error():
    first_free = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    if first_free == 0:
        pytest.skip("this machine lets anyone listen on any port")
    # Import everything while the files are readable, then drop root (if the tests run as root).
    script = ("import os, sys\n"
              "from mock_server.cli import main\n"
              "from mock_server import server\n"
              "if os.getuid() == 0:\n"
              "    os.setgid(65534); os.setuid(65534)\n"
              "main(['serve', '--port', sys.argv[1]], prog_name='gamifyhost-mock')\n")
    port = first_free - 1
    result = subprocess.run([sys.executable, "-c", script, str(port)], check=False, capture_output=True, text=True,
                            timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", f"Error: no permission to listen on port {port} on 127.0.0.1 (ports below {first_free} need root)\n")


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (a reparented zombie waits for a reaper that may never come)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_worker_dies_with_its_parent():
    live = start_server()
    port = int(live.url.rsplit(":", 1)[1])
    workers: list[int] = []
    try:
        # The port accepts connections (into its queue) as soon as the parent listens, before the fork.
        assert wait_for(lambda: len(_children(live.process.pid)) == 1, 10)
        workers = _children(live.process.pid)
        live.process.kill()
        live.process.wait(timeout=15)
        assert wait_for(lambda: not _running(workers[0]), 10)
        assert not _accepts(port)
    finally:
        live.process.kill()
        for pid in filter(_running, workers):
            os.kill(pid, signal.SIGKILL)
        live.finish()


def _parse_time(value: str) -> datetime:
    assert value.endswith("Z") and len(value) == len("2025-01-15T10:30:00.123Z")
    return datetime.fromisoformat(value[:-1] + "+00:00")


def test_json_log_format_writes_one_object_per_line():
    before = datetime.now().astimezone()
    with start_server("--log-format", "json") as live:
        http("POST", live.url + TRACK, {"externalId": "logged"}, KEY)
        http("POST", live.url + "/__mock/faults", {"type": "latency", "latencyMs": 1, "count": 1},
             {"Content-Type": "application/json"})
        code, output = live.stop()
    assert code == 0, output
    records = [json.loads(line) for line in output.splitlines()]
    for record in records:
        assert before <= _parse_time(record["time"]) <= datetime.now().astimezone()
    fields = [{k: v for k, v in r.items() if k not in ("time", "durationMs")} for r in records]
    assert fields == [
        {"level": "info", "message": f"gamifyhost-mock serving on {live.url} (Ctrl-C to stop)", "url": live.url},
        {"level": "info", "client": "127.0.0.1", "method": "POST", "path": TRACK, "status": 200},
        {"level": "warning", "message": "latency fault added on a server with one thread: other requests wait "
                                        "behind a delayed one; start with --threads 4 if clients call concurrently"},
        {"level": "info", "client": "127.0.0.1", "method": "POST", "path": "/__mock/faults", "status": 200},
        {"level": "info", "message": "gamifyhost-mock stopped"},
    ]
    assert all(isinstance(records[i]["durationMs"], float) and records[i]["durationMs"] >= 0 for i in (1, 3))


def test_a_json_log_record_carries_its_traceback():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("mock_server").makeRecord(
            "mock_server", logging.ERROR, __file__, 1, "unhandled %s", ("error",), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["message"]) == ("error", "unhandled error")
    assert line["error"].startswith("Traceback") and line["error"].endswith("ValueError: boom")
    assert _parse_time(line["time"]).timestamp() == pytest.approx(record.created, abs=0.001)


def test_text_log_format_is_the_default():
    with start_server() as live:
        http("POST", live.url + TRACK, {"externalId": "logged"}, KEY)
        code, output = live.stop()
    lines = output.splitlines()
    assert code == 0 and len(lines) == 3, output
    assert lines[0] == f"gamifyhost-mock serving on {live.url} (Ctrl-C to stop)"
    client, method, path, status, elapsed = lines[1].split(" ")
    assert (client, method, path, status) == ("127.0.0.1", "POST", TRACK, "200")
    assert elapsed.endswith("ms") and float(elapsed[:-2]) >= 0
    assert lines[2] == "gamifyhost-mock stopped"


def test_sighup_is_ignored_and_the_profiles_stay():
    """granian reloads its worker on SIGHUP, which started the mock afresh with nothing stored."""
    with start_server("--quiet") as live:
        assert http("POST", live.url + TRACK, {"externalId": "kept"}, KEY)[0] == 200
        workers = _children(live.process.pid)
        live.process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "SIGHUP ignored" in live.output(), 10)
        assert http("GET", live.url + "/__mock/profiles")[2]["meta"]["total"] == 1
        assert _children(live.process.pid) == workers


def test_ctrl_c_in_a_terminal_stops_the_mock():
    """A terminal sends SIGINT to the whole foreground process group: the parent must stop the worker."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mock_server", "serve", "--port", str(port), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        assert wait_for(lambda: _accepts(port) and len(_children(process.pid)) == 1, 30)
        assert http("POST", f"http://127.0.0.1:{port}{TRACK}", {"externalId": "ctrl-c"}, KEY)[0] == 200
        worker = _children(process.pid)[0]
        assert os.getpgid(worker) != os.getpgid(process.pid)  # Ctrl-C does not reach it directly
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, output
    assert output.rstrip().endswith("gamifyhost-mock stopped")
    assert wait_for(lambda: not _running(worker), 10)


def test_a_stop_right_after_start_always_stops_the_mock():
    """A SIGTERM that reached the worker before granian's own handlers was swallowed by the
    parent's handler it inherits: the worker never stopped (6 of 20 tries)."""
    for _ in range(10):
        with start_server("--quiet") as live:
            code, output = live.stop(timeout=20)
        assert code == 0, output
        assert output.rstrip().endswith("gamifyhost-mock stopped")


def test_the_tests_start_server_tries_another_port_when_its_port_is_taken_first(monkeypatch):
    """A port found free may be taken before the mock binds it (another test's process, in parallel runs)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1], free_port()])
        monkeypatch.setattr(live_server, "free_port", lambda: next(ports))
        server = start_server("--quiet")
        try:
            assert server.url != f"http://127.0.0.1:{taken.getsockname()[1]}"
            assert http("GET", server.url + "/__mock/clock")[0] == 200
        finally:
            server.stop()
