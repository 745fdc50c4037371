"""Offers over HTTP: the active list (issued on read) and claims, on the mock's clock.

Every answer of the test client is also checked against openapi.yaml (conftest.py); the live
server's answers in the race test are checked the same way (conformance.py).
"""
from __future__ import annotations

import copy
import threading
import uuid

import pytest
from conftest import LIVE_KEY, OTHER_PARTNER_TEST_KEY, TEST_KEY
from test_journeys_api import TRACK, USERS, get, play, post

from mock_server.journeys.offers import CATALOGUE
from mock_server.spec import load_contract, pointer

from conformance import assert_conforms
from live_server import http, start_server

WEEK_LATER = "2025-01-22T10:30:00Z"  # the fixtures' START plus the welcome offers' 7 days
# The documented example's offer, field by field in the documented order, less its own id and user.
WELCOME_FREE_PLAY = {"offerType": "welcome_free_play", "gameType": "spin_the_wheel", "title": "Welcome Free Spin",
                     "description": "Try a free spin on us — new players get a guaranteed prize!", "pointsValue": 50,
                     "status": "active", "expiresAt": WEEK_LATER, "claimedAt": None, "metadata": {}}
UNKNOWN_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"


def offers(client, external_id: str = "u1", key: str = TEST_KEY) -> list[dict]:
    response = get(client, f"{USERS}/{external_id}/offers", key)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]["offers"]


def claim(client, offer_id: str, external_id: str = "u1", key: str = TEST_KEY, **kwargs):
    """POST .../claim with the key and nothing else (no body, no Content-Type) unless kwargs add it."""
    return client.post(f"{USERS}/{external_id}/offers/{offer_id}/claim", headers={"X-API-Key": key}, **kwargs)


def refused(response) -> tuple[int, dict]:
    return response.status_code, response.get_json()


def error(status: int, message: str) -> tuple[int, dict]:
    return status, {"status": "error", "code": status, "message": message}


def set_clock(client, **body) -> None:
    assert client.post("/__mock/clock", json=body).status_code == 200


def offer_of(client, offer_type: str, external_id: str = "u1") -> dict:
    return next(o for o in offers(client, external_id) if o["offerType"] == offer_type)


def example(operation_id: str) -> dict:
    contract = load_contract()
    return contract.resolve(contract.operation_pointer(operation_id) + pointer(
        "responses", "200", "content", "application/json", "example"))


def at_pointer(document, json_pointer: str):
    """The value a JSON pointer names in a parsed answer."""
    node = document
    for part in json_pointer.split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


# --- the contract -------------------------------------------------------------------------

DOC_OFFER = {"id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "externalId": "user_12345",
             **WELCOME_FREE_PLAY, "expiresAt": "2026-03-08T12:00:00Z"}


@pytest.mark.parametrize("operation_id, documented", [
    ("getUserOffers", {"status": "success", "data": {"offers": [DOC_OFFER]}}),
    ("claimOffer", {"status": "success", "data": {"offer": {**DOC_OFFER, "status": "claimed",
                                                            "claimedAt": "2026-03-05T14:30:00Z"}}}),
])
def test_the_documented_examples_are_the_examples_and_keep_the_schemas(operation_id, documented):
    contract = load_contract()
    assert example(operation_id) == documented
    assert list(contract.validator(contract.response_schema_ref(operation_id, 200)).iter_errors(documented)) == []


@pytest.mark.parametrize("operation_id, change", [
    ("getUserOffers", lambda data: data["offers"].extend([DOC_OFFER] * 3)),  # 4: over the documented 3
    ("getUserOffers", lambda data: data["offers"][0].update(status="claimed")),  # the list holds active ones
    ("getUserOffers", lambda data: data["offers"][0].pop("claimedAt")),  # every field is required
    ("getUserOffers", lambda data: data["offers"][0].update(offerType="free_play")),
    ("claimOffer", lambda data: data["offer"].update(claimedAt=None)),  # a claim sets claimedAt
    ("claimOffer", lambda data: data["offer"].update(status="active")),
])
def test_the_schemas_refuse_what_the_docs_rule_out(operation_id, change):
    contract = load_contract()
    broken = copy.deepcopy(example(operation_id))
    change(broken["data"])
    assert not contract.validator(contract.response_schema_ref(operation_id, 200)).is_valid(broken)


@pytest.mark.parametrize("operation_id, status, message", [
    ("claimOffer", 400, "Offer is no longer active"), ("claimOffer", 400, "Offer has expired"),
    ("claimOffer", 404, "Offer not found"), ("claimOffer", 500, "Failed to claim offer"),
    ("claimOffer", 400, "Invalid path parameters"), ("getUserOffers", 404, "User not found"),
    ("getUserOffers", 500, "Failed to get offers"),
])
def test_each_refusal_is_declared_with_its_message(operation_id, status, message):
    contract = load_contract()
    validator = contract.validator(contract.response_schema_ref(operation_id, status))
    assert validator.is_valid({"status": "error", "code": status, "message": message})
    assert not validator.is_valid({"status": "error", "code": status, "message": message + "!"})


# --- the list -----------------------------------------------------------------------------

def test_a_new_user_is_offered_the_two_welcome_offers_in_the_documented_shape(client):
    client.track({"externalId": "u1"})
    response = get(client, f"{USERS}/u1/offers")
    assert response.status_code == 200
    assert list(response.get_json()) == ["status", "data"] and list(response.get_json()["data"]) == ["offers"]
    listed = response.get_json()["data"]["offers"]
    documented = list(example("getUserOffers")["data"]["offers"][0])
    assert documented == ["id", "externalId", "offerType", "gameType", "title", "description", "pointsValue",
                          "status", "expiresAt", "claimedAt", "metadata"]
    assert [list(offer) for offer in listed] == [documented, documented]
    free_play, bonus = listed
    assert {k: v for k, v in free_play.items() if k not in ("id", "externalId")} == WELCOME_FREE_PLAY
    assert free_play["externalId"] == "u1" and str(uuid.UUID(free_play["id"])) == free_play["id"]
    kind = CATALOGUE["welcome_bonus"]
    assert bonus | {"id": None} == {
        "id": None, "externalId": "u1", "offerType": "welcome_bonus", "gameType": kind.game_type,
        "title": kind.title, "description": kind.description, "pointsValue": kind.points_value,
        "status": "active", "expiresAt": WEEK_LATER, "claimedAt": None, "metadata": {}}
    assert free_play["id"] != bonus["id"]


def test_reading_again_issues_nothing_new(client):
    client.track({"externalId": "u1"})
    first = offers(client)
    assert offers(client) == first


def test_an_unknown_user_has_no_offers_404(client):
    assert refused(get(client, f"{USERS}/nobody/offers")) == error(404, "User not found")


def test_at_most_three_offers_are_active_and_a_claim_makes_room(client):
    client.track({"externalId": "u1"})
    welcome = offers(client)
    # 51 plays of 10 points now: a power user (score 80) of the whale tier, who earns vip_play and
    # multiplier_bonus on top of the two welcome offers still running; only one more fits under 3.
    assert post(client, TRACK, {"events": [play(points=10) for _ in range(51)]}).status_code == 200
    listed = offers(client)
    assert [o["offerType"] for o in listed] == ["welcome_free_play", "welcome_bonus", "vip_play"]
    assert listed[:2] == welcome
    assert claim(client, listed[1]["id"]).status_code == 200
    assert [o["offerType"] for o in offers(client)] == ["welcome_free_play", "vip_play", "multiplier_bonus"]


@pytest.mark.parametrize("key", [LIVE_KEY, OTHER_PARTNER_TEST_KEY])
def test_another_environment_or_partner_can_neither_see_nor_claim_the_offers(client, key):
    client.track({"externalId": "u1"})
    offer_id = offers(client)[0]["id"]
    client.track({"externalId": "u1"}, key=key)  # the same externalId exists there too, with its own offers
    theirs = offers(client, key=key)
    assert offer_id not in {o["id"] for o in theirs}
    assert refused(claim(client, offer_id, key=key)) == error(404, "Offer not found")
    assert refused(claim(client, theirs[0]["id"])) == error(404, "Offer not found")
    assert claim(client, offer_id).status_code == 200  # untouched by the refused attempt


@pytest.mark.parametrize("key", [LIVE_KEY, OTHER_PARTNER_TEST_KEY])
def test_a_user_of_another_environment_or_partner_is_unknown_here(client, key):
    client.track({"externalId": "u1"})
    offer_id = offers(client)[0]["id"]
    assert refused(get(client, f"{USERS}/u1/offers", key)) == error(404, "User not found")
    assert refused(claim(client, offer_id, key=key)) == error(404, "Offer not found")


# --- claims -------------------------------------------------------------------------------

def test_a_claim_answers_the_claimed_offer_and_writes_the_event(client):
    client.track({"externalId": "u1"})
    offer = offers(client)[0]
    set_clock(client, action="freeze", at="2025-01-16T08:00:00Z")
    response = claim(client, offer["id"])
    assert response.status_code == 200
    claimed = response.get_json()["data"]["offer"]
    assert list(response.get_json()["data"]) == ["offer"]
    assert claimed == {**offer, "status": "claimed", "claimedAt": "2025-01-16T08:00:00Z"}
    assert list(claimed) == list(example("claimOffer")["data"]["offer"])
    timeline = get(client, f"{USERS}/u1/timeline").get_json()["data"]
    assert timeline["total"] == 1
    event = timeline["events"][0]
    assert {k: v for k, v in event.items() if k not in ("id", "partnerId")} == {
        "externalId": "u1", "environment": "TEST", "category": "POINTS", "eventType": "offer_claimed",
        "points": 50, "occurredAt": "2025-01-16T08:00:00Z",
        "metadata": {"offerId": offer["id"], "offerType": "welcome_free_play"}}
    profile = get(client, f"{USERS}/u1").get_json()["data"]
    assert (profile["totalEvents"], profile["pointsEarned7d"], profile["lastSeenAt"]) == (
        1, 50, "2025-01-16T08:00:00Z")
    assert offer["id"] not in {o["id"] for o in offers(client)}  # claimed: no longer listed


def test_claiming_again_is_400_and_writes_nothing(client):
    client.track({"externalId": "u1"})
    offer_id = offers(client)[0]["id"]
    assert claim(client, offer_id).status_code == 200
    assert refused(claim(client, offer_id)) == error(400, "Offer is no longer active")
    assert get(client, f"{USERS}/u1/timeline").get_json()["data"]["total"] == 1


def test_an_offer_expires_with_the_clock(client):
    client.track({"externalId": "u1"})
    free_play, bonus = offers(client)
    set_clock(client, action="freeze", at="2025-01-22T10:29:59Z")  # one second before expiresAt
    assert [o["id"] for o in offers(client)] == [free_play["id"], bonus["id"]]
    assert claim(client, bonus["id"]).status_code == 200
    set_clock(client, action="advance", seconds=1)
    assert refused(claim(client, free_play["id"])) == error(400, "Offer has expired")
    listed = offers(client)
    assert free_play["id"] not in {o["id"] for o in listed}
    assert [o["offerType"] for o in listed] == ["daily_free_spin"]  # a week on, the user is no longer new
    assert refused(claim(client, bonus["id"])) == error(400, "Offer is no longer active")  # claimed beats expired


@pytest.mark.parametrize("offer_id", [UNKNOWN_ID, "not-a-uuid", "%20", "a%2Fb", "x" * 5000, "1"])
def test_an_unknown_or_malformed_offer_id_is_404(client, offer_id):
    client.track({"externalId": "u1"})
    offers(client)
    assert refused(claim(client, offer_id)) == error(404, "Offer not found")


def test_another_users_offer_or_an_unknown_user_is_404(client):
    client.track({"externalId": "u1"})
    client.track({"externalId": "u2"})
    offer_id = offers(client, "u1")[0]["id"]
    offers(client, "u2")
    assert refused(claim(client, offer_id, "u2")) == error(404, "Offer not found")
    assert refused(claim(client, offer_id, "nobody")) == error(404, "Offer not found")
    assert claim(client, offer_id, "u1").status_code == 200


def test_a_path_external_id_that_breaks_its_rule_is_400(client):
    response = claim(client, UNKNOWN_ID, "x" * 256)
    assert refused(response) == (400, {"status": "error", "code": 400, "message": "Invalid path parameters",
                                       "errors": [{"field": "externalId",
                                                   "message": "externalId must be at most 255 characters long"}]})


@pytest.mark.parametrize("sent", [
    {},  # what fetch(url, {method: "POST"}) sends
    {"content_type": "application/json"},  # the docs' curl: the header, no body
    {"data": "{not json", "content_type": "application/json"},
    {"data": b"\xff\xfe junk", "content_type": "application/octet-stream"},
    {"json": {"anything": [1, 2]}},
])
def test_a_claim_needs_no_content_type_and_ignores_any_body(client, sent):
    client.track({"externalId": "u1"})
    offer_id = offers(client)[0]["id"]
    response = claim(client, offer_id, **sent)
    assert (response.status_code, response.get_json()["data"]["offer"]["status"]) == (200, "claimed")


def test_both_operations_need_the_key(client):
    client.track({"externalId": "u1"})
    offer_id = offers(client)[0]["id"]
    for response in (client.get(f"{USERS}/u1/offers"), client.post(f"{USERS}/u1/offers/{offer_id}/claim")):
        assert refused(response) == error(401, "Missing X-API-Key header")


@pytest.mark.parametrize("method, store_method, message", [
    ("GET", "offers", "Failed to get offers"), ("POST", "claim", "Failed to claim offer")])
def test_a_crash_is_the_operations_own_500(app, client, monkeypatch, method, store_method, message):
    client.track({"externalId": "u1"})
    offer_id = offers(client)[0]["id"]

    def explode(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.extensions["gamifyhost_mock"].store, store_method, explode)
    path = f"{USERS}/u1/offers" + (f"/{offer_id}/claim" if method == "POST" else "")
    assert refused(client.open(path, method=method, headers={"X-API-Key": TEST_KEY})) == error(500, message)


def test_the_specs_links_lead_from_a_tracked_user_to_a_claim(client):
    """trackUser -> getUserOffers -> claimOffer, each parameter taken where the spec's link says."""
    contract = load_contract()

    def link(operation_id: str, name: str) -> dict:
        return contract.resolve(contract.operation_pointer(operation_id) + pointer("responses", "200", "links", name))

    def from_body(expression: str, body: dict) -> str:
        assert expression.startswith("$response.body#")
        return at_pointer(body, expression.split("#", 1)[1])

    tracked = client.track({"externalId": "Jane Doe"}).get_json()
    to_offers = link("trackUser", "GetOffers")
    assert to_offers["operationId"] == "getUserOffers"
    external_id = from_body(to_offers["parameters"]["externalId"], tracked)
    listed = get(client, f"{USERS}/{external_id.replace(' ', '%20')}/offers").get_json()
    to_claim = link("getUserOffers", "ClaimOffer")
    assert to_claim["operationId"] == "claimOffer"
    assert to_claim["parameters"]["externalId"] == "$request.path.externalId"
    offer_id = from_body(to_claim["parameters"]["offerId"], listed)
    assert claim(client, offer_id, "Jane%20Doe").status_code == 200


# --- a race over HTTP ---------------------------------------------------------------------

def at_once(count: int, call):
    """`call()` from `count` threads released together; what each returned (a failure is raised here)."""
    barrier = threading.Barrier(count)
    results, failures = [], []

    def run() -> None:
        barrier.wait()
        try:
            results.append(call())
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


def test_two_concurrent_claims_of_one_offer_give_one_200_and_one_400():
    """Two clients claim the same offer at once, ten times over: each time exactly one wins."""
    server = start_server("--quiet")
    headers = {"X-API-Key": TEST_KEY}

    def exchange(method: str, path: str, body=None):
        status, found_headers, answer = http(method, server.url + path, body,
                                             {**headers, "Content-Type": "application/json"} if body else headers)
        assert_conforms(method, path, status, found_headers.get("content-type"), answer)
        return status, answer

    try:
        races = []
        for user in range(5):
            assert exchange("POST", USERS, {"externalId": f"racer-{user}"})[0] == 200
            races += [(f"racer-{user}", offer["id"])
                      for offer in exchange("GET", f"{USERS}/racer-{user}/offers")[1]["data"]["offers"]]
        assert len(races) == 10
        for external_id, offer_id in races:
            answers = at_once(2, lambda e=external_id, o=offer_id: exchange("POST", f"{USERS}/{e}/offers/{o}/claim"))
            assert sorted(status for status, _ in answers) == [200, 400]
            assert {answer.get("message") for status, answer in answers if status == 400} == {
                "Offer is no longer active"}
        for user in range(5):
            timeline = exchange("GET", f"{USERS}/racer-{user}/timeline")[1]["data"]
            assert [e["eventType"] for e in timeline["events"]] == ["offer_claimed"] * 2
    finally:
        code, output = server.stop()
    assert code == 0, output


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "PATCH"])
def test_the_claims_path_takes_only_post_although_get_user_matches_it_too(client, method: str):
    # An externalId may hold "/", so getUser's /users/{externalId} matches this path as well; the
    # claim's template, with more literal text, owns it: its methods alone are allowed.
    response = client.open(f"{USERS}/u1/offers/{UNKNOWN_ID}/claim", method=method, headers={"X-API-Key": TEST_KEY})
    assert response.status_code == 405
    assert response.headers["Allow"] == "OPTIONS, POST"
    if method != "HEAD":
        assert response.get_json() == {"status": "error", "code": 405, "message": "Method not allowed"}


@pytest.mark.parametrize(("path", "allow"), [
    (f"{USERS}/u1/offers/{UNKNOWN_ID}/claim", "OPTIONS, POST"),
    (f"{USERS}/u1/offers", "GET, HEAD, OPTIONS"),
    (f"{USERS}/u1/timeline", "GET, HEAD, OPTIONS"),
    (f"{USERS}/u1", "GET, HEAD, OPTIONS"),
    (USERS, "OPTIONS, POST"),
])
def test_options_names_the_methods_of_the_paths_own_template(client, path: str, allow: str):
    response = client.options(path)
    assert (response.status_code, response.headers["Allow"]) == (200, allow)


def test_get_user_still_reads_an_external_id_with_slashes_that_no_longer_template_owns(client):
    post(client, USERS, {"externalId": "team/offers/7"})
    response = get(client, f"{USERS}/team%2Foffers%2F7")
    assert (response.status_code, response.get_json()["data"]["externalId"]) == (200, "team/offers/7")
