"""Events, enriched profiles and timelines over HTTP, on the mock's frozen clock.

Every answer is also checked against openapi.yaml by the test client (conftest.py).
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import LIVE_KEY, OTHER_PARTNER_TEST_KEY, TEST_KEY

from mock_server import create_app
from mock_server.api import HANDLERS
from mock_server.spec import load_contract

from doc_examples import DOC_PROFILE_KEYS

USERS = "/v1/user-journeys/users"
EVENTS = "/v1/user-journeys/events"
TRACK = "/v1/user-journeys/track"
DAY = timedelta(days=1)
BAD_TIME = ("occurredAt must be an RFC 3339 time with an upper-case T and Z or an offset, years 1001-9997 "
            "(e.g. 2025-03-05T14:22:00Z)")


def play(external_id: str = "u1", points: int = 10, **extra) -> dict:
    return {"externalId": external_id, "category": "GAME_PLAY", "eventType": "spin_the_wheel", "points": points,
            **extra}


def post(client, path: str, body, key: str = TEST_KEY):
    return client.post(path, json=body, headers={"X-API-Key": key})


def get(client, path: str, key: str = TEST_KEY):
    return client.get(path, headers={"X-API-Key": key})


def profile(client, external_id: str = "u1", key: str = TEST_KEY) -> dict:
    response = get(client, f"{USERS}/{external_id}", key)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


# --- the house ----------------------------------------------------------------------------

def test_every_operation_in_the_spec_has_a_handler_and_every_handler_an_operation():
    document = load_contract().document
    in_spec = {op["operationId"] for item in document["paths"].values() for op in item.values()
               if isinstance(op, dict) and "operationId" in op}
    assert in_spec == set(HANDLERS) == {"trackUser", "getUser", "getUserTimeline", "trackEvent", "trackEvents",
                                        "getUserOffers", "claimOffer"}


def test_an_operation_without_a_handler_stops_the_app_at_start(monkeypatch):
    monkeypatch.delitem(HANDLERS, "getUserTimeline")
    with pytest.raises(ValueError, match=r"operations without a handler: \['getUserTimeline'\]"):
        create_app({"TESTING": True})


@pytest.mark.parametrize("operation, call, message", [
    ("trackEvent", lambda c: post(c, EVENTS, play()), "Failed to track event"),
    ("trackEvents", lambda c: post(c, TRACK, {"events": [play()]}), "Failed to track events"),
    ("getUser", lambda c: get(c, f"{USERS}/u1"), "Failed to get user"),
    ("getUserTimeline", lambda c: get(c, f"{USERS}/u1/timeline"), "Failed to get timeline"),
])
def test_faults_and_500_messages_are_per_operation(client, operation, call, message):
    client.track({"externalId": "u1"})
    client.post("/__mock/faults", json={"operationId": operation, "type": "error", "count": 1})
    assert client.track({"externalId": "u1"}).status_code == 200  # another operation: untouched
    failed = call(client)
    assert (failed.status_code, failed.get_json()) == (500, {"status": "error", "code": 500, "message": message})
    assert call(client).status_code == 200
    assert profile(client)["totalEvents"] == (1 if operation.startswith("track") else 0)  # the failed one: none


def test_a_crash_in_a_handler_is_that_operations_500(app, client, monkeypatch):
    def explode(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.extensions["gamifyhost_mock"].store, "timeline", explode)
    client.track({"externalId": "u1"})
    response = get(client, f"{USERS}/u1/timeline")
    assert (response.status_code, response.get_json()["message"]) == (500, "Failed to get timeline")


@pytest.mark.parametrize("method, path", [("GET", f"{USERS}/u1"), ("GET", f"{USERS}/u1/timeline"),
                                          ("POST", EVENTS), ("POST", TRACK)])
def test_every_operation_needs_the_key(client, method, path):
    response = client.open(path, method=method, json=play() if method == "POST" else None)
    assert (response.status_code, response.get_json()["message"]) == (401, "Missing X-API-Key header")


def test_a_wrong_method_lists_the_right_one(client):
    response = get(client, EVENTS)
    assert (response.status_code, response.headers["Allow"]) == (405, "OPTIONS, POST")


# --- events -------------------------------------------------------------------------------

def test_an_event_is_stored_and_answered_with_its_fields(client):
    response = post(client, EVENTS, play(points=50, metadata={"gameType": "NEON_WHEEL"}))
    assert response.status_code == 200
    event = response.get_json()["data"]["event"]
    assert {k: v for k, v in event.items() if k not in ("id", "partnerId")} == {
        "externalId": "u1", "environment": "TEST", "category": "GAME_PLAY", "eventType": "spin_the_wheel",
        "points": 50, "occurredAt": "2025-01-15T10:30:00Z", "metadata": {"gameType": "NEON_WHEEL"}}
    assert get(client, f"{USERS}/u1/timeline").get_json()["data"]["events"] == [event]


def test_an_event_for_an_unknown_user_creates_the_profile_seen_at_the_event(client):
    post(client, EVENTS, play(occurredAt="2025-01-10T08:00:00.750+01:00"))
    found = profile(client)
    assert list(found) == [*DOC_PROFILE_KEYS, "recommendations"]
    assert (found["displayName"], found["firstSeenAt"], found["lastSeenAt"]) == (
        "", "2025-01-10T07:00:00Z", "2025-01-10T07:00:00Z")


def test_events_widen_the_seen_times_and_an_upsert_moves_last_seen_to_now(client, clock):
    client.track({"externalId": "u1"})
    post(client, EVENTS, play(occurredAt="2024-12-01T00:00:00Z"))  # backfilled: first seen moves back
    found = profile(client)
    assert (found["firstSeenAt"], found["lastSeenAt"]) == ("2024-12-01T00:00:00Z", "2025-01-15T10:30:00Z")
    post(client, EVENTS, play(occurredAt="2025-01-15T10:35:00Z"))  # a little ahead of the mock's clock
    assert profile(client)["lastSeenAt"] == "2025-01-15T10:35:00Z"


def test_points_sent_as_a_whole_float_are_stored_as_an_integer(client):
    event = post(client, EVENTS, play(points=7.0)).get_json()["data"]["event"]
    assert event["points"] == 7 and isinstance(event["points"], int)


@pytest.mark.parametrize("change, field, message", [
    ({"category": "PURCHASE"}, "category", "category must be one of: GAME_PLAY, CAMPAIGN, POINTS, CUSTOM"),
    ({"eventType": ""}, "eventType", "eventType must not be empty"),
    ({"eventType": "spin the wheel"}, "eventType",
     "eventType must be letters, digits and _ . : - only, starting with a letter or digit (e.g. spin_the_wheel)"),
    ({"points": 1.5}, "points", "points must be of type integer"),
    ({"points": 2_000_000_000}, "points", "points must be at most 1000000000"),
    ({"occurredAt": "2025-02-30T10:00:00Z"}, "occurredAt", "occurredAt is not a valid date-time"),
    ({"occurredAt": "2025-01-01 10:00:00Z"}, "occurredAt", "occurredAt is not a valid date-time"),
    ({"occurredAt": "9999-01-01T00:00:00Z"}, "occurredAt", BAD_TIME),
    # 0999 in UTC: an export could not load it
    ({"occurredAt": "1000-01-01T00:00:00+01:00"}, "occurredAt", BAD_TIME),
    ({"metadata": []}, "metadata", "metadata must be of type object"),
    ({"externalId": " "}, "externalId", "externalId contains characters or a form that is not allowed"),
])
def test_a_bad_event_is_400_naming_the_field_and_stores_nothing(client, store, change, field, message):
    response = post(client, EVENTS, {**play(), **change})
    assert response.status_code == 400
    assert {"field": field, "message": message} in response.get_json()["errors"]
    assert len(store) == 0


def test_a_batch_is_stored_in_order_for_several_users(client):
    response = post(client, TRACK, {"events": [play("a", 1), play("b", 2), play("a", 3)]})
    data = response.get_json()["data"]
    assert data["tracked"] == 3
    assert [(e["externalId"], e["points"]) for e in data["events"]] == [("a", 1), ("b", 2), ("a", 3)]
    timeline = get(client, f"{USERS}/a/timeline").get_json()["data"]
    assert [e["points"] for e in timeline["events"]] == [3, 1]  # same second: the later one first


def test_a_batch_with_one_bad_event_is_400_by_index_and_stores_nothing(client, store):
    response = post(client, TRACK, {"events": [play("a"), play("b", points="ten"), play("c")]})
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{"field": "events.1.points",
                                              "message": "events.1.points must be of type integer"}]
    assert len(store) == 0


@pytest.mark.parametrize("body, message", [
    ({"events": []}, "events must have at least 1 item"),
    ({"events": [play()] * 101}, "events must have at most 100 items"),
    ({}, "events is required"),
])
def test_a_batch_must_hold_1_to_100_events(client, body, message):
    response = post(client, TRACK, body)
    assert (response.status_code, response.get_json()["errors"][0]["message"]) == (400, message)


# --- reads --------------------------------------------------------------------------------

def test_an_unknown_user_is_404_and_other_keys_see_nothing(client):
    post(client, EVENTS, play())
    for key in (LIVE_KEY, OTHER_PARTNER_TEST_KEY):
        for path in (f"{USERS}/u1", f"{USERS}/u1/timeline"):
            response = get(client, path, key)
            assert (response.status_code, response.get_json()) == (
                404, {"status": "error", "code": 404, "message": "User not found"})


def test_an_external_id_with_a_slash_or_spaces_is_addressable(client):
    for external_id, path in (("team/7", "team%2F7"), ("Jane Doe", "Jane%20Doe")):
        client.track({"externalId": external_id})
        post(client, EVENTS, play(external_id))
        assert profile(client, path)["externalId"] == external_id
        assert get(client, f"{USERS}/{path}/timeline").get_json()["data"]["total"] == 1


def test_a_path_id_that_breaks_the_externalid_rule_is_400(client):
    response = get(client, f"{USERS}/{'x' * 256}")
    assert response.status_code == 400
    assert response.get_json() == {"status": "error", "code": 400, "message": "Invalid path parameters", "errors": [
        {"field": "externalId", "message": "externalId must be at most 255 characters long"}]}


def test_the_profile_reflects_events_and_the_clock(client, clock):
    client.track({"externalId": "u1"})
    post(client, TRACK, {"events": [play(points=100) for _ in range(10)]
                         + [{"externalId": "u1", "category": "CAMPAIGN", "eventType": "campaign_joined",
                             "metadata": {"campaignSlug": "spring-cup"}}]})
    found = profile(client)
    # R = 1 (seen now), F = 10/30, M = min(1000/500, 1) = 1, B = 1/3:
    # 100 * (0.3 + 0.3 * 10/30 + 0.2 + 0.2/3) = 66.7
    assert {k: found[k] for k in ("lifecycleStage", "engagementTier", "engagementScore", "totalPlays", "plays7d",
                                  "plays30d", "pointsEarned7d", "pointsEarned30d", "campaignsJoined", "winRate",
                                  "totalEvents")} == {
        "lifecycleStage": "engaged", "engagementTier": "regular", "engagementScore": 66.7, "totalPlays": 10,
        "plays7d": 10, "plays30d": 10, "pointsEarned7d": 1000, "pointsEarned30d": 1000, "campaignsJoined": 1,
        "winRate": 1, "totalEvents": 11}
    assert found["recommendations"][0] == {"priority": "medium", "name": "Daily Free Spin",
                                           "reason": "Keeps a regular player coming back every day."}
    clock.advance(8 * DAY)  # past the 7-day window, not yet at risk
    found = profile(client)
    assert (found["lifecycleStage"], found["plays7d"], found["plays30d"]) == ("engaged", 0, 10)
    clock.advance(6 * DAY)  # 14 days since last seen
    assert profile(client)["lifecycleStage"] == "at_risk"
    clock.advance(17 * DAY)  # 31 days
    found = profile(client)
    assert (found["lifecycleStage"], found["engagementTier"], found["plays30d"], found["engagementScore"]) == (
        "churned", "casual", 0, 6.7)  # only breadth is left: 100 * 0.2 / 3
    assert found["recommendations"][0]["name"] == "Win-Back Free Spin"


def test_a_new_profile_scores_a_whole_zero(client):
    found = client.track({"externalId": "u1"}).get_json()["data"]
    assert (found["engagementScore"], found["winRate"]) == (0, 0)
    assert isinstance(found["engagementScore"], int) and isinstance(found["winRate"], int)


def test_the_timeline_pages_newest_first(client):
    post(client, TRACK, {"events": [play(points=i, occurredAt=f"2025-01-{d:02d}T00:00:00Z")
                                    for i, d in enumerate([3, 1, 5, 2, 4], start=1)]})
    first = get(client, f"{USERS}/u1/timeline?limit=2").get_json()["data"]
    assert ([e["occurredAt"][:10] for e in first["events"]], first["page"], first["limit"], first["total"],
            first["totalPages"]) == (["2025-01-05", "2025-01-04"], 1, 2, 5, 3)
    last = get(client, f"{USERS}/u1/timeline?limit=2&page=3").get_json()["data"]
    assert [e["occurredAt"][:10] for e in last["events"]] == ["2025-01-01"]
    beyond = get(client, f"{USERS}/u1/timeline?limit=2&page=4").get_json()["data"]
    assert (beyond["events"], beyond["total"]) == ([], 5)


def test_a_user_without_events_has_an_empty_timeline(client):
    client.track({"externalId": "u1"})
    assert get(client, f"{USERS}/u1/timeline").get_json()["data"] == {
        "events": [], "page": 1, "limit": 20, "total": 0, "totalPages": 0}


@pytest.mark.parametrize("query, message", [
    ("limit=101", "limit must be at most 100"),
    ("limit=0", "limit must be at least 1"),
    ("page=0", "page must be at least 1"),
    ("page=two", "page must be an integer"),
    ("limit=1_0", "limit must be an integer"),
    ("limit=%201", "limit must be an integer"),
    ("page=" + "1" * 5000, "page has more than 4,300 digits"),  # int() refuses these: it was a 500
])
def test_bad_timeline_queries_are_400_naming_the_parameter(client, query, message):
    client.track({"externalId": "u1"})
    response = get(client, f"{USERS}/u1/timeline?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert (body["message"], body["errors"][0]["message"]) == ("Invalid query parameters", message)


@pytest.mark.parametrize("occurred_at", ["1001-01-01T00:00:00+23:59", "9997-12-31T23:59:59-23:59"])
def test_an_event_at_either_end_of_the_range_survives_export_and_import(client, occurred_at):
    post(client, EVENTS, play(occurredAt=occurred_at))
    exported = client.get("/__mock/export").get_json()
    client.post("/__mock/reset")
    assert client.post("/__mock/fixtures", json=exported).status_code == 200
    assert client.get("/__mock/export").get_json() == exported


def nested(levels: int) -> str:
    """JSON text of an object `levels` objects deep, itself included (too deep for json.dumps)."""
    return '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)


def test_a_body_nested_over_64_levels_is_400_and_exports_keep_working(client, store):
    """Nested 977 deep, an event was a 500; 976 deep it was stored and broke every export after it."""
    def send(levels: int):
        body = '{"externalId": "u1", "category": "CUSTOM", "eventType": "x", "metadata": ' + nested(levels) + "}"
        return client.post(EVENTS, data=body, content_type="application/json", headers={"X-API-Key": TEST_KEY})

    assert send(63).status_code == 200  # 64 levels with the body
    for levels in (64, 976, 977):
        response = send(levels)
        assert (response.status_code, response.get_json()["errors"]) == (400, [
            {"field": "", "message": "JSON is nested too deeply (more than 64 levels)"}])
    assert profile(client)["totalEvents"] == 1
    assert client.get("/__mock/export").status_code == 200


def test_options_lists_the_methods_in_one_order(client):
    assert client.options(f"{USERS}/u1").headers["Allow"] == "GET, HEAD, OPTIONS"
    assert client.options(EVENTS).headers["Allow"] == "OPTIONS, POST"
