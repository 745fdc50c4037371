"""The README's QA walkthrough, end to end, over HTTP with two real mocks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mock_server.fixtures import read_documents

from conformance import assert_conforms
from live_server import http, start_server

ROOT = Path(__file__).resolve().parent.parent
JSON = {"Content-Type": "application/json"}


def test_fixtures_export_reimport_seed_and_injected_failure():
    shipped = sum(len(doc["profiles"]) for _, doc in read_documents([ROOT / "fixtures"]))
    primary = start_server("--fixtures", str(ROOT / "fixtures"), "--keys", str(ROOT / "examples" / "keys.yaml"))
    secondary = start_server("--quiet")
    try:
        # 1. The fixtures are there.
        status, headers, page = http("GET", primary.url + "/__mock/profiles?limit=100")
        assert_conforms("GET", "/__mock/profiles", status, headers["content-type"], page)
        assert page["meta"]["total"] == shipped

        # 2. Export, re-import into the other mock, export again: unchanged.
        exported = http("GET", primary.url + "/__mock/export")[2]
        status, _, loaded = http("POST", secondary.url + "/__mock/fixtures", exported, JSON)
        assert (status, loaded["data"]) == (200, {"created": shipped, "updated": 0})
        assert http("GET", secondary.url + "/__mock/export")[2] == exported

        # 3. Seed the fixtures into the other mock through its public API (upserts: all updates).
        http("POST", secondary.url + "/__mock/clock", {"action": "advance", "seconds": 60}, JSON)
        run = subprocess.run([sys.executable, "-m", "mock_server", "seed", "--base-url", secondary.url,
                              str(ROOT / "fixtures")], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert f"0 created, {shipped} updated, 0 failed" in run.stdout

        # 4. The next track call fails with the documented 500; the one after succeeds.
        http("POST", primary.url + "/__mock/faults", {"type": "error", "count": 1}, JSON)
        call = ("POST", primary.url + "/v1/user-journeys/users", {"externalId": "qa-1"},
                {**JSON, "X-API-Key": "pk_test_globex"})
        status, headers, failed = http(*call)
        assert_conforms("POST", "/v1/user-journeys/users", status, headers["content-type"], failed)
        assert (status, failed) == (500, {"status": "error", "code": 500, "message": "Failed to track user"})
        assert http(*call)[0] == 200
    finally:
        primary.stop()
        secondary.stop()
