"""Seeding fixtures into running servers, as a QA engineer would."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from fixture_personas import ACME_TEST_KEY, PERSONAS

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


def user(target, external_id: str, key: str = "pk_test_qa") -> dict:
    status, _, body = http("GET", f"{target.url}/v1/user-journeys/users/{external_id}", headers={"X-API-Key": key})
    assert status == 200, body
    return body["data"]


def timeline(target, external_id: str, key: str = "pk_test_qa") -> list[dict]:
    """The user's first 100 events, newest first."""
    url = f"{target.url}/v1/user-journeys/users/{external_id}/timeline?limit=100"
    return http("GET", url, headers={"X-API-Key": key})[2]["data"]["events"]


def seconds(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())


EVENTS_FIXTURE = {"profiles": [
    # Upserted (it has fields), then 120 plays an hour apart: two batches.
    {"apiKey": "pk_test_qa", "profile": {"externalId": "busy", "displayName": "Busy"},
     "events": [{"category": "GAME_PLAY", "eventType": "spin", "points": n % 3, "ago": f"{n}h",
                 "metadata": {"n": n}} for n in range(120, 0, -1)]},
    # Only an externalId: created by its events, so seen when they happened, not at seed time.
    {"apiKey": "pk_test_qa", "profile": {"externalId": "drifting"},
     "id": "9b2e4c1a-3d5f-4a6b-8c7d-0e1f2a3b4c5d", "firstSeenAt": "2020-01-01T00:00:00Z",
     "events": [{"id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "category": "CAMPAIGN", "eventType": "joined",
                 "ago": "25d", "metadata": {"campaignSlug": "summer"}},
                {"category": "GAME_PLAY", "eventType": "spin", "points": 10, "ago": "20d"}]},
    {"apiKey": "pk_test_qa", "profile": {"externalId": "gone"},
     "events": [{"category": "GAME_PLAY", "eventType": "spin", "occurredAt": "2024-02-29T12:00:00Z"}]},
]}


def test_seed_sends_events_in_batches_after_the_profile_with_times_made_absolute(target, tmp_path):
    fixture = tmp_path / "events.yaml"
    fixture.write_text(yaml.safe_dump(EVENTS_FIXTURE), encoding="utf-8")
    run = seed("--base-url", target.url, "--concurrency", "1", str(fixture))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"seeded {target.url}: 3 created, 0 updated, 0 failed, 0 skipped"
    journal = http("GET", target.url + "/__mock/requests?limit=1000")[2]["data"][::-1]
    assert [(r["method"], r["path"], r["status"], len(r["body"]["events"]) if r["path"].endswith("/track") else None)
            for r in journal] == [
        ("POST", "/v1/user-journeys/users", 200, None),
        ("POST", "/v1/user-journeys/track", 200, 100), ("POST", "/v1/user-journeys/track", 200, 20),
        ("GET", "/v1/user-journeys/users/drifting", 404, None), ("POST", "/v1/user-journeys/track", 200, 2),
        ("GET", "/v1/user-journeys/users/gone", 404, None), ("POST", "/v1/user-journeys/track", 200, 1)]
    # Every `ago` counted back from one instant: the plays are exactly an hour apart, in order.
    busy = timeline(target, "busy")
    assert [e["metadata"]["n"] for e in busy] == list(range(1, 101))
    gaps = {seconds(newer["occurredAt"]) - seconds(older["occurredAt"]) for newer, older in zip(busy, busy[1:],
                                                                                                    strict=False)}
    assert gaps == {3600}
    assert user(target, "busy")["totalPlays"] == 120
    # Ids and seen times are the mock's own: the public API gets neither.
    drifting = user(target, "drifting")
    joined, spin = timeline(target, "drifting")[::-1]
    given = EVENTS_FIXTURE["profiles"][1]
    assert drifting["id"] != given["id"] and joined["id"] != given["events"][0]["id"]
    assert seconds(spin["occurredAt"]) - seconds(joined["occurredAt"]) == 5 * 86400
    assert (drifting["firstSeenAt"], drifting["lastSeenAt"]) == (joined["occurredAt"], spin["occurredAt"])
    assert (drifting["lifecycleStage"], drifting["campaignsJoined"]) == ("at_risk", 1)
    gone = user(target, "gone")
    assert (gone["lastSeenAt"], gone["lifecycleStage"]) == ("2024-02-29T12:00:00Z", "churned")
    # Seeding again updates the profiles and adds the events once more: events are not upserts.
    again = seed("--base-url", target.url, str(fixture))
    assert "0 created, 3 updated, 0 failed" in again.stdout
    assert user(target, "busy")["totalEvents"] == 240


def test_seeded_personas_show_their_stage_and_tier_on_a_server_in_real_time(target):
    run = seed("--base-url", target.url, str(FIXTURES / "journeys.yaml"))
    assert run.returncode == 0, run.stderr
    shown = {name: (user(target, name, ACME_TEST_KEY)["lifecycleStage"],
                    user(target, name, ACME_TEST_KEY)["engagementTier"]) for name in PERSONAS}
    assert shown == PERSONAS


def test_a_refused_batch_fails_its_entry_and_the_run_goes_on(target, tmp_path):
    """The fixture is valid; the server refuses it (here: a fault on trackEvents)."""
    http("POST", target.url + "/__mock/faults", {"operationId": "trackEvents", "type": "error", "count": 4},
         {"Content-Type": "application/json"})
    fixture = tmp_path / "two.yaml"
    fixture.write_text(yaml.safe_dump({"profiles": [
        {"apiKey": "pk_test_qa", "profile": {"externalId": "first", "country": "NG"},
         "events": [{"category": "CUSTOM", "eventType": "x"}]},
        {"apiKey": "pk_test_qa", "profile": {"externalId": "second"}}]}), encoding="utf-8")
    run = seed("--base-url", target.url, "--retries", "3", "--concurrency", "1", str(fixture))
    assert run.returncode == 1
    assert run.stdout.strip() == f"seeded {target.url}: 1 created, 0 updated, 1 failed, 0 skipped"
    assert run.stderr.strip().endswith("entry 1 (externalId 'first'): events 1-1: 500 Failed to track events")


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
                          "the API's root URL (without /v1/user-journeys)? Nothing was stored\n")
    assert http("GET", target.url + "/__mock/profiles")[2]["meta"]["total"] == 0


def test_seed_stops_at_once_when_the_first_entry_is_created_by_its_events_at_a_wrong_url(target):
    """Its look-up answers 404 either way; the 404 of its first batch tells."""
    run = seed("--base-url", target.url + "/api", str(FIXTURES / "journeys.yaml"))
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == (f"Error: {target.url}/api/v1/user-journeys/track answered 404: is {target.url}/api "
                          "the API's root URL (without /v1/user-journeys)? Nothing was stored\n")


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
