"""Fixtures that carry events: relative times, seen times, id conflicts, the export round trip, and
the shipped personas of every stage and tier. Everything goes in and out over HTTP (the test client,
whose answers are checked against the specs)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import LIVE_KEY, TEST_KEY, ConformingClient
from fixture_personas import ACME_TEST_KEY, PERSONAS

from mock_server import create_app
from mock_server.clock import Clock
from mock_server.journeys.engine import STAGES, TIERS

ROOT = Path(__file__).resolve().parent.parent
USERS = "/v1/user-journeys/users"


def client_at(clock: Clock, **config: Any) -> ConformingClient:
    app = create_app({"TESTING": True, "CLOCK": clock, **config})
    app.test_client_class = ConformingClient
    return app.test_client()


def load(client, *entries: dict[str, Any]):
    return client.post("/__mock/fixtures", json={"profiles": list(entries)})


def user(client, external_id: str, key: str = TEST_KEY) -> dict[str, Any]:
    response = client.get(f"{USERS}/{external_id}", headers={"X-API-Key": key})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def timeline(client, external_id: str, key: str = TEST_KEY) -> list[dict[str, Any]]:
    """Every event of the user, newest first, page by page."""
    events: list[dict[str, Any]] = []
    page = 1
    while True:
        data = client.get(f"{USERS}/{external_id}/timeline?page={page}&limit=100",
                          headers={"X-API-Key": key}).get_json()["data"]
        events += data["events"]
        if page >= data["totalPages"]:
            return events
        page += 1


# --- the shipped personas ----------------------------------------------------------------

@pytest.mark.parametrize("now", [datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
                                 datetime(2061, 11, 17, 3, 15, 42, tzinfo=UTC)])
def test_shipped_fixtures_have_a_user_in_every_stage_and_tier_whatever_the_date(now):
    client = client_at(Clock(frozen_at=now), FIXTURES=[ROOT / "fixtures"], KEYS_FILE=ROOT / "examples" / "keys.yaml")
    shown = {name: (user(client, name, ACME_TEST_KEY)["lifecycleStage"],
                    user(client, name, ACME_TEST_KEY)["engagementTier"]) for name in PERSONAS}
    assert shown == PERSONAS
    assert {stage for stage, _ in shown.values()} == set(STAGES)
    assert {tier for _, tier in shown.values()} == set(TIERS)


@pytest.mark.parametrize("now", [datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
                                 datetime(2061, 11, 17, 3, 15, 42, tzinfo=UTC)])
def test_shipped_fixtures_place_their_offers_relative_to_the_mocks_clock(now):
    """Seen by the control listing, which issues nothing: only the placed offers, whatever the date."""
    client = client_at(Clock(frozen_at=now), FIXTURES=[ROOT / "fixtures"], KEYS_FILE=ROOT / "examples" / "keys.yaml")
    partner = user(client, "stage-new", ACME_TEST_KEY)["partnerId"]

    def placed(external_id: str) -> list[tuple[str, str, str, str, dict[str, Any]]]:
        listing = client.get(f"/__mock/offers?partnerId={partner}&environment=TEST&externalId={external_id}")
        return [(o["offerType"], o["status"], o["issuedAt"], o["expiresAt"], o["metadata"])
                for o in listing.get_json()["data"]["offers"]]

    def at(hours: int) -> str:
        return (now + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert placed("stage-new") == [("welcome_free_play", "active", at(-47), at(7 * 24 - 47), {})]
    assert placed("tier-whale") == [("vip_play", "active", at(-24), at(6 * 24), {"tableId": "high-roller-1"})]
    assert placed("stage-churned") == [("win_back_play", "expired", at(-240), at(-72), {})]
    assert placed("stage-active") == []


# --- relative times and seen times -------------------------------------------------------

def test_ago_counts_back_from_the_mocks_clock_at_load_time(client, clock):
    clock.advance(timedelta(days=400))
    events = [{"category": "GAME_PLAY", "eventType": "spin", "points": 5, "ago": ago} for ago in ("3d", "12h", "90m")]
    events += [{"category": "CUSTOM", "eventType": "signed_up", "ago": "0s"},
               {"category": "POINTS", "eventType": "bonus", "points": 7, "occurredAt": "2025-01-01T00:00:00+01:00"},
               {"category": "CUSTOM", "eventType": "no_time"}]
    assert load(client, {"apiKey": TEST_KEY, "profile": {"externalId": "u"}, "events": events}).status_code == 200
    # 400 days after 2025-01-15T10:30:00Z is 2026-02-19T10:30:00Z; no time at all is now, as trackEvent's default.
    assert [(e["eventType"], e["occurredAt"]) for e in timeline(client, "u")] == [
        ("no_time", "2026-02-19T10:30:00Z"), ("signed_up", "2026-02-19T10:30:00Z"), ("spin", "2026-02-19T09:00:00Z"),
        ("spin", "2026-02-18T22:30:00Z"), ("spin", "2026-02-16T10:30:00Z"), ("bonus", "2024-12-31T23:00:00Z")]


def test_an_entry_with_events_is_seen_when_they_happened(client):
    plays = [{"category": "GAME_PLAY", "eventType": "spin", "ago": ago} for ago in ("40d", "35d")]
    response = load(client, {"apiKey": TEST_KEY, "profile": {"externalId": "gone", "displayName": "Gone"},
                             "events": plays},
                    {"apiKey": TEST_KEY, "profile": {"externalId": "plain"}})
    assert response.get_json()["data"] == {"created": 2, "updated": 0}
    gone = user(client, "gone")
    assert (gone["firstSeenAt"], gone["lastSeenAt"], gone["lifecycleStage"]) == (
        "2024-12-06T10:30:00Z", "2024-12-11T10:30:00Z", "churned")
    plain = user(client, "plain")
    assert (plain["firstSeenAt"], plain["lastSeenAt"]) == ("2025-01-15T10:30:00Z", "2025-01-15T10:30:00Z")


def test_given_seen_times_widen_to_cover_the_events_as_tracking_does(client):
    load(client, {"apiKey": TEST_KEY, "profile": {"externalId": "w"}, "firstSeenAt": "2025-01-10T00:00:00Z",
                  "lastSeenAt": "2025-01-11T00:00:00Z",
                  "events": [{"category": "GAME_PLAY", "eventType": "spin", "occurredAt": "2025-01-09T00:00:00Z"},
                             {"category": "GAME_PLAY", "eventType": "spin", "occurredAt": "2025-01-10T12:00:00Z"}]})
    w = user(client, "w")
    assert (w["firstSeenAt"], w["lastSeenAt"]) == ("2025-01-09T00:00:00Z", "2025-01-11T00:00:00Z")


def test_events_loaded_onto_a_stored_profile_do_not_make_it_seen_now(client, clock):
    client.track({"externalId": "old", "displayName": "Kept"})
    clock.advance(timedelta(days=10))
    load(client, {"apiKey": TEST_KEY, "profile": {"externalId": "old"},
                  "events": [{"category": "GAME_PLAY", "eventType": "spin", "ago": "1d"},
                             {"category": "GAME_PLAY", "eventType": "spin", "ago": "12d"}]})
    old = user(client, "old")
    assert (old["firstSeenAt"], old["lastSeenAt"], old["displayName"], old["totalPlays"]) == (
        "2025-01-13T10:30:00Z", "2025-01-24T10:30:00Z", "Kept", 2)


def test_an_ago_before_the_earliest_time_the_mock_holds_is_refused(client, clock, store):
    clock.freeze(datetime(1, 1, 5, tzinfo=UTC))
    response = load(client, {"apiKey": TEST_KEY, "profile": {"externalId": "ancient"},
                             "events": [{"category": "CUSTOM", "eventType": "x", "ago": "1d"},
                                        {"category": "CUSTOM", "eventType": "x", "ago": "5d"}]})
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{
        "field": "profiles.0.events.1.ago",
        "message": "request body: entry 1 (externalId 'ancient'): events.1.ago: 432,000 seconds before the mock's "
                   "now (0001-01-05T00:00:00Z) is earlier than the mock can hold (0001-01-02)"}]
    assert len(store) == 0


# --- event ids ---------------------------------------------------------------------------

EVENT_ID = "6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b"


def test_an_event_id_already_stored_is_a_conflict_and_nothing_loads(client, store):
    event = {"id": EVENT_ID, "category": "GAME_PLAY", "eventType": "spin"}
    assert load(client, {"apiKey": TEST_KEY, "profile": {"externalId": "first"}, "events": [event]}).status_code == 200
    response = load(client, {"apiKey": TEST_KEY, "profile": {"externalId": "new-one"}},
                    {"apiKey": LIVE_KEY, "profile": {"externalId": "second"},
                     "events": [{"category": "CUSTOM", "eventType": "x"}, event]})
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{
        "field": "profiles.1.events.1.id",
        "message": f"request body: entry 2 (externalId 'second'): events.1.id: id {EVENT_ID} is already stored, "
                   "as an event of externalId 'first'"}]
    assert len(store) == 1 and user(client, "first")["totalEvents"] == 1


def test_an_event_id_given_twice_in_one_load_is_named_with_every_other_problem(client, store):
    """The same UUID in another case is the same id."""
    event = {"id": EVENT_ID, "category": "GAME_PLAY", "eventType": "spin"}
    response = load(client, {"apiKey": TEST_KEY, "profile": {"externalId": "a"}, "events": [event]},
                    {"apiKey": TEST_KEY, "profile": {"externalId": "b"},
                     "events": [{"category": "CUSTOM", "eventType": "x"}, {**event, "id": EVENT_ID.upper()}]},
                    {"apiKey": TEST_KEY, "profile": {"externalId": "c"},
                     "events": [{"category": "GAME_PLAY", "eventType": "spin", "points": 1.5}]})
    assert response.status_code == 400
    assert [(e["field"], e["message"]) for e in response.get_json()["errors"]] == [
        ("profiles.1.events.1.id", f"request body: entry 2 (externalId 'b'): events.1.id: id {EVENT_ID.upper()} is "
                                   "also the id of an earlier event (request body: entry 1 (externalId 'a'), "
                                   "events.0)"),
        ("profiles.2.events.0.points", "request body: entry 3 (externalId 'c'): events.0.points must be of type "
                                       "integer")]
    assert len(store) == 0


# --- export and import -------------------------------------------------------------------

def build_history(client, clock) -> None:
    """Profiles with and without events, loaded and tracked: backfills, one second's ties, campaigns,
    deductions and metadata, in two environments."""
    load(client, {"apiKey": TEST_KEY, "profile": {"externalId": "loaded", "country": "NG"},
                  "events": [{"category": "CAMPAIGN", "eventType": "joined", "ago": "20d",
                              "metadata": {"campaignSlug": "summer"}},
                             {"category": "GAME_PLAY", "eventType": "spin", "points": 30, "ago": "2d",
                              "metadata": {"gameType": "NEON_WHEEL", "n": [1, {"x": None}]}}]},
         {"apiKey": LIVE_KEY, "profile": {"externalId": "quiet", "tags": {"plan": "free"}}})
    clock.advance(timedelta(hours=5))
    tie = "2025-01-10T08:00:00Z"
    batch = [{"externalId": "loaded", "category": "GAME_PLAY", "eventType": f"t{i}", "points": i - 1,
              "occurredAt": tie} for i in range(3)]
    batch += [{"externalId": "tracked", "category": "POINTS", "eventType": "redeem", "points": -40},
              {"externalId": "tracked", "category": "CAMPAIGN", "eventType": "joined"},
              {"externalId": "loaded", "category": "GAME_PLAY", "eventType": "late", "points": 9}]
    assert client.post("/v1/user-journeys/track", json={"events": batch},
                       headers={"X-API-Key": TEST_KEY}).status_code == 200
    client.post("/v1/user-journeys/events", json={"externalId": "loaded", "category": "GAME_PLAY", "eventType": "old",
                                                  "occurredAt": "2024-12-01T00:00:00Z"},
                headers={"X-API-Key": TEST_KEY})


def everything(client) -> dict[str, Any]:
    """Every user's profile (as GET /users shows it) and timeline, by environment and externalId."""
    return {(key, name): (user(client, name, key), timeline(client, name, key))
            for key, name in ((TEST_KEY, "loaded"), (TEST_KEY, "tracked"), (LIVE_KEY, "quiet"))}


def test_an_export_loads_into_a_fresh_mock_with_the_same_timelines_and_figures(client, clock):
    build_history(client, clock)
    exported = client.get("/__mock/export")
    loaded = [e for e in exported.get_json()["profiles"] if e["profile"]["externalId"] == "loaded"][0]
    assert [(e["eventType"], e["occurredAt"]) for e in loaded["events"]] == [
        ("old", "2024-12-01T00:00:00Z"), ("joined", "2024-12-26T10:30:00Z"), ("t0", "2025-01-10T08:00:00Z"),
        ("t1", "2025-01-10T08:00:00Z"), ("t2", "2025-01-10T08:00:00Z"), ("spin", "2025-01-13T10:30:00Z"),
        ("late", "2025-01-15T15:30:00Z")]  # oldest first, one second's in the order stored
    assert set(loaded["events"][-2]) == {"id", "category", "eventType", "points", "occurredAt", "metadata"}
    fresh = client_at(Clock(frozen_at=clock.now()))
    assert fresh.post("/__mock/fixtures", json=exported.get_json()).get_json()["data"] == {"created": 3, "updated": 0}
    assert fresh.get("/__mock/export").data == exported.data
    before = everything(client)
    assert before[(TEST_KEY, "loaded")][0]["campaignsJoined"] == 1 and len(before[(TEST_KEY, "loaded")][1]) == 7
    assert everything(fresh) == before
    # The figures stay equal as both clocks move on, the windows too.
    for mock_clock in (clock, fresh.application.extensions["gamifyhost_mock"].clock):
        mock_clock.advance(timedelta(days=6))
    assert everything(fresh) == everything(client)


def test_loading_an_export_back_into_its_own_mock_adds_nothing(client, clock):
    build_history(client, clock)
    exported = client.get("/__mock/export").get_json()
    response = client.post("/__mock/fixtures", json=exported)
    assert response.status_code == 200
    assert user(client, "loaded")["totalEvents"] == 7
    assert client.get("/__mock/export").get_json() == exported


def test_loading_the_same_fixture_twice_adds_its_events_once(client):
    document = {"profiles": [{"apiKey": TEST_KEY, "profile": {"externalId": "again"}, "events": [
        {"category": "GAME_PLAY", "eventType": "spin", "ago": "1d"},
        {"category": "GAME_PLAY", "eventType": "spin", "ago": "1d"}]}]}
    for expected in ({"created": 1, "updated": 0}, {"created": 0, "updated": 1}):
        assert client.post("/__mock/fixtures", json=document).get_json()["data"] == expected
        assert user(client, "again")["totalEvents"] == 2  # two equal events are two events, once each
    # A day later the same document again: its events are stored, so the user is not seen any later.
    seen = user(client, "again")["lastSeenAt"]
    client.post("/__mock/clock", json={"action": "advance", "seconds": 86400})
    client.post("/__mock/fixtures", json=document)
    assert (user(client, "again")["lastSeenAt"], user(client, "again")["totalEvents"]) == (seen, 2)
    document["profiles"][0]["events"].append({"category": "CUSTOM", "eventType": "level_up", "ago": "1h"})
    client.post("/__mock/fixtures", json=document)
    assert user(client, "again")["totalEvents"] == 3  # an added event is new


def test_an_exported_event_id_stored_for_another_user_is_a_conflict(client, clock):
    build_history(client, clock)
    exported = client.get("/__mock/export").get_json()
    entry = next(e for e in exported["profiles"] if e.get("events"))
    entry["profile"]["externalId"] = "someone-else"
    del entry["id"]
    response = client.post("/__mock/fixtures", json={"profiles": [entry]})
    assert response.status_code == 400
    [error] = response.get_json()["errors"]
    assert error["field"] == "profiles.0.events.0.id"
    assert "is already stored, as an event of externalId" in error["message"]


def test_reset_clears_events_with_their_profiles(client, clock):
    build_history(client, clock)
    assert client.post("/__mock/reset").get_json()["data"]["removedEvents"] == 9
    assert client.get("/__mock/export").get_json() == {"profiles": []}

