"""Forced answers: `Prefer: code=N` and `example=NAME` answer a declared response of the operation,
from the spec, changing nothing; on every operation, only for a request that passes auth and the
spec's checks, and not with --no-prefer or --no-control-api.

The operations, their responses and their named examples are read from openapi.yaml.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY
from flask.testing import FlaskClient

from mock_server import create_app
from mock_server.errors import ApiError
from mock_server.prefer import Answers, Declared, parse
from mock_server.spec import load_contract, pointer

from conformance import assert_conforms
from live_server import http, start_server
from raw_http import json_or_none, raw_exchange

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = load_contract(ROOT / "openapi.yaml")
USERS = "/v1/user-journeys/users"
KEY = {"X-API-Key": TEST_KEY}


def _operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, path template, operation), every operation of the spec."""
    found = {}
    for path, item in CONTRACT.document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method.upper(), path, operation)
    return found


OPERATIONS = _operations()


def _media(op_id: str, status: str) -> dict[str, Any]:
    response = CONTRACT.resolve(CONTRACT.operation_pointer(op_id) + pointer("responses", status))
    return response.get("content", {}).get("application/json", {})


DECLARED = [(op_id, status) for op_id, (_, _, op) in OPERATIONS.items() for status in op["responses"]]
NAMED = [(op_id, status, name) for op_id, status in DECLARED for name in _media(op_id, status).get("examples", {})]


def _spec_body(op_id: str, status: str) -> Any:
    """What the spec gives for a response: its example, its first named example, or (no example at
    all) the error envelope with the message its schema fixes."""
    media = _media(op_id, status)
    if "example" in media:
        return media["example"]
    if "examples" in media:
        return next(iter(media["examples"].values()))["value"]
    schema = CONTRACT.resolve(CONTRACT.response_schema_ref(op_id, status))
    messages = [part["properties"]["message"]["const"] for part in schema["allOf"]
                if "const" in part.get("properties", {}).get("message", {})]
    return {"status": "error", "code": int(status), "message": messages[0]}


class World:
    """A store with something to lose: `offered` holds welcome offers (one of them `offer_id`),
    `fresh` was tracked but its offers never read (a real read would issue them); the request
    bodies' user_12345 does not exist (a real write would create it)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        for user in ("offered", "fresh"):
            assert client.track({"externalId": user}).status_code == 200
        offers = client.get(f"{USERS}/offered/offers", headers=KEY).get_json()["data"]["offers"]
        self.offer_id = offers[0]["id"]
        self.partner = client.get(f"{USERS}/offered", headers=KEY).get_json()["data"]["partnerId"]

    def request(self, op_id: str, prefer: str | None = None, **headers: str):
        """A valid request of the operation (the spec's request example as body), with Prefer if given."""
        method, template, operation = OPERATIONS[op_id]
        user = "offered" if "{offerId}" in template else "fresh"
        path = template.replace("{externalId}", user).replace("{offerId}", self.offer_id)
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
        headers = {**KEY, **headers, **({"Prefer": prefer} if prefer is not None else {})}
        return self.client.open(path, method=method, json=body, headers=headers)

    def snapshot(self) -> tuple[Any, Any]:
        """Everything stored, and the offers of `offered` in every status (what a claim would change)."""
        offers = self.client.get(f"/__mock/offers?partnerId={self.partner}&environment=TEST&externalId=offered")
        return self.client.get("/__mock/export").get_json(), offers.get_json()


@pytest.fixture
def world(client) -> World:
    return World(client)


@pytest.fixture
def plain(app) -> FlaskClient:
    """A client that does not hold answers to the spec: a refused Prefer header is the mock's own 400."""
    return FlaskClient(app)


def test_the_spec_declares_what_the_tests_walk():
    assert set(OPERATIONS) == {"trackUser", "getUser", "getUserTimeline", "getUserOffers", "claimOffer",
                               "trackEvent", "trackEvents"}
    assert len(DECLARED) == 45
    assert ("claimOffer", "400", "expired") in NAMED and ("getUser", "401", "invalidKey") in NAMED


@pytest.mark.parametrize("op_id, status", DECLARED)
def test_every_declared_response_can_be_forced_and_changes_nothing(world, op_id, status):
    before = world.snapshot()
    answer = world.request(op_id, f"code={status}")  # the client holds it to the spec, as below
    assert answer.status_code == int(status)
    assert answer.get_json() == _spec_body(op_id, status)
    assert answer.headers["Preference-Applied"] == f"code={status}"
    method, _, _ = OPERATIONS[op_id]
    assert_conforms(method, answer.request.path, answer.status_code, answer.content_type, answer.get_json())
    recorded = world.client.get("/__mock/requests?limit=1").get_json()["data"][0]  # a request received
    assert (recorded["method"], recorded["status"], recorded["response"]) == (method, int(status), answer.get_json())
    assert recorded["headers"]["Prefer"] == f"code={status}"  # the journal shows why it was forced
    assert world.snapshot() == before


@pytest.mark.parametrize("op_id, status, name", NAMED)
def test_every_named_example_can_be_forced_with_its_code_or_alone(world, op_id, status, name):
    before = world.snapshot()
    expected = _media(op_id, status)["examples"][name]["value"]
    for prefer, applied in [(f"code={status}, example={name}", f"code={status}, example={name}"),
                            (f"code={status}; example={name}", f"code={status}, example={name}"),
                            (f"example={name}", f"example={name}")]:
        answer = world.request(op_id, prefer)
        assert (answer.status_code, answer.get_json()) == (int(status), expected), prefer
        assert answer.headers["Preference-Applied"] == applied
    assert world.snapshot() == before


def test_the_claim_refusals_are_the_documented_ones(world):
    """The named examples carry the documented messages, so a client can be tried on each."""
    for name, message in [("noLongerActive", "Offer is no longer active"), ("expired", "Offer has expired")]:
        answer = world.request("claimOffer", f"example={name}")
        assert answer.get_json() == {"status": "error", "code": 400, "message": message}
    forbidden = {world.request("getUser", f"example={name}").get_json()["message"]
                 for name in ("revoked", "inactiveApplication", "partnerNotFound")}
    assert forbidden == {"API key has been revoked", "Application is not active", "Partner account not found"}


def test_a_forced_claim_claims_nothing_and_the_offer_can_still_be_claimed(world):
    forced = world.request("claimOffer", "code=200")
    assert forced.get_json()["data"]["offer"]["id"] != world.offer_id  # the spec's example, not the offer
    real = world.request("claimOffer")
    assert real.status_code == 200
    assert (real.get_json()["data"]["offer"]["id"], real.get_json()["data"]["offer"]["status"]) == (
        world.offer_id, "claimed")


def _refused(client: FlaskClient, path: str, prefer: str, method: str = "GET") -> str:
    answer = client.open(path, method=method, headers={**KEY, "Prefer": prefer})
    body = answer.get_json()
    assert (answer.status_code, body["status"], body["code"], set(body)) == (400, "error", 400,
                                                                             {"status", "code", "message"})
    assert "Preference-Applied" not in answer.headers
    return str(body["message"])


CLAIM = f"{USERS}/u1/offers/a1b2c3d4-e5f6-7890-abcd-ef1234567890/claim"
USAGE = "(e.g. Prefer: code=404, or code=400, example=NAME)"


def test_a_code_the_operation_does_not_declare_is_a_400_listing_the_declared_ones(plain):
    assert _refused(plain, CLAIM, "code=418", "POST") == (
        "Prefer code=418 is not a response of claimOffer: it declares 200, 400, 401, 403, 404, 500")
    assert _refused(plain, f"{USERS}/u1", "code=201") == (
        "Prefer code=201 is not a response of getUser: it declares 200, 400, 401, 403, 404, 500")
    answer = plain.post(USERS, json={"externalId": "u1"}, headers={**KEY, "Prefer": "code=404"})
    assert answer.get_json()["message"] == (
        "Prefer code=404 is not a response of trackUser: it declares 200, 400, 401, 403, 413, 415, 500")
    assert plain.get("/__mock/export").get_json()["profiles"] == []


@pytest.mark.parametrize("prefer, message", [
    ("code=abc", f"Prefer code=abc is not an HTTP status code {USAGE}"),
    ("code=20", f"Prefer code=20 is not an HTTP status code {USAGE}"),
    ("code=2000", f"Prefer code=2000 is not an HTTP status code {USAGE}"),
    ("code=600", f"Prefer code=600 is not an HTTP status code {USAGE}"),
    ("code", f"Prefer code is not an HTTP status code {USAGE}"),
    ('code="4 4"', f'Prefer code="4 4" is not an HTTP status code {USAGE}'),
    ("example", f"Prefer example needs the name of an example {USAGE}"),
    ("code=404 please", f"Prefer header is not valid at 'code=404 please' {USAGE}"),
    ("respond-async, =404", f"Prefer header is not valid at '=404' {USAGE}"),
    ('example="unclosed', f"Prefer header is not valid at 'example=\"unclosed' {USAGE}"),
    ("dynamic=true", f"Prefer dynamic=true is not supported: the mock answers the spec's examples {USAGE}"),
    ("code=200, dynamic", f"Prefer dynamic is not supported: the mock answers the spec's examples {USAGE}"),
])
def test_a_malformed_prefer_is_a_400_that_says_what_is_wrong(plain, prefer, message):
    assert _refused(plain, f"{USERS}/u1", prefer) == message


def test_an_unknown_example_is_a_400_listing_the_names_there_are(plain):
    assert _refused(plain, CLAIM, "example=gone", "POST") == (
        "Prefer example=gone is not an example of claimOffer: its named examples are noLongerActive (400), "
        "expired (400), missingKey (401), invalidKey (401), revoked (403), inactiveApplication (403), "
        "partnerNotFound (403)")
    assert _refused(plain, CLAIM, "code=400, example=revoked", "POST") == (
        "Prefer example=revoked is not an example of the 400 response of claimOffer: its named examples are "
        "noLongerActive, expired")
    assert _refused(plain, f"{USERS}/u1", "code=200, example=cat") == (
        "Prefer example=cat is not an example of the 200 response of getUser: it has no named examples")
    assert _refused(plain, f"{USERS}/u1", 'example="a b"') == (
        'Prefer example="a b" is not an example of getUser: its named examples are missingKey (401), '
        "invalidKey (401), revoked (403), inactiveApplication (403), partnerNotFound (403)")


def test_a_name_two_responses_share_needs_a_code(app):
    both = Answers("op", [Declared(400, {"n": 400}, {"same": {"n": 400}}), Declared(409, {"n": 409},
                                                                                    {"same": {"n": 409}})])
    with app.test_request_context():
        with pytest.raises(ApiError, match="example=same is an example of the 400 and 409 responses of op: "
                                            "say which with code="):
            both.forced("example=same")
        assert both.forced("code=409, example=same").get_json() == {"n": 409}


@pytest.mark.parametrize("header, preferences", [
    ("code=404", {"code": "404"}),
    ("CODE = 404 ,Example=Expired", {"code": "404", "example": "Expired"}),  # names ignore case, values do not
    ("code=404; example=expired", {"code": "404", "example": "expired"}),
    ('code="404", example="a \\"quoted\\", name; here"', {"code": "404", "example": 'a "quoted", name; here'}),
    ("code=404, code=500", {"code": "404"}),  # the first of a name counts (RFC 7240)
    ("respond-async, wait=10, return=minimal", {"respond-async": None, "wait": "10", "return": "minimal"}),
    (",, code=404 ,;", {"code": "404"}),  # empty list elements are skipped
    ("", {}),
    ("   ", {}),
])
def test_the_prefer_header_is_read_as_rfc_7240_writes_it(header, preferences):
    assert parse(header) == preferences


def test_preferences_the_mock_does_not_know_are_ignored(world):
    real = world.request("getUser", "respond-async, return=minimal, wait=5, handling=strict")
    assert real.status_code == 200 and real.get_json()["data"]["externalId"] == "fresh"
    assert "Preference-Applied" not in real.headers
    assert world.request("getUser", "dynamic=false").get_json()["data"]["externalId"] == "fresh"
    mixed = world.request("getUser", "respond-async, code=404; wait=5, dynamic=false")
    assert (mixed.status_code, mixed.headers["Preference-Applied"]) == (404, "code=404")
    empty = world.request("getUser", "")
    assert empty.status_code == 200 and "Preference-Applied" not in empty.headers


def test_prefer_comes_after_auth_and_the_specs_checks(client, plain):
    """As in Prism: a request that would be refused is refused, whatever it prefers."""
    missing = client.get(f"{USERS}/u1", headers={"Prefer": "code=200"})
    assert (missing.status_code, missing.get_json()["message"]) == (401, "Missing X-API-Key header")
    assert plain.get(f"{USERS}/u1", headers={"Prefer": "code=abc"}).status_code == 401
    invalid = client.post(USERS, json={"externalId": ""}, headers={**KEY, "Prefer": "code=200"})
    assert (invalid.status_code, invalid.get_json()["message"]) == (400, "Invalid request body")
    unsupported = client.post(USERS, data="{}", headers={**KEY, "Prefer": "code=200"})
    assert unsupported.status_code == 415
    limit = client.get(f"{USERS}/u1/timeline?limit=500", headers={**KEY, "Prefer": "code=200"})
    assert (limit.status_code, limit.get_json()["message"]) == (400, "Invalid query parameters")
    assert "Preference-Applied" not in limit.headers
    assert client.get("/__mock/export").get_json()["profiles"] == []


@pytest.mark.parametrize("app_config", [{"TESTING": True, "KEYS_FILE": ROOT / "examples" / "keys.yaml"}])
def test_a_refused_key_stays_refused(client):
    revoked = client.get(f"{USERS}/u1", headers={"X-API-Key": "pk_test_revoked_key", "Prefer": "code=200"})
    assert (revoked.status_code, revoked.get_json()["message"]) == (403, "API key has been revoked")


def test_a_forced_answer_leaves_an_error_fault_for_the_next_request(world):
    client = world.client
    fault = {"type": "error", "operationId": "getUser", "count": 1}
    assert client.post("/__mock/faults", json=fault).status_code == 200
    assert world.request("getUser", "code=200").status_code == 200
    failed = world.request("getUser")
    assert (failed.status_code, failed.get_json()["message"]) == (500, "Failed to get user")
    assert world.request("getUser").status_code == 200


def test_latency_still_delays_a_forced_answer(world):
    world.client.post("/__mock/faults", json={"type": "latency", "latencyMs": 200, "operationId": "getUser"})
    started = time.perf_counter()
    assert world.request("getUser", "code=404").status_code == 404
    assert time.perf_counter() - started >= 0.2


@pytest.mark.parametrize("setting", [{"PREFER": False}, {"CONTROL_API": False}])
def test_prefer_is_ignored_when_switched_off_or_without_the_control_api(clock, setting):
    client = create_app({"TESTING": True, "CLOCK": clock, **setting}).test_client()
    for prefer in ("code=200", "code=418", "example=expired", "dynamic=true"):
        answer = client.get(f"{USERS}/nobody", headers={**KEY, "Prefer": prefer})
        assert (answer.status_code, answer.get_json()["message"]) == (404, "User not found"), prefer
        assert "Preference-Applied" not in answer.headers
    tracked = client.post(USERS, json={"externalId": "u1"}, headers={**KEY, "Prefer": "code=500"})
    assert tracked.status_code == 200 and tracked.get_json()["data"]["externalId"] == "u1"


def test_a_browser_may_send_prefer_and_read_preference_applied(client):
    preflight = client.options(f"{USERS}/u1", headers={
        "Origin": "http://app.test", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-api-key, prefer"})
    assert preflight.status_code == 200
    assert "prefer" in preflight.headers["Access-Control-Allow-Headers"].lower().split(", ")
    answer = client.get(f"{USERS}/u1", headers={**KEY, "Origin": "http://app.test", "Prefer": "code=404"})
    assert answer.headers["Access-Control-Expose-Headers"] == "Preference-Applied"


def test_the_contract_does_not_declare_prefer():
    """Prefer is the mock's, not the API's: no operation takes it, so the contract suite (which
    sends the headers the spec declares) never sends it, and the mock answers it really."""
    parameters = [CONTRACT.resolve(ref["$ref"]) if "$ref" in ref else ref
                  for item in CONTRACT.document["paths"].values()
                  for node in (item, *[op for op in item.values() if isinstance(op, dict)])
                  for ref in node.get("parameters", [])]
    assert len(parameters) >= 7
    assert "prefer" not in {parameter["name"].lower() for parameter in parameters}
    assert not [path for path in (ROOT / "contract_tests").rglob("*.py")
                if re.search(r"\bprefer\b", path.read_text(encoding="utf-8"), re.IGNORECASE)]


def test_the_served_mock_forces_answers_and_joins_prefer_lines():
    with start_server("--quiet") as server:
        status, headers, body = http("GET", f"{server.url}{USERS}/u1", headers={**KEY, "Prefer": "code=404"})
        assert (status, headers["preference-applied"], body["message"]) == (404, "code=404", "User not found")
        # Two Prefer lines are one list: the second line's code counts.
        status, headers, raw = raw_exchange(server.url, b"GET", f"{USERS}/u1".encode(), [
            b"X-API-Key: " + TEST_KEY.encode(), b"Prefer: respond-async", b"Prefer: code=401, example=invalidKey"])
        assert (status, headers["preference-applied"]) == (401, "code=401, example=invalidKey")
        assert json_or_none(raw) == {"status": "error", "code": 401, "message": "Invalid API key"}


@pytest.mark.parametrize("option", ["--no-prefer", "--no-control-api"])
def test_the_served_mock_ignores_prefer_with(option):
    with start_server("--quiet", option) as server:
        status, headers, body = http("GET", f"{server.url}{USERS}/u1", headers={**KEY, "Prefer": "code=200"})
        assert (status, body["message"]) == (404, "User not found")
        assert "preference-applied" not in headers
