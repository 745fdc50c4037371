"""The benchmark: the mock against Prism and a bare-Flask ceiling, under the same load, in one run.

    python bench/run.py [--seconds 10] [--profiles 1000000] [--threads 4]

Needs wrk (Debian package `wrk`) and npm; installs Prism (@stoplight/prism-cli) into
bench/.cache on first use. Every server gets the same wrk load: 16 connections POSTing
upserts over 1,000 overlapping externalIds (bench/upsert.lua), after a warm-up. The mock,
the mock with --state (SQLite), Prism, a bare-Flask ceiling and the mock with 1,000,000
profiles stored all run at once and
are loaded in rotating order for several rounds; medians of req/s, p50 and p99 are printed
side by side, with memory per stored profile, cold start to the first 200 and each target
as a ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
PRISM = CACHE / "node_modules" / ".bin" / "prism"
UPSERT = json.dumps({"externalId": "cold-start", "displayName": "Cold Start"}).encode()


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_ok(port: int) -> bool:
    """True once POST /v1/user-journeys/users answers 200."""
    request = (b"POST /v1/user-journeys/users HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
               b"X-API-Key: pk_test_bench\r\nContent-Type: application/json\r\nContent-Length: "
               + str(len(UPSERT)).encode() + b"\r\n\r\n" + UPSERT)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(request)
            return sock.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start(command: list[str], port: int, timeout: float = 120) -> tuple[subprocess.Popen, float]:
    """Start a server; return it and the seconds until its first 200."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:  # the server keeps its own descriptor of it
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, cwd=ROOT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT)})
        while not post_ok(port):
            if process.poll() is not None:
                errors.seek(0)
                raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n"
                                   f"{errors.read().decode(errors='replace')[-2000:]}")
            if time.perf_counter() - started > timeout:
                process.kill()
                raise RuntimeError(f"{' '.join(command)} gave no 200 within {timeout}s")
            time.sleep(0.005)
    return process, time.perf_counter() - started


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def grab(pattern: str, text: str) -> str:
    """The first group of `pattern` in wrk's output (multi-line), or an error quoting the output."""
    found = re.search(pattern, text, re.M)
    if found is None:
        raise RuntimeError(f"no {pattern!r} in wrk's output:\n{text}")
    return found.group(1)


def to_ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if found is None:
        raise RuntimeError(f"{text!r} is not a wrk latency")
    return float(found.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[found.group(2)]


def wrk(port: int, seconds: int) -> Load:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s", str(HERE / "upsert.lua"),
               f"http://127.0.0.1:{port}"]
    subprocess.run(command[:3] + ["-d2s"] + command[4:], capture_output=True, check=True)  # warm-up
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{bad.group(1)} requests were not answered 200:\n{out}")
    return Load(float(grab(r"Requests/sec:\s+([\d.]+)", out)), to_ms(grab(r"^\s+50%\s+(\S+)", out)),
                to_ms(grab(r"^\s+99%\s+(\S+)", out)))


def ensure_prism() -> None:
    if not PRISM.exists():
        print("installing @stoplight/prism-cli into bench/.cache ...", flush=True)
        CACHE.mkdir(exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CACHE),
                        "@stoplight/prism-cli@5"], check=True, capture_output=True)


STATE_FILE = Path(tempfile.mkdtemp()) / "bench-state.db"


def commands(port: int, threads: int) -> dict[str, list[str]]:
    mock = [sys.executable, "-m", "mock_server", "serve", "--port", str(port), "--threads", str(threads)]
    return {
        "gamifyhost-mock": mock,
        "gamifyhost-mock --state": [*mock, "--state", str(STATE_FILE)],
        "prism": [str(PRISM), "mock", str(ROOT / "openapi.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        "bare flask (ceiling)": [sys.executable, str(HERE / "ceiling.py"), str(port), str(threads)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured wrk run")
    parser.add_argument("--profiles", type=int, default=1_000_000, help="profiles stored for the big-store run")
    parser.add_argument("--threads", type=int, default=1, help="the mock's --threads (its default is 1)")
    parser.add_argument("--cold-starts", type=int, default=3, help="cold starts per server (median shown)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk rounds over all servers (medians shown)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    ensure_prism()

    # All five servers run at once; each wrk round loads them one after another, in an order
    # that rotates, and the medians are reported: on a shared machine a single 10 s run varies
    # by well over the margins the targets ask about.
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        for name in commands(0, args.threads):
            port = free_port()
            servers[name] = start(commands(port, args.threads)[name], port)[0], port
        port = free_port()
        preload = [sys.executable, str(HERE / "preloaded.py"), str(port), str(args.threads), str(args.profiles)]
        started = time.perf_counter()
        process = subprocess.Popen(preload, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert process.stdout is not None
        per_profile = float(process.stdout.readline().split()[1])
        # Keep reading its request log: a full pipe would block the server's writes.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        while not post_ok(port):
            time.sleep(0.05)
        fill = time.perf_counter() - started
        big_name = f"mock, {args.profiles:,} stored"
        servers[big_name] = process, port
        print(f"{args.profiles:,} profiles stored in {fill:.0f}s, {per_profile:.0f} bytes each", flush=True)

        runs: dict[str, list[Load]] = {name: [] for name in servers}
        names = list(servers)
        for round_number in range(args.rounds):
            order = names[round_number % len(names):] + names[:round_number % len(names)]
            for name in order:
                runs[name].append(wrk(servers[name][1], args.seconds))
            print(f"round {round_number + 1}/{args.rounds}: "
                  + ", ".join(f"{n} {runs[n][-1].rps:.0f}" for n in names), flush=True)
    finally:
        for process, _ in servers.values():
            stop(process)

    loads = {name: Load(statistics.median(r.rps for r in results), statistics.median(r.p50_ms for r in results),
                        statistics.median(r.p99_ms for r in results)) for name, results in runs.items()}
    print(f"\n{'server (median of ' + str(args.rounds) + ' rounds)':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, load in loads.items():
        print(f"{name:34} {load.rps:9.0f} {load.p50_ms:8.2f} {load.p99_ms:8.2f}")
    big = loads[big_name]

    cold: dict[str, float] = {}
    for name in ("gamifyhost-mock", "gamifyhost-mock --state", "prism"):
        times = []
        for _ in range(args.cold_starts):
            port = free_port()
            process, seconds = start(commands(port, args.threads)[name], port)
            stop(process)
            times.append(seconds)
        cold[name] = statistics.median(times)
        print(f"cold start to first 200, {name}: {cold[name]:.2f}s (median of {args.cold_starts})", flush=True)

    mock, prism = loads["gamifyhost-mock"], loads["prism"]
    targets = [
        ("throughput vs Prism", mock.rps / prism.rps, ">=", 2.0),
        ("p99 vs Prism", mock.p99_ms / prism.p99_ms, "<=", 1.0),
        ("throughput with the big store vs empty", big.rps / mock.rps, ">=", 0.9),
        ("throughput with --state vs in memory", loads["gamifyhost-mock --state"].rps / mock.rps, ">=", 0.8),
        ("bytes per stored profile / 1024", per_profile / 1024, "<=", 1.0),
        ("cold start vs Prism", cold["gamifyhost-mock"] / cold["prism"], "<=", 0.5),
        ("throughput vs bare-Flask ceiling (info)", mock.rps / loads["bare flask (ceiling)"].rps, "", 0),
    ]
    print("\ntargets")
    for label, ratio, op, goal in targets:
        met = "" if not op else ("met" if (ratio >= goal if op == ">=" else ratio <= goal) else "MISSED")
        print(f"  {label:42} {ratio:6.2f}  {op} {goal if op else '':<4} {met}")


if __name__ == "__main__":
    main()
