"""The control API under /__mock/: every answer is also checked against control-openapi.yaml."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml
from conftest import LIVE_KEY, OTHER_PARTNER_TEST_KEY, TEST_KEY, ConformingClient
from flask.testing import FlaskClient

from mock_server import create_app
from mock_server.auth import derived_partner_id


@pytest.fixture
def app_config(clock):
    return {"TESTING": True, "CLOCK": clock, "FAULT_SEED": 7}


def track_events(client, key, external_id, count):
    """POST /track: `count` plays for `external_id`."""
    events = [{"externalId": external_id, "category": "GAME_PLAY", "eventType": "spin"}] * count
    response = client.post("/v1/user-journeys/track", json={"events": events}, headers={"X-API-Key": key})
    assert response.status_code == 200


def seed_three(client):
    """Three profiles in three spaces: a (TEST, 2 events), b (LIVE, 1 event), c (another partner, none)."""
    client.track({"externalId": "a", "tags": {"k": "v"}}, key=TEST_KEY)
    client.track({"externalId": "b"}, key=LIVE_KEY)
    client.track({"externalId": "c"}, key=OTHER_PARTNER_TEST_KEY)
    track_events(client, TEST_KEY, "a", 2)
    track_events(client, LIVE_KEY, "b", 1)


def post(client, path, body):
    return client.post(f"/__mock/{path}", json=body)


# --- reset -------------------------------------------------------------------------------

def test_full_reset_clears_profiles_journal_faults_and_clock(client, store, clock):
    seed_three(client)
    post(client, "faults", {"type": "error", "count": 5})
    post(client, "clock", {"action": "freeze", "at": "2030-01-01T00:00:00Z"})
    body = client.post("/__mock/reset").get_json()
    assert body == {"status": "success", "data": {"removedProfiles": 3, "removedEvents": 3, "removedOffers": 0,
                                                  "journalCleared": True, "faultsCleared": True, "clockReset": True}}
    assert len(store) == 0
    assert client.get("/__mock/requests").get_json()["data"] == []
    assert client.get("/__mock/faults").get_json()["data"] == []
    assert client.get("/__mock/clock").get_json()["data"]["frozen"] is False


@pytest.mark.parametrize("body, left, events", [
    ({"environment": "LIVE"}, {"a", "c"}, 1),
    ({"partnerId": derived_partner_id(TEST_KEY[8:])}, {"c"}, 3),
    ({"partnerId": derived_partner_id(TEST_KEY[8:]), "environment": "TEST"}, {"b", "c"}, 2),
])
def test_filtered_reset_removes_only_matching_profiles_and_their_events(client, body, left, events):
    seed_three(client)
    post(client, "faults", {"type": "latency", "latencyMs": 1, "count": 1})
    data = post(client, "reset", body).get_json()["data"]
    assert (data["removedProfiles"], data["removedEvents"], data["faultsCleared"]) == (3 - len(left), events, False)
    remaining = client.get("/__mock/profiles").get_json()["data"]
    assert {p["externalId"] for p in remaining} == left
    assert len(client.get("/__mock/faults").get_json()["data"]) == 1
    # Events went with their profiles: the same user tracked again starts from nothing.
    track_events(client, TEST_KEY, "a", 1)
    assert client.get("/v1/user-journeys/users/a", headers={"X-API-Key": TEST_KEY}).get_json()["data"][
        "totalEvents"] == (3 if "a" in left else 1)


@pytest.mark.parametrize("body, field", [({"environment": "DEV"}, "environment"), ({"partner": "x"}, ""),
                                         ({"partnerId": ""}, "partnerId")])
def test_reset_with_a_bad_filter_is_400_and_removes_nothing(client, store, body, field):
    seed_three(client)
    response = post(client, "reset", body)
    assert response.status_code == 400 and response.get_json()["errors"][0]["field"] == field
    assert len(store) == 3


# --- profiles ----------------------------------------------------------------------------

def test_profiles_are_listed_filtered_and_paginated(client):
    for i in range(25):
        client.track({"externalId": f"p{i:02d}"}, key=TEST_KEY)
    client.track({"externalId": "live-1"}, key=LIVE_KEY)
    page = client.get("/__mock/profiles").get_json()
    assert page["meta"] == {"page": 1, "limit": 20, "total": 26, "totalPages": 2}
    assert [p["externalId"] for p in page["data"]][:3] == ["p00", "p01", "p02"]
    second = client.get("/__mock/profiles?environment=TEST&page=2&limit=10").get_json()
    assert second["meta"] == {"page": 2, "limit": 10, "total": 25, "totalPages": 3}
    assert [p["externalId"] for p in second["data"]] == [f"p{i}" for i in range(10, 20)]
    one = client.get("/__mock/profiles?externalId=live-1").get_json()
    assert [(p["externalId"], p["environment"]) for p in one["data"]] == [("live-1", "LIVE")]
    beyond = client.get("/__mock/profiles?page=9").get_json()
    assert beyond["data"] == [] and beyond["meta"]["total"] == 26
    partner = derived_partner_id(OTHER_PARTNER_TEST_KEY[8:])
    assert client.get(f"/__mock/profiles?partnerId={partner}").get_json()["meta"]["total"] == 0


@pytest.mark.parametrize("query, field", [("page=0", "page"), ("limit=101", "limit"), ("limit=abc", "limit"),
                                          ("environment=DEV", "environment"), ("page=1.5", "page")])
def test_bad_profile_queries_are_400(client, query, field):
    response = client.get(f"/__mock/profiles?{query}")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == field


@pytest.mark.parametrize("path, errors", [
    ("profiles?limit=500&page=0&environment=DEV", [("environment", "environment must be one of: TEST, LIVE"),
                                                   ("limit", "limit must be at most 100"),
                                                   ("page", "page must be at least 1")]),
    ("profiles?page=x", [("page", "page must be an integer")]),
    ("requests?limit=1001", [("limit", "limit must be at most 1000")]),
])
def test_query_errors_say_invalid_query_parameters(client, path, errors):
    """The client checks the answer against control-openapi.yaml, which pins this message."""
    body = client.get(f"/__mock/{path}").get_json()
    assert (body["code"], body["message"]) == (400, "Invalid query parameters")
    assert [(e["field"], e["message"]) for e in body["errors"]] == errors


# --- events ------------------------------------------------------------------------------

def events_query(external_id, key=TEST_KEY, environment="TEST", extra=""):
    return (f"/__mock/events?partnerId={derived_partner_id(key[8:])}&environment={environment}"
            f"&externalId={external_id}{extra}")


def test_a_users_events_are_listed_as_the_timeline_pages_them(client, clock):
    for day in range(25):
        client.post("/v1/user-journeys/events", headers={"X-API-Key": TEST_KEY}, json={
            "externalId": "a", "category": "GAME_PLAY", "eventType": f"play-{day}", "points": day,
            "occurredAt": f"2025-01-{day + 1:02d}T12:00:00Z"})
    first = client.get(events_query("a")).get_json()
    assert first["meta"] == {"page": 1, "limit": 20, "total": 25, "totalPages": 2}
    assert [e["eventType"] for e in first["data"]][:3] == ["play-24", "play-23", "play-22"]  # newest first
    for page, limit in ((1, 20), (2, 10), (3, 10), (9, 10)):
        listed = client.get(events_query("a", extra=f"&page={page}&limit={limit}")).get_json()["data"]
        timeline = client.get(f"/v1/user-journeys/users/a/timeline?page={page}&limit={limit}",
                              headers={"X-API-Key": TEST_KEY}).get_json()["data"]["events"]
        assert listed == timeline
    client.track({"externalId": "none-yet"})
    assert client.get(events_query("none-yet")).get_json() == {
        "status": "success", "data": [], "meta": {"page": 1, "limit": 20, "total": 0, "totalPages": 0}}


@pytest.mark.parametrize("query", [events_query("nobody"), events_query("a", environment="LIVE"),
                                   events_query("a", key=OTHER_PARTNER_TEST_KEY)])
def test_events_of_an_unknown_user_are_404(client, query):
    track_events(client, TEST_KEY, "a", 1)
    response = client.get(query)
    assert (response.status_code, response.get_json()["message"]) == (404, "User not found")


@pytest.mark.parametrize("query, errors", [
    ("environment=TEST&externalId=a", [("partnerId", "partnerId is required")]),
    ("partnerId=p&environment=DEV&externalId=a&limit=101",
     [("environment", "environment must be one of: TEST, LIVE"), ("limit", "limit must be at most 100")]),
    ("partnerId=p&environment=TEST&externalId=", [("externalId", "externalId must not be empty")]),
])
def test_bad_event_queries_are_400(client, query, errors):
    body = client.get(f"/__mock/events?{query}").get_json()
    assert (body["code"], [(e["field"], e["message"]) for e in body["errors"]]) == (400, errors)


# --- fixtures and export -----------------------------------------------------------------

DOCUMENT = {"profiles": [
    {"apiKey": TEST_KEY, "profile": {"externalId": "f1", "displayName": "Fixture One", "tags": {"a": "1"}}},
    {"apiKey": LIVE_KEY, "profile": {"externalId": "f1", "country": "GH"},
     "id": "2f1c7e64-5a0b-4d7e-9b55-3c2a7d9e8f10", "firstSeenAt": "2024-06-01T08:00:00Z",
     "lastSeenAt": "2024-07-01T09:30:00Z"},
]}


def test_fixtures_load_through_the_upsert(client):
    client.track({"externalId": "f1", "email": "kept@example.com"}, key=TEST_KEY)
    response = post(client, "fixtures", DOCUMENT)
    assert response.get_json() == {"status": "success", "data": {"created": 1, "updated": 1}}
    test_profile = client.get("/__mock/profiles?externalId=f1&environment=TEST").get_json()["data"][0]
    assert (test_profile["email"], test_profile["displayName"]) == ("kept@example.com", "Fixture One")
    live = client.get("/__mock/profiles?environment=LIVE").get_json()["data"][0]
    assert (live["id"], live["firstSeenAt"], live["lastSeenAt"]) == (
        "2f1c7e64-5a0b-4d7e-9b55-3c2a7d9e8f10", "2024-06-01T08:00:00Z", "2024-07-01T09:30:00Z")


def test_a_bad_fixture_document_loads_nothing(client, store):
    broken = {"profiles": [*DOCUMENT["profiles"],
                           {"apiKey": TEST_KEY, "profile": {"externalId": "f3", "phone": "1" * 21}}]}
    response = post(client, "fixtures", broken)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "profiles.2.profile.phone"
    revoked = {"profiles": [*DOCUMENT["profiles"], {"apiKey": "sk_live_x", "profile": {"externalId": "f4"}}]}
    response = post(client, "fixtures", revoked)
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{
        "field": "profiles.2.apiKey", "message": "request body: entry 3 (externalId 'f4'): apiKey: Invalid API key"}]
    assert len(store) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/json; charset=latin-1",
                                          "application/yaml; charset=latin-1", None])
def test_fixture_body_must_be_json_or_yaml(client, store, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/__mock/fixtures", data="profiles: []", headers=headers)
    # The API's 415 message said application/json only, hiding that YAML is taken (found by the walkthrough).
    assert (response.status_code, response.get_json()["message"]) == (
        415, "Content-Type must be application/json or application/yaml")
    assert len(store) == 0


@pytest.mark.parametrize("content_type", ["application/x-yaml", "text/yaml", "text/x-yaml", "application/yaml"])
def test_fixtures_take_every_name_of_yaml(client, content_type):
    document = f"profiles:\n  - apiKey: {TEST_KEY}\n    profile: {{externalId: named}}\n"
    response = client.post("/__mock/fixtures", data=document, headers={"Content-Type": content_type})
    assert response.get_json()["data"] == {"created": 1, "updated": 0}


def test_export_round_trip_is_exact(client, clock):
    seed_three(client)
    clock.advance(timedelta(hours=2))
    client.track({"externalId": "a", "displayName": "Later", "metadata": {"n": [1, {"x": None}]}}, key=TEST_KEY)
    post(client, "fixtures", DOCUMENT)
    exported = client.get("/__mock/export").get_json()
    assert len(exported["profiles"]) == 5
    fresh = create_app({"TESTING": True}).test_client()
    assert fresh.post("/__mock/fixtures", json=exported).get_json()["data"] == {"created": 5, "updated": 0}
    again = fresh.get("/__mock/export")
    assert again.get_json() == exported
    assert again.data == client.get("/__mock/export").data  # byte for byte, order included
    a = fresh.get("/__mock/profiles?externalId=a").get_json()["data"][0]
    assert (a["firstSeenAt"], a["lastSeenAt"], a["displayName"]) == (
        "2025-01-15T10:30:00Z", "2025-01-15T12:30:00Z", "Later")


@pytest.mark.parametrize("content_type", ["application/json", "application/yaml"])
def test_an_export_of_bodies_nested_as_deep_as_the_api_takes_loads_back(client, content_type):
    """An event's metadata 63 levels deep (its body 64, the API's limit) sits 68 deep in an export,
    which POST /__mock/fixtures refused at the API's 64 levels."""
    deepest: dict = {}
    for _ in range(62):
        deepest = {"x": deepest}
    assert client.post("/v1/user-journeys/events", json={"externalId": "deep", "category": "CUSTOM",
                                                          "eventType": "nested", "metadata": deepest},
                       headers={"X-API-Key": TEST_KEY}).status_code == 200
    exported = client.get("/__mock/export").get_json()
    text = json.dumps(exported) if content_type == "application/json" else yaml.safe_dump(exported)
    fresh = create_app({"TESTING": True}).test_client()
    answer = fresh.post("/__mock/fixtures", data=text, content_type=content_type)
    assert answer.get_json()["data"] == {"created": 1, "updated": 0}
    assert fresh.get("/__mock/export").get_json() == exported


@pytest.mark.parametrize("name", ["export.json", "export.yaml"])
def test_export_saved_as_a_file_loads_back_exactly(client, tmp_path, name):
    """Also for text outside the Basic Multilingual Plane, which the export escapes as pairs."""
    seed_three(client)
    client.track({"externalId": "用户-😀", "displayName": "Emoji 🎮 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"}, key=TEST_KEY)
    path = tmp_path / name
    path.write_bytes(client.get("/__mock/export").data)
    assert b"\\ud83d\\ude00" in path.read_bytes()  # the escaped pair, as curl would save it
    restarted = create_app({"FIXTURES": [path]}).test_client()
    assert restarted.get("/__mock/export").data == client.get("/__mock/export").data
    upsert = restarted.post("/v1/user-journeys/users", json={"externalId": "用户-😀"}, headers={"X-API-Key": TEST_KEY})
    assert upsert.get_json()["data"]["displayName"] == "Emoji 🎮 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"
    assert restarted.get("/__mock/profiles").get_json()["meta"]["total"] == 4


# --- journal -----------------------------------------------------------------------------

def test_journal_records_api_requests_newest_first(client):
    client.track({"externalId": "j1"}, key=TEST_KEY, headers={"Origin": "http://app.test"})
    client.post("/v1/user-journeys/users", data="{bad", headers={"X-API-Key": TEST_KEY,
                                                                  "Content-Type": "application/json"})
    client.get("/v1/nope")
    client.get("/__mock/profiles")  # control calls are not journaled
    entries = client.get("/__mock/requests").get_json()["data"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/v1/nope", 404), ("POST", "/v1/user-journeys/users", 400), ("POST", "/v1/user-journeys/users", 200)]
    first = entries[2]
    assert first["body"] == {"externalId": "j1"}
    assert first["headers"] == {"X-API-Key": TEST_KEY, "Content-Type": "application/json", "Origin": "http://app.test"}
    assert first["response"]["data"]["externalId"] == "j1"
    assert first["durationMs"] >= 0 and first["time"].endswith("Z")
    assert entries[1]["body"] == "{bad"
    assert [e["path"] for e in client.get("/__mock/requests?limit=1").get_json()["data"]] == ["/v1/nope"]


def test_journal_cuts_long_bodies_and_clears(client):
    client.track({"externalId": "big", "metadata": {"x": "y" * 100_000}})
    [entry] = client.get("/__mock/requests").get_json()["data"]
    assert entry["bodyTruncated"] is True and len(entry["body"]) == 64 * 1024
    assert client.delete("/__mock/requests").get_json()["data"] == {"removed": 1}
    assert client.get("/__mock/requests").get_json()["data"] == []


def test_journal_keeps_the_last_n(clock):
    client = create_app({"TESTING": True, "JOURNAL_SIZE": 3}).test_client()
    for i in range(5):
        client.post("/v1/user-journeys/users", json={"externalId": f"n{i}"}, headers={"X-API-Key": TEST_KEY})
    entries = client.get("/__mock/requests").get_json()["data"]
    assert [e["body"]["externalId"] for e in entries] == ["n4", "n3", "n2"]


# --- faults ------------------------------------------------------------------------------

def test_error_fault_fails_the_next_n_valid_calls_with_the_documented_500(client, store):
    fault = post(client, "faults", {"type": "error", "count": 2}).get_json()["data"]
    assert (fault["operationId"], fault["type"], fault["count"], fault["hits"]) == ("trackUser", "error", 2, 0)
    assert client.track({"externalId": "x", "device": "tv"}).status_code == 400  # does not use up the fault
    for _ in range(2):
        response = client.track({"externalId": "x"})
        assert response.status_code == 500
        assert response.get_json() == {"status": "error", "code": 500, "message": "Failed to track user"}
    assert len(store) == 0
    assert client.get("/__mock/faults").get_json()["data"] == []
    assert client.track({"externalId": "x"}).status_code == 200


def test_rate_fault_fails_about_that_fraction(client):
    post(client, "faults", {"type": "error", "rate": 0.25})
    statuses = [client.track({"externalId": f"r{i}"}).status_code for i in range(200)]
    assert set(statuses) == {200, 500}
    assert 25 <= statuses.count(500) <= 75  # 50 expected; the seeded generator makes it fixed
    [fault] = client.get("/__mock/faults").get_json()["data"]
    assert fault["hits"] == statuses.count(500) and fault["rate"] == 0.25


def test_latency_fault_delays_and_is_listed(client):
    post(client, "faults", {"type": "latency", "latencyMs": 150, "count": 1})
    assert client.track({"externalId": "slow"}).status_code == 200
    client.track({"externalId": "fast"})
    slow, fast = reversed(client.get("/__mock/requests").get_json()["data"])
    assert slow["durationMs"] >= 150  # the injected wait is a lower bound, whatever the machine
    assert client.get("/__mock/faults").get_json()["data"] == []


def test_faults_are_cleared(client):
    post(client, "faults", {"type": "error"})
    post(client, "faults", {"type": "latency", "latencyMs": 5, "rate": 0.5})
    assert client.delete("/__mock/faults").get_json()["data"] == {"removed": 2}
    assert client.track({"externalId": "ok"}).status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"type": "latency"}, "latencyMs"),
    ({"type": "error", "latencyMs": 10}, ""),
    ({"type": "error", "count": 1, "rate": 0.5}, ""),
    ({"type": "error", "rate": 0}, "rate"),
    ({"type": "error", "count": 0}, "count"),
    ({"type": "timeout"}, "type"),
    ({"type": "error", "operationId": "deleteUser"}, "operationId"),
])
def test_bad_fault_requests_are_400(client, body, field):
    response = post(client, "faults", body)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == field
    assert client.get("/__mock/faults").get_json()["data"] == []


# --- clock -------------------------------------------------------------------------------

def test_clock_can_be_frozen_moved_and_returned_to_real_time(client):
    state = post(client, "clock", {"action": "freeze", "at": "2026-02-01T12:00:00+01:00"}).get_json()["data"]
    assert state == {"now": "2026-02-01T11:00:00.000Z", "frozen": True, "offsetSeconds": 0.0}
    first = client.track({"externalId": "t"}).get_json()["data"]
    post(client, "clock", {"action": "advance", "seconds": 86400 * 40})
    later = client.track({"externalId": "t"}).get_json()["data"]
    assert (first["firstSeenAt"], later["lastSeenAt"]) == ("2026-02-01T11:00:00Z", "2026-03-13T11:00:00Z")
    assert later["firstSeenAt"] == first["firstSeenAt"]
    real = post(client, "clock", {"action": "real"}).get_json()["data"]
    assert real["frozen"] is False and real["offsetSeconds"] == 0
    post(client, "clock", {"action": "advance", "seconds": 3600})
    assert client.get("/__mock/clock").get_json()["data"]["offsetSeconds"] == 3600


@pytest.mark.parametrize("body, field", [
    ({"action": "advance"}, "seconds"), ({"action": "freeze", "at": "tomorrow"}, "at"),
    ({"action": "freeze", "at": "2026-02-01T12:00:00"}, "at"), ({"action": "real", "seconds": 5}, ""),
    ({"action": "rewind"}, "action"), ({}, "action"),
])
def test_bad_clock_requests_are_400(client, body, field):
    response = post(client, "clock", body)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == field


# --- switched off ------------------------------------------------------------------------

def test_control_api_can_be_switched_off(clock):
    client = create_app({"TESTING": True, "CONTROL_API": False}).test_client()
    for method, path in [("get", "/__mock/profiles"), ("post", "/__mock/reset"), ("get", "/__mock/export")]:
        response = getattr(client, method)(path)
        assert response.status_code == 404
        assert response.get_json() == {"status": "error", "code": 404, "message": "Route not found"}


def test_unknown_control_route_is_404(client):
    assert client.get("/__mock/nothing").status_code == 404
    assert client.put("/__mock/clock").status_code == 405


# --- fixtures as YAML, and the specs ------------------------------------------------------------

def test_a_fixture_document_may_be_sent_as_yaml(client):
    document = f"profiles:\n  - apiKey: {TEST_KEY}\n    profile: {{externalId: from-yaml, country: NG}}\n"
    response = client.post("/__mock/fixtures", data=document, content_type="application/yaml")
    assert response.get_json()["data"] == {"created": 1, "updated": 0}
    assert client.get("/__mock/profiles?externalId=from-yaml").get_json()["data"][0]["country"] == "NG"


@pytest.mark.parametrize("raw, message", [
    (b"profiles: [", "request body: not valid YAML: line 1, column 12: expected the node content, but found "
                     "'<stream end>'"),
    (b"profiles: [{x: .nan}]", "request body: profiles.0.x is nan, which JSON cannot carry: use a finite number or a "
                               "string"),
    (b"\xff", "request body: not valid UTF-8 (byte 0)"),
    (b"", "request body: document must be of type object"),
    # Aliases nine deep made 387 million strings of 300 bytes and held the mock for good; three deep here.
    (b"a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\nprofiles: []\n",
     "request body: not valid YAML: line 2, column 8: aliases (*name) are not allowed in fixture files: write "
     "the value out"),
    # 500 levels were a RecursionError (500); the limit is the API's 64 plus the document's 4.
    (b"- " * 500 + b"x", "request body: not valid YAML: line 1, column 137: nested more than 68 levels deep"),
    (b"[" * 1000 + b"]" * 1000, "request body: JSON is nested too deeply (more than 68 levels)"),
    # A key given twice kept the last silently: the first list of entries was dropped from a 200.
    (b"profiles: []\nprofiles: []\n", "request body: not valid YAML: line 2, column 1: duplicate key 'profiles'"),
    (b'{"profiles": [], "profiles": []}', "request body: duplicate key 'profiles'"),
    # Values JSON has no room for were a 500 when stored (json.dumps failed).
    (b"profiles: !!set {a}", "request body: not valid YAML: line 1, column 11: !!set values are not JSON: write a "
                             "string, number, list or mapping"),
    (b"profiles: !!binary aGk=", "request body: not valid YAML: line 1, column 11: !!binary values are not JSON: "
                                 "write a string, number, list or mapping"),
])
def test_a_yaml_fixture_that_does_not_parse_is_400_and_loads_nothing(client, store, raw, message):
    response = client.post("/__mock/fixtures", data=raw, content_type="application/yaml")
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"field": "", "message": message}]
    assert len(store) == 0


def test_unquoted_dates_in_yaml_stay_text_as_json_would_carry_them(client):
    """A YAML date was a datetime.date, which answered 500 when the metadata was stored."""
    document = (f"profiles:\n  - apiKey: {TEST_KEY}\n    profile:\n      externalId: dated\n      metadata:\n"
                "        signupDate: 2025-01-01\n        at: 2025-01-01T10:00:00Z\n")
    response = client.post("/__mock/fixtures", data=document, content_type="application/yaml")
    assert response.get_json()["data"] == {"created": 1, "updated": 0}
    stored = client.get("/__mock/profiles?externalId=dated").get_json()["data"][0]
    assert stored["metadata"] == {"signupDate": "2025-01-01", "at": "2025-01-01T10:00:00Z"}



def test_the_specs_are_served_as_json(client, app):
    state = app.extensions["gamifyhost_mock"]
    assert client.get("/__mock/openapi.json").get_json() == state.contract.document
    control = client.get("/__mock/control-openapi.json").get_json()
    assert control == state.control.document
    assert "/__mock/offers/claim" in control["paths"]


@pytest.mark.parametrize("method, path", [("GET", "/__mock/export"), ("OPTIONS", "/__mock/offers/claim"),
                                          ("OPTIONS", "/__mock/reset"), ("GET", "/__mock/"), ("GET", "/__mock")])
def test_pages_on_other_origins_may_not_use_the_control_api(app, method, path):
    """With CORS on /__mock/, any page a developer visited could read every profile, claim offers and
    reset their mock; the dashboard is same-origin and needs none."""
    client = FlaskClient(app)  # the dashboard's page and redirect are not in the control spec
    headers = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}
    answer = client.open(path, method=method, headers=headers)
    assert not [name for name, _ in answer.headers if name.lower().startswith("access-control-")]
    api = client.open("/v1/user-journeys/users", method="OPTIONS", headers=headers)  # the API's own paths: allowed
    assert api.headers["Access-Control-Allow-Origin"] == "http://elsewhere.example"
    assert api.headers["Access-Control-Allow-Methods"] == "GET, POST"


def test_a_reset_can_reload_the_start_fixtures_even_over_the_body_limit(tmp_path):
    """The plugin's marker restored a mock by sending its start fixtures back through POST
    /__mock/fixtures: a file over --max-body emptied the mock and answered 413."""
    start = tmp_path / "start.yaml"
    start.write_text("profiles:\n" + "".join(f"  - apiKey: {TEST_KEY}\n    profile: {{externalId: u{i}}}\n"
                                             for i in range(20)))
    app = create_app({"TESTING": True, "FIXTURES": [start], "MAX_CONTENT_LENGTH": 200})
    app.test_client_class = ConformingClient
    client = app.test_client()
    assert client.post("/__mock/fixtures", data=start.read_bytes(), content_type="application/yaml").status_code == 413
    client.post("/v1/user-journeys/users", json={"externalId": "later"}, headers={"X-API-Key": TEST_KEY})
    answer = client.post("/__mock/reset", json={"reloadFixtures": True}).get_json()["data"]
    assert answer["fixturesLoaded"] == {"created": 20, "updated": 0}
    assert (answer["removedProfiles"], answer["journalCleared"]) == (21, True)
    externals = [p["externalId"] for p in client.get("/__mock/profiles?limit=100").get_json()["data"]]
    assert externals == [f"u{i}" for i in range(20)]


def test_reload_fixtures_is_for_a_full_reset_only(client, store):
    post(client, "fixtures", DOCUMENT)
    before = len(store)
    answer = client.post("/__mock/reset", json={"reloadFixtures": True, "environment": "TEST"})
    assert answer.status_code == 400
    assert answer.get_json()["errors"] == [{"field": "reloadFixtures", "message": "reloadFixtures reloads after a "
                                            "full reset: leave out partnerId and environment"}]
    assert len(store) == before


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://elsewhere.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:5173"},  # another port of the same host
    {"Origin": "http://elsewhere.example"},  # a browser without Sec-Fetch-Site
])
def test_a_write_from_a_page_of_another_site_is_refused_and_does_nothing(client, store, headers):
    """A POST with no body needs no preflight: any site's page emptied the mock with one fetch."""
    post(client, "fixtures", DOCUMENT)
    before = len(store)
    for method, path in [("POST", "/__mock/reset"), ("DELETE", "/__mock/faults"), ("DELETE", "/__mock/requests")]:
        answer = client.open(path, method=method, headers=headers)
        assert answer.status_code == 403
        assert answer.get_json()["message"] == ("The control API takes writes from its own origin only (the "
                                                "dashboard, a dev server's proxy) or from outside a browser")
    assert len(store) == before


@pytest.mark.parametrize("headers", [
    {},  # curl, a test, a server
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},  # the dashboard
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost:5173"},  # through a dev server's proxy
    {"Sec-Fetch-Site": "none"},  # typed into the address bar
    {"Origin": "http://localhost"},  # an older browser, same origin
])
def test_writes_from_the_mocks_own_origin_or_outside_a_browser_are_taken(client, store, headers):
    post(client, "fixtures", DOCUMENT)
    assert client.post("/__mock/reset", headers=headers).status_code == 200
    assert len(store) == 0


def test_reads_from_anywhere_are_answered(client):
    """A page elsewhere cannot read them without CORS, and a link to the dashboard still opens it."""
    answer = client.get("/__mock/clock", headers={"Sec-Fetch-Site": "cross-site", "Origin": "http://elsewhere.example"})
    assert answer.status_code == 200


@pytest.mark.parametrize("change", ["delete", "break"])
def test_a_start_fixture_changed_since_is_a_400_that_leaves_the_mock_as_it_was(tmp_path, change):
    start = tmp_path / "start.yaml"
    start.write_text(f"profiles:\n  - apiKey: {TEST_KEY}\n    profile: {{externalId: kept}}\n")
    app = create_app({"TESTING": True, "FIXTURES": [start]})
    app.test_client_class = ConformingClient
    client = app.test_client()
    if change == "delete":
        start.unlink()
    else:
        start.write_text(f"profiles:\n  - apiKey: {TEST_KEY}\n    profile: {{country: XX}}\n")
    answer = client.post("/__mock/reset", json={"reloadFixtures": True})
    assert answer.status_code == 400
    assert [p["externalId"] for p in client.get("/__mock/profiles").get_json()["data"]] == ["kept"]
