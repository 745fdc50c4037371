"""The real command, on its production server, spoken to over HTTP."""
from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mock_server.auth import derived_partner_id

from conformance import assert_conforms
from doc_examples import DOC_KEY, DOC_PROFILE_KEYS, DOC_REQUEST
from live_server import http, start_server

TRACK = "/v1/user-journeys/users"
EXAMPLE_KEYS = Path(__file__).resolve().parent.parent / "examples" / "keys.yaml"


@pytest.fixture(scope="module")
def server():
    live = start_server()
    yield live
    live.stop()


def track(server, body, key=DOC_KEY):
    status, headers, payload = http("POST", server.url + TRACK, body,
                                    {"X-API-Key": key, "Content-Type": "application/json"})
    assert_conforms("POST", TRACK, status, headers.get("content-type"), payload)
    return status, payload


def test_the_documented_curl_example(server):
    before = datetime.now(UTC).replace(microsecond=0)
    status, payload = track(server, DOC_REQUEST)
    after = datetime.now(UTC)
    assert status == 200 and payload["status"] == "success"
    data = payload["data"]
    assert list(data) == DOC_PROFILE_KEYS
    assert uuid.UUID(data["id"]).version == 4
    assert data["partnerId"] == derived_partner_id("your_public_key")
    assert data["environment"] == "LIVE"
    for field, value in DOC_REQUEST.items():
        assert data[field] == value
    assert data["phone"] == ""
    assert data["firstSeenAt"] == data["lastSeenAt"]
    seen = datetime.strptime(data["firstSeenAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= seen <= after
    assert (data["lifecycleStage"], data["engagementTier"], data["engagementScore"]) == ("new", "casual", 0)
    for counter in ("totalPlays", "plays7d", "plays30d", "pointsEarned7d", "pointsEarned30d",
                    "campaignsJoined", "winRate", "totalEvents"):
        assert data[counter] == 0


def test_upsert_and_errors_over_http(server):
    _, first = track(server, {"externalId": "http-1", "tags": {"a": "1"}})
    _, second = track(server, {"externalId": "http-1", "tags": {"b": "2"}})
    assert second["data"]["id"] == first["data"]["id"]
    assert second["data"]["tags"] == {"a": "1", "b": "2"}
    status, payload = track(server, {"externalId": "http-2", "device": "tv"})
    assert (status, payload["message"], payload["errors"][0]["field"]) == (400, "Invalid request body", "device")
    status, _, payload = http("POST", server.url + TRACK, {"externalId": "x"}, {"Content-Type": "application/json"})
    assert (status, payload) == (401, {"status": "error", "code": 401, "message": "Missing X-API-Key header"})
    status, headers, payload = http("GET", server.url + TRACK)
    assert status == 405 and "POST" in headers["allow"]
    assert_conforms("GET", TRACK, status, headers["content-type"], payload)


def test_logs_each_request_and_stops_cleanly_on_sigterm():
    live = start_server("--keys", str(EXAMPLE_KEYS))
    status, _, _ = http("POST", live.url + TRACK, {"externalId": "x"},
                        {"X-API-Key": "pk_test_revoked_key", "Content-Type": "application/json"})
    assert status == 403
    code, output = live.stop()
    assert code == 0, output
    assert f"gamifyhost-mock serving on {live.url}" in output
    assert "POST /v1/user-journeys/users 403" in output
    assert output.rstrip().endswith("gamifyhost-mock stopped")


def test_console_script_and_module_are_the_same_command():
    import subprocess

    script = Path(sys.executable).with_name("gamifyhost-mock")
    for command in ([str(script), "--help"], [sys.executable, "-m", "mock_server", "--help"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0
        assert "serve" in result.stdout and "GamifyHost" in result.stdout
