"""Crash safety of --state, measured: kill -9 the mock at random moments under a write load.

    python bench/kill_loop.py [--kills 20] [--writers 4] [--sync normal]

Each round starts `gamifyhost-mock serve --state FILE` (the same file every round), lets
writer threads write as fast as they can, and SIGKILLs the server and its worker at a
random moment 0.2-2 s in. A write counts as acknowledged only when its 200 arrived. After
the restart, every acknowledged write must be there: each writer creates new profiles
(`w<thread>-<n>`, all acknowledged ones must exist), rewrites one counter profile (its
stored value must be at least the last acknowledged one) and tracks batches of events for
two users of its own (every acknowledged event id must be in their timelines). Prints one
line per round and the totals. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADERS = {"X-API-Key": "pk_test_killloop", "Content-Type": "application/json"}
USERS, TRACK = "/v1/user-journeys/users", "/v1/user-journeys/track"
BATCH = 20  # events per POST /track, half of them backfilled


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(state: Path, port: int, sync: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_server", "serve", "--port", str(port), "--state", str(state),
         "--state-sync", sync, "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("the mock did not start")


class Writer(threading.Thread):
    """Upserts and tracks events until the server dies; remembers what was acknowledged."""

    def __init__(self, name: str, port: int, start_at: int) -> None:
        super().__init__(daemon=True)
        self.tag, self.port, self.n = name, port, start_at
        self.created: list[str] = []
        self.counter = -1  # last acknowledged value of this writer's counter profile
        self.event_users = [f"{name}-events-a", f"{name}-events-b"]
        self.events: set[str] = set()  # ids of the acknowledged events

    def post(self, connection: http.client.HTTPConnection, path: str, body: dict) -> dict | None:
        """The answer's data if it was 200, else None."""
        connection.request("POST", path, json.dumps(body), HEADERS)
        response = connection.getresponse()
        answer = response.read()
        return json.loads(answer)["data"] if response.status == 200 else None

    def batch(self) -> list[dict]:
        return [{"externalId": self.event_users[i % 2], "category": "GAME_PLAY", "eventType": "spin", "points": i,
                 **({"occurredAt": f"2025-01-{1 + (self.n + i) % 28:02d}T00:00:00Z"} if i % 2 else {})}
                for i in range(BATCH)]

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            while True:
                self.n += 1
                external_id = f"{self.tag}-{self.n}"
                if self.post(connection, USERS, {"externalId": external_id, "tags": {"n": str(self.n)}}):
                    self.created.append(external_id)
                if self.post(connection, USERS, {"externalId": f"{self.tag}-counter", "displayName": str(self.n)}):
                    self.counter = self.n
                tracked = self.post(connection, TRACK, {"events": self.batch()})
                if tracked:
                    self.events.update(event["id"] for event in tracked["events"])
        except (OSError, http.client.HTTPException):
            return  # the server was killed: whatever was not answered was never acknowledged


def stored(port: int) -> dict[str, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/__mock/export")
    document = json.loads(connection.getresponse().read())
    return {entry["profile"]["externalId"]: entry["profile"] for entry in document["profiles"]}


def stored_events(port: int, users: list[str]) -> set[str]:
    """The ids of every event in these users' timelines, read page by page."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    ids: set[str] = set()
    for user in users:
        page, pages = 1, 1
        while page <= pages:
            connection.request("GET", f"{USERS}/{user}/timeline?page={page}&limit=100", headers=HEADERS)
            response = connection.getresponse()
            answer = json.loads(response.read())
            if response.status == 404:  # not one of its events was stored
                break
            ids.update(event["id"] for event in answer["data"]["events"])
            page, pages = page + 1, answer["data"]["totalPages"]
    return ids


class Ledger:
    """What the writers were told was stored, and how much of it a restarted mock has lost."""

    def __init__(self) -> None:
        self.created: set[str] = set()
        self.counters: dict[str, int] = {}
        self.events: set[str] = set()
        self.event_users: list[str] = []
        self.lost_profiles = self.lost_events = 0

    def add(self, writer: Writer) -> None:
        self.created.update(writer.created)
        if writer.counter >= 0:
            self.counters[f"{writer.tag}-counter"] = writer.counter
        self.events |= writer.events
        self.event_users += writer.event_users

    def check(self, port: int) -> None:
        profiles = stored(port)
        lost = [e for e in self.created if e not in profiles]
        lost += [name for name, value in self.counters.items() if int(profiles[name]["displayName"]) < value]
        lost_events = len(self.events - stored_events(port, self.event_users))
        self.lost_profiles += len(lost)
        self.lost_events += lost_events
        print(f"  after restart: {len(profiles):,} profiles stored, {len(lost)} acknowledged profile writes and "
              f"{lost_events} acknowledged events lost", flush=True)


def kill_all(process: subprocess.Popen) -> None:
    """SIGKILL the server and its worker (which has a process group of its own), as the OOM killer
    would: nothing gets to finish an answer or close the database."""
    worker = [int(pid) for pid in
              subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()]
    for pid in [process.pid, *worker]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    # The worker holds the state file's lock until it has died; the next mock would be refused.
    while any(_alive(pid) for pid in worker):
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    """Whether the process still runs (a zombie has already let go of its files)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--sync", choices=["normal", "full"], default="normal")
    parser.add_argument("--seed", type=int, default=None, help="seed for the kill moments")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    state = Path(tempfile.mkdtemp()) / "kill-loop.db"
    ledger = Ledger()
    for round_number in range(1, args.kills + 1):
        port = free_port()
        process = start(state, port, args.sync)
        if round_number > 1:  # check what the previous round's writers were told was stored
            ledger.check(port)
        writers = [Writer(f"r{round_number}w{i}", port, 0) for i in range(args.writers)]
        for writer in writers:
            writer.start()
        moment = rng.uniform(0.2, 2.0)
        time.sleep(moment)
        kill_all(process)
        for writer in writers:
            writer.join()
            ledger.add(writer)
        writes = sum(len(w.created) + max(w.counter, 0) for w in writers)
        events = sum(len(w.events) for w in writers)
        print(f"round {round_number}/{args.kills}: killed after {moment:.2f}s, {writes:,} profile writes and "
              f"{events:,} events acknowledged", flush=True)
    port = free_port()
    process = start(state, port, args.sync)
    try:
        ledger.check(port)
    finally:
        kill_all(process)
    print(f"\n{args.kills} kill -9s under load (--state-sync {args.sync}): {len(ledger.created):,} profiles "
          f"created, {len(ledger.counters)} counters and {len(ledger.events):,} events acknowledged; acknowledged "
          f"writes lost: {ledger.lost_profiles} profile writes, {ledger.lost_events} events")
    sys.exit(1 if ledger.lost_profiles or ledger.lost_events else 0)


if __name__ == "__main__":
    main()
