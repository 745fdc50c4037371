"""Compare WSGI servers for the mock: same app, same wrk load, one process each.

Run: python bench/wsgi_servers.py [--seconds 10]  (needs wrk, and waitress, gunicorn,
granian and cheroot installed). Prints req/s and p50/p99 per server, side by side.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from run import free_port, wrk  # this folder's benchmark: one wrk load and parser for both

HERE = Path(__file__).resolve().parent


def candidates(port: int, entry: str) -> dict[str, list[str]]:
    bind = f"127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    return {
        "waitress (8 threads)": [str(bindir / "waitress-serve"), f"--listen={bind}", "--threads=8", entry],
        "gunicorn gthread (1 worker, 8 threads)": [
            str(bindir / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "8", "-b", bind, entry],
        **{f"granian wsgi (1 worker, {n} thread{'s' * (n > 1)})": [
            str(bindir / "granian"), "--interface", "wsgi", "--workers", "1", "--blocking-threads", str(n),
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", entry] for n in (1, 8)},
        "cheroot (8 threads)": [str(bindir / "cheroot"), "--bind", bind, "--threads", "8", entry],
    }


def wait_listening(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--app", choices=["mock", "constant"], default="mock",
                        help="the mock, or a constant answer that shows each server's ceiling")
    args = parser.parse_args()
    entry = "wsgi_app:app" if args.app == "mock" else "wsgi_app:constant"
    print(f"{'server':42} {'req/s':>9} {'p50':>9} {'p99':>9}")
    for name in candidates(0, entry):
        port = free_port()
        cmd = candidates(port, entry)[name]
        proc = subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent)])})
        try:
            wait_listening(port)
            load = wrk(port, args.seconds)  # after its own warm-up
            print(f"{name:42} {load.rps:9.0f} {load.p50_ms:8.2f}ms {load.p99_ms:8.2f}ms", flush=True)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
