"""QA's side of offers: listing a user's offers in every status, placing one by hand, fixtures and
exports that carry them, reset, --state and seed. HTTP in, HTTP out: every answer of the test
client is also checked against the specs."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from conftest import LIVE_KEY, OTHER_PARTNER_TEST_KEY, TEST_KEY
from test_fixture_journeys import client_at
from test_seed import seed
from test_state import kill_hard

from mock_server.auth import derived_partner_id
from mock_server.clock import Clock, format_timestamp
from mock_server.fixtures import FixtureError
from mock_server.spec import load_contract, load_control_contract

from live_server import http, start_server

PARTNER = derived_partner_id(TEST_KEY[8:])
USERS = "/v1/user-journeys/users"
OFFER_ID = "5c0ffee0-1d2e-4f3a-8b4c-5d6e7f8091a2"
SPIN = ("welcome_free_play", "spin_the_wheel", "Welcome Free Spin",
        "Try a free spin on us — new players get a guaranteed prize!", 50)


def listing(client, external_id: str = "u", partner: str = PARTNER, environment: str = "TEST"):
    return client.get(f"/__mock/offers?partnerId={partner}&environment={environment}&externalId={external_id}")


def offers_of(client, external_id: str = "u", **where: str) -> list[dict[str, Any]]:
    response = listing(client, external_id, **where)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]["offers"]


def place(client, external_id: str = "u", partner: str = PARTNER, environment: str = "TEST", **offer: Any):
    return client.post("/__mock/offers", json={"partnerId": partner, "environment": environment,
                                               "externalId": external_id, **offer})


def public_offers(client, external_id: str = "u", key: str = TEST_KEY):
    return client.get(f"{USERS}/{external_id}/offers", headers={"X-API-Key": key})


def claim(client, offer_id: str, external_id: str = "u", key: str = TEST_KEY):
    return client.post(f"{USERS}/{external_id}/offers/{offer_id}/claim", headers={"X-API-Key": key})


def total_events(client, external_id: str = "u") -> int:
    data = client.get(f"{USERS}/{external_id}", headers={"X-API-Key": TEST_KEY}).get_json()["data"]
    return int(data["totalEvents"])


def load(client, *entries: dict[str, Any]):
    return client.post("/__mock/fixtures", json={"profiles": list(entries)})


# --- GET /__mock/offers ------------------------------------------------------------------

def test_the_listing_shows_every_offer_in_every_status_with_its_issue_time_and_the_segment(client, clock):
    client.track({"externalId": "u"})
    assert offers_of(client) == []  # reading here issues nothing
    issued = public_offers(client).get_json()["data"]["offers"]
    assert [o["offerType"] for o in issued] == ["welcome_free_play", "welcome_bonus"]
    assert claim(client, issued[0]["id"]).status_code == 200
    clock.advance(timedelta(days=7))
    # Seen 7 days ago (the claim), with the claim's 50 points: 100 * (0.3 * 23/30 + 0.2 * 50/500) = 25.
    body = listing(client).get_json()
    assert body["data"]["segment"] == {"lifecycleStage": "active", "engagementTier": "casual",
                                       "engagementScore": 25.0, "churnRisk": 75.0}
    assert body["data"]["offers"] == [
        {**issued[0], "status": "claimed", "claimedAt": "2025-01-15T10:30:00Z", "issuedAt": "2025-01-15T10:30:00Z"},
        {**issued[1], "status": "expired", "issuedAt": "2025-01-15T10:30:00Z"}]
    assert list(body["data"]["offers"][0]) == ["id", "externalId", "offerType", "gameType", "title", "description",
                                               "pointsValue", "status", "expiresAt", "claimedAt", "metadata",
                                               "issuedAt"]


def test_the_listing_of_a_user_in_no_space_of_the_query_is_404(client):
    client.track({"externalId": "u"})
    assert listing(client, "nobody").get_json() == {"status": "error", "code": 404, "message": "User not found"}
    assert listing(client, environment="LIVE").status_code == 404
    assert listing(client, partner=derived_partner_id(OTHER_PARTNER_TEST_KEY[8:])).status_code == 404


@pytest.mark.parametrize("query, errors", [
    ("environment=TEST&externalId=u", [("partnerId", "partnerId is required")]),
    (f"partnerId={PARTNER}&environment=DEV&externalId=", [("environment", "environment must be one of: TEST, LIVE"),
                                                          ("externalId", "externalId must not be empty")]),
])
def test_a_bad_listing_query_is_400(client, query, errors):
    body = client.get(f"/__mock/offers?{query}").get_json()
    assert (body["code"], body["message"]) == (400, "Invalid query parameters")
    assert [(e["field"], e["message"]) for e in body["errors"]] == errors


# --- POST /__mock/offers -----------------------------------------------------------------

def test_a_placed_offer_takes_what_its_type_leaves_out_and_can_be_claimed(client, clock):
    client.track({"externalId": "u"})
    response = place(client, offerType="welcome_free_play")
    assert response.status_code == 201
    placed = response.get_json()["data"]
    assert (placed["offerType"], placed["gameType"], placed["title"], placed["description"],
            placed["pointsValue"]) == SPIN
    assert (placed["externalId"], placed["status"], placed["issuedAt"], placed["expiresAt"], placed["claimedAt"],
            placed["metadata"]) == ("u", "active", "2025-01-15T10:30:00Z", "2025-01-22T10:30:00Z", None, {})
    assert offers_of(client) == [placed]
    # The public API lists it (and issues only the welcome bonus besides: one spin per lifetime).
    assert [o["id"] for o in public_offers(client).get_json()["data"]["offers"]][:1] == [placed["id"]]
    clock.advance(timedelta(hours=1))
    claimed = claim(client, placed["id"]).get_json()["data"]["offer"]
    assert (claimed["status"], claimed["claimedAt"]) == ("claimed", "2025-01-15T11:30:00Z")
    assert total_events(client) == 1


def test_every_field_of_a_placed_offer_can_be_given(client):
    client.track({"externalId": "u"})
    given = {"id": OFFER_ID, "offerType": "vip_play", "gameType": "roulette", "title": "Table 7",
             "description": "", "pointsValue": 1_000_000_000, "metadata": {"table": 7, "vip": [True, None]},
             "issuedAt": "2025-01-10T00:00:00+02:00", "expiresAt": "2025-02-01T00:00:00Z",
             "claimedAt": "2025-01-12T09:00:00Z"}
    placed = place(client, **given).get_json()["data"]
    assert placed == {"id": OFFER_ID, "externalId": "u", "offerType": "vip_play", "gameType": "roulette",
                      "title": "Table 7", "description": "", "pointsValue": 1_000_000_000, "status": "claimed",
                      "expiresAt": "2025-02-01T00:00:00Z", "claimedAt": "2025-01-12T09:00:00Z",
                      "metadata": {"table": 7, "vip": [True, None]}, "issuedAt": "2025-01-09T22:00:00Z"}
    assert total_events(client) == 0  # placing a claimed offer writes no offer_claimed event
    assert claim(client, OFFER_ID).get_json()["message"] == "Offer is no longer active"


@pytest.mark.parametrize("times, status, issued, expires", [
    ({"issuedAgo": "2d"}, "active", "2025-01-13T10:30:00Z", "2025-01-20T10:30:00Z"),
    ({"issuedAgo": "8d"}, "expired", "2025-01-07T10:30:00Z", "2025-01-14T10:30:00Z"),
    ({"expiresIn": "-1h"}, "expired", "2025-01-15T10:30:00Z", "2025-01-15T09:30:00Z"),
    ({"expiresIn": "90m"}, "active", "2025-01-15T10:30:00Z", "2025-01-15T12:00:00Z"),
    ({"issuedAgo": "1d", "expiresIn": "-0s"}, "expired", "2025-01-14T10:30:00Z", "2025-01-14T10:30:00Z"),
    ({"issuedAt": "2025-01-20T00:00:00Z", "expiresIn": "1d"}, "active", "2025-01-20T00:00:00Z",
     "2025-01-21T00:00:00Z"),
])
def test_relative_times_count_from_the_mocks_now_and_from_the_issue(client, times, status, issued, expires):
    client.track({"externalId": "u"})
    placed = place(client, offerType="welcome_bonus", **times).get_json()["data"]
    assert (placed["status"], placed["issuedAt"], placed["expiresAt"]) == (status, issued, expires)


def test_an_offer_issued_after_now_is_listed_here_only(client, clock):
    client.track({"externalId": "u"})
    later = place(client, offerType="vip_play", issuedAt="2025-01-16T00:00:00Z").get_json()["data"]
    assert [o["id"] for o in offers_of(client)] == [later["id"]]
    assert later["id"] not in [o["id"] for o in public_offers(client).get_json()["data"]["offers"]]
    assert claim(client, later["id"]).get_json()["message"] == "Offer not found"
    clock.advance(timedelta(days=1))
    assert claim(client, later["id"]).status_code == 200


def test_placing_on_a_user_that_is_not_there_is_404_and_stores_nothing(client):
    client.track({"externalId": "u"})
    for where in ({"external_id": "nobody"}, {"environment": "LIVE"},
                  {"partner": derived_partner_id(OTHER_PARTNER_TEST_KEY[8:])}):
        assert place(client, offerType="vip_play", **where).get_json() == {
            "status": "error", "code": 404, "message": "User not found"}
    client.track({"externalId": "u"}, key=LIVE_KEY)
    assert offers_of(client) == offers_of(client, environment="LIVE") == []


def test_a_fourth_active_offer_at_any_instant_of_its_period_is_409_and_stores_nothing(client):
    client.track({"externalId": "u"})
    for offer in ({"offerType": "vip_play"}, {"offerType": "welcome_bonus", "issuedAgo": "1d"},
                  {"offerType": "daily_free_spin", "issuedAt": "2025-01-20T00:00:00Z"},
                  {"offerType": "return_bonus", "claimedAt": "2025-01-15T10:30:00Z"},  # claimed: not counted
                  {"offerType": "win_back_play", "expiresIn": "-1s"}):  # never active: not counted
        assert place(client, **offer).status_code == 201
    before = offers_of(client)
    # Two are active now; from 2025-01-20T00:00 the daily spin makes three, and the new one four.
    response = place(client, offerType="multiplier_bonus", issuedAgo="1d", expiresIn="6d")
    assert response.status_code == 409
    assert response.get_json() == {
        "status": "error", "code": 409,
        "message": "the user would hold more than 3 active offers at once between 2025-01-14T10:30:00Z and "
                   "2025-01-20T10:30:00Z: claim one, let one expire, or place this one at another time"}
    assert offers_of(client) == before
    # Ending before the daily spin starts, it fits.
    assert place(client, offerType="multiplier_bonus", issuedAgo="1d", expiresIn="5d").status_code == 201


def test_an_id_of_another_users_offer_is_409_and_the_same_users_is_replaced(client):
    client.track({"externalId": "u"})
    client.track({"externalId": "v"})
    first = place(client, id=OFFER_ID, offerType="vip_play").get_json()["data"]
    response = place(client, "v", id=OFFER_ID, offerType="vip_play")
    assert response.status_code == 409
    assert response.get_json()["message"] == f"id {OFFER_ID} is already an offer of externalId 'u'"
    assert offers_of(client, "v") == []
    replaced = place(client, id=OFFER_ID.upper(), offerType="vip_play", title="Renamed",
                     claimedAt="2025-01-15T10:00:00Z").get_json()["data"]
    assert offers_of(client) == [replaced] == [{**first, "title": "Renamed", "status": "claimed",
                                                "claimedAt": "2025-01-15T10:00:00Z"}]


@pytest.mark.parametrize("offer, errors", [
    ({"offerType": "vip_play", "issuedAt": "2025-01-01T00:00:00Z", "issuedAgo": "1d"},
     [("", "body must not have issuedAt together with issuedAgo")]),
    ({"offerType": "vip_play", "expiresAt": "2025-02-01T00:00:00Z", "expiresIn": "7d"},
     [("", "body must not have expiresAt together with expiresIn")]),
    ({"offerType": "free_lunch", "issuedAgo": "-1d", "pointsValue": 1_000_000_001},
     [("issuedAgo", "issuedAgo must be a whole number up to 99999 and s, m, h or d (e.g. 3d)"),
      ("offerType", "offerType must be one of: welcome_free_play, welcome_bonus, win_back_play, return_bonus, "
                    "retention_play, vip_play, multiplier_bonus, daily_free_spin"),
      ("pointsValue", "pointsValue must be at most 1000000000")]),
    ({"offerType": "vip_play", "expiresIn": "1w", "claimedAt": "yesterday", "id": "7"},
     [("claimedAt", "claimedAt is not a valid date-time"),
      ("expiresIn", 'expiresIn must be a whole number up to 99999 and s, m, h or d, optionally after a "-" '
                    "(e.g. 7d, -1h)"),
      ("id", "id is not a valid uuid")]),
    ({"offerType": "vip_play", "expiresAt": "0001-01-01T00:00:00Z"},
     [("expiresAt", "expiresAt: the mock's time must stay between 0001-01-02 and 9999-12-30 (UTC)")]),
    ({"offerType": "vip_play", "externalId": None, "apiKey": TEST_KEY},
     [("", "body has a property not allowed here: 'apiKey'"), ("externalId", "externalId must be of type string")]),
])
def test_a_bad_offer_is_400_naming_each_field_and_stores_nothing(client, offer, errors):
    client.track({"externalId": "u"})
    body = place(client, **offer).get_json()
    assert (body["code"], body["message"]) == (400, "Invalid request body")
    assert [(e["field"], e["message"]) for e in body["errors"]] == errors
    assert offers_of(client) == []


# --- reset -------------------------------------------------------------------------------

def test_reset_counts_the_offers_that_went_with_their_profiles(client):
    client.track({"externalId": "u"})
    client.track({"externalId": "u"}, key=LIVE_KEY)
    public_offers(client)  # issues two
    place(client, offerType="vip_play", environment="LIVE")
    assert client.post("/__mock/reset", json={"environment": "LIVE"}).get_json()["data"] == {
        "removedProfiles": 1, "removedEvents": 0, "removedOffers": 1, "journalCleared": False,
        "faultsCleared": False, "clockReset": False}
    assert len(offers_of(client)) == 2
    assert client.post("/__mock/reset").get_json()["data"]["removedOffers"] == 2
    client.track({"externalId": "u"})
    assert offers_of(client) == []  # the same user again starts without offers


# --- fixtures and exports ----------------------------------------------------------------

def entry(external_id: str = "u", key: str = TEST_KEY, **extra: Any) -> dict[str, Any]:
    return {"apiKey": key, "profile": {"externalId": external_id}, **extra}


def test_fixture_offers_load_once_however_often_the_document_is_loaded(client, clock):
    document = {"profiles": [entry(offers=[{"offerType": "welcome_free_play", "issuedAgo": "1d"},
                                           {"offerType": "welcome_free_play", "issuedAgo": "1d"},
                                           {"offerType": "return_bonus", "expiresIn": "-1h",
                                            "metadata": {"why": "lapsed"}}])]}
    assert client.post("/__mock/fixtures", json=document).get_json()["data"] == {"created": 1, "updated": 0}
    first = offers_of(client)
    assert [(o["offerType"], o["status"], o["issuedAt"], o["expiresAt"], o["metadata"]) for o in first] == [
        ("welcome_free_play", "active", "2025-01-14T10:30:00Z", "2025-01-21T10:30:00Z", {}),
        ("welcome_free_play", "active", "2025-01-14T10:30:00Z", "2025-01-21T10:30:00Z", {}),  # two equal: two
        ("return_bonus", "expired", "2025-01-15T10:30:00Z", "2025-01-15T09:30:00Z", {"why": "lapsed"})]
    clock.advance(timedelta(hours=5))
    assert client.post("/__mock/fixtures", json=document).get_json()["data"] == {"created": 0, "updated": 1}
    assert offers_of(client) == first  # found stored, by their derived ids: not placed again 5 hours later
    document["profiles"][0]["offers"].append({"offerType": "vip_play"})
    client.post("/__mock/fixtures", json=document)
    assert [o["issuedAt"] for o in offers_of(client)][3:] == ["2025-01-15T15:30:00Z"]  # an added offer is new


def test_an_export_carries_every_offer_and_loads_back_the_same(client, clock):
    client.track({"externalId": "u"})
    client.track({"externalId": "w"}, key=LIVE_KEY)
    issued = public_offers(client).get_json()["data"]["offers"]
    claim(client, issued[0]["id"])
    place(client, "w", environment="LIVE", offerType="vip_play", metadata={"table": [1, {"x": None}]},
          issuedAgo="3d", claimedAt="2025-01-13T12:00:00Z")
    clock.advance(timedelta(days=3))
    exported = client.get("/__mock/export").get_json()
    u = next(e for e in exported["profiles"] if e["profile"]["externalId"] == "u")
    assert u["offers"] == [
        {"id": issued[0]["id"], "offerType": "welcome_free_play", "gameType": "spin_the_wheel",
         "title": "Welcome Free Spin", "description": SPIN[3], "pointsValue": 50, "metadata": {},
         "issuedAt": "2025-01-15T10:30:00Z", "expiresAt": "2025-01-22T10:30:00Z", "claimedAt": "2025-01-15T10:30:00Z"},
        {"id": issued[1]["id"], "offerType": "welcome_bonus", "gameType": "", "title": "Welcome Bonus",
         "description": "100 bonus points to start your first week.", "pointsValue": 100, "metadata": {},
         "issuedAt": "2025-01-15T10:30:00Z", "expiresAt": "2025-01-22T10:30:00Z"}]
    fresh = client_at(Clock(frozen_at=clock.now()))
    assert fresh.post("/__mock/fixtures", json=exported).get_json()["data"] == {"created": 2, "updated": 0}
    assert fresh.get("/__mock/export").data == client.get("/__mock/export").data
    for user, environment in (("u", "TEST"), ("w", "LIVE")):
        assert listing(fresh, user, environment=environment).get_json() == \
            listing(client, user, environment=environment).get_json()
    # Loaded back into its own mock, it changes nothing.
    assert client.post("/__mock/fixtures", json=exported).status_code == 200
    assert client.get("/__mock/export").get_json() == exported


def test_an_offer_id_stored_for_another_user_refuses_the_whole_load(client):
    load(client, entry(offers=[{"id": OFFER_ID, "offerType": "vip_play"}]))
    response = load(client, entry("new-one"),
                    entry("other", offers=[{"offerType": "vip_play"}, {"id": OFFER_ID, "offerType": "vip_play"}]))
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{
        "field": "profiles.1.offers.1.id",
        "message": f"request body: entry 2 (externalId 'other'): offers.1.id: id {OFFER_ID} is already an offer "
                   "of externalId 'u'"}]
    assert [p["profile"]["externalId"] for p in client.get("/__mock/export").get_json()["profiles"]] == ["u"]


def test_fixture_offers_over_the_cap_refuse_the_whole_load(client):
    response = load(client, entry("fine", offers=[{"offerType": "vip_play"}]),
                    entry("crowded", offers=[{"offerType": "vip_play"}, {"offerType": "welcome_bonus"},
                                             {"offerType": "return_bonus", "claimedAt": "2025-01-15T10:30:00Z"},
                                             {"offerType": "welcome_free_play"},
                                             {"offerType": "daily_free_spin", "issuedAgo": "1h"}]))
    assert response.status_code == 400
    assert response.get_json()["errors"] == [{
        "field": "profiles.1.offers.4",
        "message": "request body: entry 2 (externalId 'crowded'): offers.4: the user would hold more than 3 active "
                   "offers at once between 2025-01-15T09:30:00Z and 2025-01-16T09:30:00Z: claim one, let one "
                   "expire, or place this one at another time"}]
    assert client.get("/__mock/export").get_json() == {"profiles": []}


def test_every_bad_fixture_offer_is_named_by_entry_and_field(client):
    response = load(client,
                    entry("a", offers=[{"id": OFFER_ID, "offerType": "vip_play"}]),
                    entry("b", offers=[{"offerType": "vip_play", "claimedAt": "9999-12-31T00:00:00Z"},
                                       {"id": OFFER_ID.upper(), "offerType": "vip_play"}]),
                    entry("c", offers=[{"offerType": "vip_play", "issuedAgo": "1d", "issuedAt": "2025-01-01T00:00:00Z",
                                        "expiresIn": "-1x"}]))
    assert response.status_code == 400
    assert [(e["field"], e["message"]) for e in response.get_json()["errors"]] == [
        ("profiles.1.offers.0.claimedAt", "request body: entry 2 (externalId 'b'): offers.0.claimedAt: the mock's "
                                          "time must stay between 0001-01-02 and 9999-12-30 (UTC)"),
        ("profiles.1.offers.1.id", f"request body: entry 2 (externalId 'b'): offers.1.id: id {OFFER_ID.upper()} is "
                                   "also the id of an earlier offer (request body: entry 1 (externalId 'a'), "
                                   "offers.0)"),
        ("profiles.2.offers.0", "request body: entry 3 (externalId 'c'): offers.0 must not have issuedAt together "
                                "with issuedAgo"),
        ("profiles.2.offers.0.expiresIn", "request body: entry 3 (externalId 'c'): offers.0.expiresIn must be a whole "
                                          'number up to 99999 and s, m, h or d, optionally after a "-" (e.g. 7d, -1h)')]
    assert client.get("/__mock/export").get_json() == {"profiles": []}


def test_one_offer_id_in_two_fixture_files_stops_start_up(tmp_path):
    for name, user in (("a.yaml", "first"), ("b.yaml", "second")):
        (tmp_path / name).write_text(yaml.safe_dump({"profiles": [entry(user, offers=[
            {"id": OFFER_ID, "offerType": "vip_play"}])]}), encoding="utf-8")
    with pytest.raises(FixtureError) as refused:
        client_at(Clock(), FIXTURES=[tmp_path])
    assert str(refused.value) == (f"{tmp_path / 'b.yaml'}: entry 1 (externalId 'second'): offers.0.id: id {OFFER_ID} "
                                  f"is also the id of an earlier offer ({tmp_path / 'a.yaml'}: entry 1 "
                                  "(externalId 'first'), offers.0)")


# --- the specs ---------------------------------------------------------------------------

def test_the_place_offer_body_is_a_fixture_offer_and_its_user():
    control = load_control_contract()
    schemas = control.document["components"]["schemas"]
    body, offer = schemas["PlaceOfferRequest"], schemas["FixtureOffer"]
    assert list(body["properties"]) == ["partnerId", "environment", "externalId", *offer["properties"]]
    assert all(body["properties"][name] == {"$ref": f"#/components/schemas/FixtureOffer/properties/{name}"}
               for name in offer["properties"])
    assert body["required"] == ["partnerId", "environment", "externalId", *offer["required"]]
    assert body["allOf"] == offer["allOf"]


def test_faults_can_break_every_operation_of_the_api():
    operations = [op["operationId"] for item in load_contract().document["paths"].values() for op in item.values()
                  if isinstance(op, dict) and "operationId" in op]
    enum = load_control_contract().resolve("#/components/schemas/FaultRequest")["properties"]["operationId"]["enum"]
    assert sorted(enum) == sorted(operations)


def test_an_error_fault_on_the_offers_list_answers_its_documented_500(client):
    client.track({"externalId": "u"})
    client.post("/__mock/faults", json={"operationId": "getUserOffers", "type": "error", "count": 1})
    assert public_offers(client).get_json() == {"status": "error", "code": 500, "message": "Failed to get offers"}
    assert offers_of(client) == []  # nothing was issued
    assert len(public_offers(client).get_json()["data"]["offers"]) == 2


# --- a real mock: --state, the start-up line, seed ---------------------------------------

HEADERS = {"X-API-Key": TEST_KEY, "Content-Type": "application/json"}


def test_state_keeps_offers_placed_issued_and_claimed_through_a_kill_9(tmp_path):
    state = tmp_path / "qa.db"
    fixture = tmp_path / "offers.yaml"
    fixture.write_text(yaml.safe_dump({"profiles": [entry(offers=[{"offerType": "vip_play", "issuedAgo": "2d"}])]}),
                       encoding="utf-8")
    first = start_server("--state", str(state), "--fixtures", str(fixture), "--quiet")
    try:
        base = first.url
        # Both mocks read at one frozen instant: the one the fixture was loaded at (real time).
        frozen = {"action": "freeze", "at": http("GET", base + "/__mock/clock")[2]["data"]["now"]}
        assert http("POST", base + "/__mock/clock", frozen, {"Content-Type": "application/json"})[0] == 200
        issued = http("GET", f"{base}{USERS}/u/offers", None, HEADERS)[2]["data"]["offers"]
        assert [o["offerType"] for o in issued] == ["vip_play", "welcome_free_play", "welcome_bonus"]
        assert http("POST", f"{base}{USERS}/u/offers/{issued[1]['id']}/claim", None, HEADERS)[0] == 200
        status, _, placed = http("POST", base + "/__mock/offers", {
            "partnerId": PARTNER, "environment": "TEST", "externalId": "u", "offerType": "daily_free_spin",
            "expiresIn": "-1h"}, {"Content-Type": "application/json"})
        assert status == 201, placed
        before = http("GET", base + f"/__mock/offers?partnerId={PARTNER}&environment=TEST&externalId=u")[2]
        exported = http("GET", base + "/__mock/export")[2]
    finally:
        kill_hard(first)
    assert len(before["data"]["offers"]) == 4
    second = start_server("--state", str(state), "--fixtures", str(fixture))
    try:
        base = second.url
        http("POST", base + "/__mock/clock", frozen, {"Content-Type": "application/json"})
        after = http("GET", base + f"/__mock/offers?partnerId={PARTNER}&environment=TEST&externalId=u")[2]
        # The fixture's offer is not placed twice (its profile is upserted again: seen at this start).
        assert [e["offers"] for e in http("GET", base + "/__mock/export")[2]["profiles"]] == [
            e["offers"] for e in exported["profiles"]]
    finally:
        code, output = second.stop()
    assert after == before
    assert f"loaded 1 profile, 1 event and 4 offers from {state}, {fixture}" in output
    assert code == 0 and f"state: 1 profile, 1 event and 4 offers kept in {state}" in output


def test_a_start_with_fixture_offers_counts_them(tmp_path):
    fixture = tmp_path / "offers.yaml"
    fixture.write_text(yaml.safe_dump({"profiles": [entry("a", offers=[{"offerType": "vip_play"}]),
                                                    entry("b", offers=[{"offerType": "welcome_bonus"}])]}),
                       encoding="utf-8")
    with start_server("--fixtures", str(fixture), "--quiet") as server:
        _, output = server.stop()
    assert f"loaded 2 profiles and 2 offers from {fixture}" in output


def test_seed_leaves_offers_out_and_says_how_many_once(tmp_path):
    fixture = tmp_path / "offers.yaml"
    fixture.write_text(yaml.safe_dump({"profiles": [
        entry("a", offers=[{"offerType": "vip_play"}, {"offerType": "welcome_bonus"}]),
        entry("b", events=[{"category": "GAME_PLAY", "eventType": "spin", "ago": "1h"}],
              offers=[{"offerType": "daily_free_spin"}])]}), encoding="utf-8")
    with start_server("--quiet") as target:
        run = seed("--base-url", target.url, "--no-progress", str(fixture))
        listed = http("GET", target.url + f"/__mock/offers?partnerId={PARTNER}&environment=TEST&externalId=a")[2]
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"seeded {target.url}: 2 created, 0 updated, 0 failed, 0 skipped\n"
    assert run.stderr == ("note: 3 offers not sent: the public API cannot place offers (--fixtures and "
                          "POST /__mock/fixtures load them into a mock)\n")
    assert listed["data"]["offers"] == []


# --- the end of the mock's time -----------------------------------------------------------

def test_offers_near_the_end_of_the_mocks_time_expire_at_its_end_and_export(client):
    client.post("/__mock/clock", json={"action": "freeze", "at": "9999-12-29T00:00:00Z"})
    client.track({"externalId": "u"})
    issued = public_offers(client).get_json()["data"]["offers"]
    assert [(o["offerType"], o["expiresAt"]) for o in issued] == [("welcome_free_play", "9999-12-30T00:00:00Z"),
                                                                   ("welcome_bonus", "9999-12-30T00:00:00Z")]
    placed = place(client, offerType="vip_play", claimedAt="9999-12-29T00:00:00Z")
    assert (placed.status_code, placed.get_json()["data"]["expiresAt"]) == (201, "9999-12-30T00:00:00Z")
    exported = client.get("/__mock/export")
    assert exported.status_code == 200
    assert len(exported.get_json()["profiles"][0]["offers"]) == 3


@pytest.mark.parametrize(("now", "times", "field"), [("9999-12-29T00:00:00Z", {"expiresIn": "7d"}, "expiresIn"),
                                                    ("0001-01-03T00:00:00Z", {"issuedAgo": "3d"}, "issuedAgo")])
def test_a_relative_time_outside_the_mocks_time_is_400_and_stores_nothing(client, now, times, field):
    client.post("/__mock/clock", json={"action": "freeze", "at": now})
    client.track({"externalId": "u"})
    response = place(client, offerType="vip_play", **times)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["errors"] == [{"field": field, "message": f"{field}: the offer would "
                                              f"{'expire' if field == 'expiresIn' else 'be issued'} outside the "
                                              "mock's time (0001-01-02 to 9999-12-30, UTC)"}]
    assert offers_of(client) == []
    loaded = load(client, entry(offers=[{"offerType": "vip_play", **times}]))
    assert loaded.status_code == 400
    assert [e["field"] for e in loaded.get_json()["errors"]] == [f"profiles.0.offers.0.{field}"]
    assert offers_of(client) == []


def test_a_whole_float_points_value_is_kept_as_the_integer_it_is(client):
    client.track({"externalId": "u"})
    placed = place(client, offerType="vip_play", pointsValue=5.0)
    assert placed.status_code == 201
    assert b'"pointsValue":5,' in placed.data
    assert b'"pointsValue":5,' in public_offers(client).data


# --- claiming for no key (the dashboard's Claim button) -------------------------------------------

def test_a_claim_through_the_control_api_is_the_apis_claim(client, clock):
    """Claimed now with an offer_claimed event of its points, then refused as claimOffer refuses."""
    client.track({"externalId": "u"})
    spin, bonus = client.get("/v1/user-journeys/users/u/offers", headers={"X-API-Key": TEST_KEY}).get_json()[
        "data"]["offers"]
    user = {"partnerId": derived_partner_id(TEST_KEY[8:]), "environment": "TEST", "externalId": "u"}
    claimed = client.post("/__mock/offers/claim", json={**user, "offerId": spin["id"]})
    assert claimed.status_code == 200
    now = format_timestamp(int(clock.now().timestamp()))
    assert claimed.get_json()["data"] == {**spin, "status": "claimed", "claimedAt": now,
                                          "issuedAt": claimed.get_json()["data"]["issuedAt"]}
    [event] = client.get("/__mock/events", query_string={**user, "limit": 1}).get_json()["data"]
    assert (event["eventType"], event["points"], event["occurredAt"]) == ("offer_claimed", 50, now)
    assert event["metadata"] == {"offerId": spin["id"], "offerType": "welcome_free_play"}
    again = client.post("/__mock/offers/claim", json={**user, "offerId": spin["id"]})
    assert (again.status_code, again.get_json()["message"]) == (400, "Offer is no longer active")
    clock.advance(timedelta(days=8))
    late = client.post("/__mock/offers/claim", json={**user, "offerId": bonus["id"]})
    assert (late.status_code, late.get_json()["message"]) == (400, "Offer has expired")


@pytest.mark.parametrize("who", [
    {"offerId": "not-a-uuid"},
    {"offerId": "00000000-0000-4000-8000-000000000000"},
    {"externalId": "nobody"},
    {"environment": "LIVE"},
])
def test_a_control_claim_of_no_such_offer_is_404_offer_not_found(client, who):
    client.track({"externalId": "u"})
    [offer, _] = client.get("/v1/user-journeys/users/u/offers", headers={"X-API-Key": TEST_KEY}).get_json()[
        "data"]["offers"]
    body = {"partnerId": derived_partner_id(TEST_KEY[8:]), "environment": "TEST", "externalId": "u",
            "offerId": offer["id"], **who}
    response = client.post("/__mock/offers/claim", json=body)
    assert (response.status_code, response.get_json()["message"]) == (404, "Offer not found")


@pytest.mark.parametrize("body, field", [
    ({"environment": "TEST", "externalId": "u", "offerId": "x"}, "partnerId"),
    ({"partnerId": "p", "environment": "DEV", "externalId": "u", "offerId": "x"}, "environment"),
    ({"partnerId": "p", "environment": "TEST", "externalId": "u", "offerId": ""}, "offerId"),
    ({"partnerId": "p", "environment": "TEST", "externalId": "u", "offerId": "x", "extra": 1}, "extra"),
])
def test_a_bad_control_claim_is_400_naming_the_field(client, body, field):
    response = client.post("/__mock/offers/claim", json=body)
    assert (response.status_code, response.get_json()["message"]) == (400, "Invalid request body")
    [error] = response.get_json()["errors"]
    assert field in (error["field"], error["message"].split("'")[1] if "'" in error["message"] else None), error
