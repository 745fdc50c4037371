"""Seeding fixtures into running servers, as a QA engineer would."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mock_server.fixtures import read_documents

from live_server import free_port, http, start_server

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
KEYS = ROOT / "examples" / "keys.yaml"
SHIPPED = sum(len(doc["profiles"]) for _, doc in read_documents([FIXTURES]))


def seed(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mock_server", "seed", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def target():
    server = start_server("--quiet")
    yield server
    server.stop()


def test_seed_creates_then_updates_every_fixture(target):
    run = seed("--base-url", target.url, "--concurrency", "8", str(FIXTURES))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"seeded {target.url}: {SHIPPED} created, 0 updated, 0 failed, 0 skipped"
    profiles = http("GET", target.url + "/__mock/profiles?limit=100")[2]
    assert profiles["meta"]["total"] == SHIPPED
    # A second run a day later (on the mock's clock) updates the same profiles.
    http("POST", target.url + "/__mock/clock", {"action": "advance", "seconds": 86400},
         {"Content-Type": "application/json"})
    again = seed("--base-url", target.url, "--progress", str(FIXTURES))
    assert again.returncode == 0
    assert f"0 created, {SHIPPED} updated, 0 failed" in again.stdout
    assert "seeding" in again.stderr and "100%" in again.stderr  # the progress bar
    assert http("GET", target.url + "/__mock/profiles?limit=1")[2]["meta"]["total"] == SHIPPED


def test_seed_retries_server_errors(target):
    http("POST", target.url + "/__mock/faults", {"type": "error", "count": 3}, {"Content-Type": "application/json"})
    fixture = FIXTURES / "edge-cases.yaml"
    run = seed("--base-url", target.url, "--concurrency", "1", str(fixture))
    assert run.returncode == 0, run.stderr
    statuses = [e["status"] for e in http("GET", target.url + "/__mock/requests?limit=1000")[2]["data"]]
    assert statuses.count(500) == 3 and statuses.count(200) == len(read_documents([fixture])[0][1]["profiles"])


def test_seed_reports_failures_and_exits_non_zero():
    server = start_server("--quiet", "--keys", str(KEYS))
    try:
        run = seed("--base-url", server.url, str(FIXTURES), str(ROOT / "tests" / "seed-refused.yaml"))
    finally:
        server.stop()
    assert run.returncode == 1
    assert f"{SHIPPED} created, 0 updated, 2 failed" in run.stdout
    assert "seed-refused.yaml: entry 1 (externalId 'revoked-1'): 403 API key has been revoked" in run.stderr
    assert "seed-refused.yaml: entry 2 (externalId 'unknown-1'): 401 Invalid API key" in run.stderr


def test_seed_says_in_one_line_that_nothing_listens_there():
    """No retries, no urllib3 warnings, no line per entry: the first refused connection ends the run."""
    url = f"http://127.0.0.1:{free_port()}"
    run = seed("--base-url", url, str(FIXTURES / "edge-cases.yaml"))
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"Error: cannot reach {url} (Connection refused); nothing was sent\n"


def test_seed_stops_at_once_when_the_url_is_not_the_api_root(target):
    run = seed("--base-url", target.url + "/api", str(FIXTURES))
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == (f"Error: {target.url}/api/v1/user-journeys/users answered 404: is {target.url}/api "
                          "the API's root URL (without /v1/user-journeys/users)? Nothing was stored\n")
    assert http("GET", target.url + "/__mock/profiles")[2]["meta"]["total"] == 0


@pytest.mark.parametrize("command", ["seed", "contract"])
@pytest.mark.parametrize("url", ["127.0.0.1:4011", "ftp://127.0.0.1", "http://"])
def test_a_base_url_without_http_is_a_usage_error(command, url):
    extra = [str(FIXTURES)] if command == "seed" else ["--api-key", "pk_test_x"]
    run = subprocess.run([sys.executable, "-m", "mock_server", command, "--base-url", url, *extra],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert (f"Invalid value for '--base-url': {url!r} is not an http:// or https:// URL "
            "(e.g. http://127.0.0.1:4010)") in run.stderr


def test_seed_with_a_key_per_environment(target):
    run = seed("--base-url", target.url, "--api-key", "pk_test_staging_qa", str(FIXTURES))
    live = sum(p["apiKey"].startswith("pk_live_") for _, d in read_documents([FIXTURES]) for p in d["profiles"])
    assert run.returncode == 0
    assert f"0 failed, {live} skipped" in run.stdout
    environments = {p["environment"] for p in http("GET", target.url + "/__mock/profiles?limit=100")[2]["data"]}
    assert environments == {"TEST"}


@pytest.mark.parametrize("args, complaint", [
    (["--base-url", "https://staging.example.com", str(FIXTURES)], "refusing to write with a pk_live_ key"),
    (["--base-url", "http://127.0.0.1:9", "--api-key", "sk_test_x", str(FIXTURES)], "is not a pk_test_/pk_live_ key"),
    (["--base-url", "http://127.0.0.1:9", "--api-key", "pk_test_a", "--api-key", "pk_test_b", str(FIXTURES)],
     "at most one key per environment"),
    (["--base-url", "http://127.0.0.1:9", str(ROOT / "tests" / "seed-broken.yaml")],
     "seed-broken.yaml: entry 1 (externalId 'broken'): profile.country must be one of 249 values: an assigned "
     "ISO 3166-1 alpha-2 code, upper case\n"
     f"{ROOT / 'tests' / 'seed-broken.yaml'}: entry 2 (externalId 'also-broken'): profile.device must be one of: "
     "mobile, desktop, tablet"),
])
def test_seed_refuses_before_sending_anything(args, complaint):
    run = seed(*args, timeout=60)
    assert run.returncode in (1, 2)
    assert complaint in run.stdout + run.stderr
    assert "created" not in run.stdout


def test_with_threads_a_delayed_request_does_not_hold_up_others():
    """With a thread pool (--threads 4), a latency fault delays only the request it strikes."""
    import threading

    server = start_server("--quiet", "--threads", "4")
    try:
        http("POST", server.url + "/__mock/faults", {"type": "latency", "latencyMs": 3000, "count": 1},
             {"Content-Type": "application/json"})
        headers = {"X-API-Key": "pk_test_latency", "Content-Type": "application/json"}
        slow = threading.Thread(target=http, args=("POST", server.url + "/v1/user-journeys/users",
                                                   {"externalId": "slow"}, headers))
        slow.start()
        deadline = time.monotonic() + 30
        while http("GET", server.url + "/__mock/faults")[2]["data"] != []:
            assert time.monotonic() < deadline, "the slow request never took the fault"
        # The slow request has taken the fault and is now waiting.
        status, _, _ = http("POST", server.url + "/v1/user-journeys/users", {"externalId": "quick"}, headers)
        quick_done_first = slow.is_alive()
        slow.join()
    finally:
        server.stop()
    assert status == 200 and quick_done_first


def test_a_latency_fault_on_one_thread_warns():
    server = start_server("--quiet")
    http("POST", server.url + "/__mock/faults", {"type": "latency", "latencyMs": 5, "count": 1},
         {"Content-Type": "application/json"})
    _, output = server.stop()
    assert "latency fault added on a server with one thread" in output
    assert "--threads 4" in output
