"""The partner app against gamifyhost-mock: only the plugin's fixtures, no conftest.py.

gamifyhost_mock is one real mock for the session (state carries over from test to test);
gamifyhost_client is a fresh mock in this process for each test. Both load
fixtures/regulars.yaml and hand out the keys of pyproject.toml.
"""
from __future__ import annotations

import pytest
from partner_app import GamifyHostUnavailable, Loyalty


@pytest.fixture
def loyalty(gamifyhost_mock):
    """The app, pointed at the mock with the test key."""
    return Loyalty(gamifyhost_mock.base_url, gamifyhost_mock.test_key)


def test_sign_up_creates_a_profile_of_the_partner(gamifyhost_mock, loyalty):
    assert loyalty.sign_up("chidi", "Chidi Eze", "NG")["lifecycleStage"] == "new"
    [stored] = gamifyhost_mock.profiles(external_id="chidi")
    assert (stored["partnerId"], stored["environment"]) == (gamifyhost_mock.partner_id, "TEST")


def test_state_carries_over_between_tests(gamifyhost_mock):
    assert [p["externalId"] for p in gamifyhost_mock.profiles(environment="TEST")] == ["regular-ada", "chidi"]


@pytest.mark.gamifyhost_reset
def test_the_marker_puts_the_mock_back_as_it_started(gamifyhost_mock, loyalty):
    assert [p["externalId"] for p in gamifyhost_mock.profiles(environment="TEST")] == ["regular-ada"]
    assert loyalty.points_this_week("regular-ada") == 20  # from fixtures/regulars.yaml


def test_live_profiles_are_apart_from_test_ones(gamifyhost_mock):
    live = Loyalty(gamifyhost_mock.base_url, gamifyhost_mock.live_key)
    assert live.points_this_week("regular-ada") == 0  # the LIVE regular-ada has no events
    assert [e["eventType"] for e in gamifyhost_mock.events("regular-ada")] == ["spin_the_wheel"] * 2
    assert gamifyhost_mock.events("regular-ada", key=gamifyhost_mock.live_key) == []


@pytest.mark.gamifyhost_reset  # on a class: each of its tests starts from a fresh mock
class TestOnAControlledMock:
    def test_the_stage_follows_the_clock(self, gamifyhost_mock, loyalty):
        gamifyhost_mock.clock.freeze("2026-03-01T12:00:00Z")
        loyalty.sign_up("drifter", "Bola Ade", "GH")
        for points in (10, 0, 25, 0):
            loyalty.record_spin("drifter", points)
        assert loyalty.stage("drifter") == "active"
        gamifyhost_mock.clock.advance(days=20)
        assert loyalty.stage("drifter") == "at_risk"
        gamifyhost_mock.clock.advance("P15D")
        assert loyalty.stage("drifter") == "churned"
        assert gamifyhost_mock.clock.now().isoformat() == "2026-04-05T12:00:00+00:00"

    def test_a_failure_of_gamifyhost_is_seen_and_retried(self, gamifyhost_mock, loyalty):
        assert not gamifyhost_mock.clock.frozen  # the marker's reset put the clock back to real time
        gamifyhost_mock.faults.add("trackUser", count=1)
        with pytest.raises(GamifyHostUnavailable, match="Failed to track user"):
            loyalty.sign_up("unlucky", "Kofi Mensah", "GH")
        assert gamifyhost_mock.profiles(external_id="unlucky") == []
        loyalty.sign_up("unlucky", "Kofi Mensah", "GH")  # the app's retry
        sent = gamifyhost_mock.requests(limit=2)
        assert [(r["method"], r["path"], r["status"]) for r in sent] == [("POST", "/v1/user-journeys/users", 200),
                                                                        ("POST", "/v1/user-journeys/users", 500)]
        assert sent[0]["body"] == {"externalId": "unlucky", "displayName": "Kofi Mensah", "country": "GH"}
        assert sent[0]["headers"]["X-API-Key"] == gamifyhost_mock.test_key

    def test_offers_from_the_mock_and_placed_ones(self, gamifyhost_mock, loyalty):
        gamifyhost_mock.clock.freeze("2026-03-01T12:00:00Z")
        loyalty.sign_up("newcomer", "Ife Ola", "NG")
        assert loyalty.offer_types("newcomer") == ["welcome_free_play", "welcome_bonus"]
        gamifyhost_mock.place_offer("newcomer", offerType="vip_play", expiresIn="1h")
        assert loyalty.offer_types("newcomer")[-1] == "vip_play"
        gamifyhost_mock.clock.advance(hours=2)
        assert "vip_play" not in loyalty.offer_types("newcomer")
        statuses = {o["offerType"]: o["status"] for o in gamifyhost_mock.offers("newcomer")["offers"]}
        assert statuses["vip_play"] == "expired"


@pytest.mark.gamifyhost_reset  # the class's last test left the clock frozen in 2026
def test_the_mock_api_directly(gamifyhost_mock):
    with gamifyhost_mock.api() as api:  # a requests session: paths from base_url, X-API-Key set
        assert api.get("/v1/user-journeys/users/regular-ada").json()["data"]["plays7d"] == 2
        assert api.get("/v1/user-journeys/users/nobody").status_code == 404


def test_in_process_each_test_gets_a_fresh_mock(gamifyhost_client):
    api = gamifyhost_client.api()  # a Flask test client carrying the test key
    assert api.get("/v1/user-journeys/users/regular-ada").get_json()["data"]["plays7d"] == 2
    assert api.get("/v1/user-journeys/users/chidi").status_code == 404  # the session mock's user is not here
    gamifyhost_client.clock.freeze("2026-03-01T12:00:00Z")
    api.post("/v1/user-journeys/users", json={"externalId": "quiet"})
    gamifyhost_client.clock.advance("P31D")
    assert api.get("/v1/user-journeys/users/quiet").get_json()["data"]["lifecycleStage"] == "churned"
    gamifyhost_client.load_fixtures({"profiles": [{"apiKey": gamifyhost_client.live_key,
                                                   "profile": {"externalId": "live-only"}}]})
    assert [p["externalId"] for p in gamifyhost_client.profiles(environment="LIVE")] == ["regular-ada", "live-only"]
