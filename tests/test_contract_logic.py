"""Unit tests of the contract kit's own decisions: inferred rules, prefixes, live-key safety."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.core.failures import AcceptedNegativeData, FailureGroup, ServerError
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.openapi.checks import AllowHeaderMismatch, JsonSchemaError, RejectedPositiveData, UndefinedStatusCode

from contract_tests import schema
from contract_tests.inferred import Judge, Sent, documented_document
from contract_tests.schema import MAX_EXTERNAL_ID, with_prefix
from contract_tests.target import Target, TargetUnusable, default_load, preflight, preflight_requests
from contract_tests.test_conformance import judged, start_from
from contract_tests.test_offer_laws import Seen, expected_claim, most_covering
from mock_server.auth import key_hint
from mock_server.safety import UnsafeTarget, is_loopback
from mock_server.spec import Contract, load_contract


def failure(kind):
    """A bare check failure of this kind: the judge decides by kind and by the data alone."""
    return kind.__new__(kind)


@pytest.fixture(scope="module")
def documented():
    return Contract(documented_document(load_contract().document))


@pytest.fixture(scope="module")
def judge():
    return Judge(load_contract())


def body(value) -> Sent:
    return Sent(value, {}, {})


def test_documented_copy_drops_only_inferred_keywords(documented):
    full = load_contract()
    ext_full = full.resolve("#/components/schemas/ExternalId")
    ext_doc = documented.resolve("#/components/schemas/ExternalId")
    assert (ext_full["maxLength"], "pattern" in ext_full) == (255, True)
    assert "maxLength" not in ext_doc and "pattern" not in ext_doc
    assert ext_doc["minLength"] == 1  # non-empty is documented, so it stays
    assert documented.resolve("#/components/schemas/Tags") == {
        **{k: v for k, v in documented.resolve("#/components/schemas/Tags").items()},
        "type": "object"}
    assert "maxProperties" not in documented.resolve("#/components/schemas/Tags")
    assert documented.resolve("#/components/schemas/Device")["enum"] == ["mobile", "desktop", "tablet"]
    assert len(documented.resolve("#/components/schemas/CountryCode")["enum"]) == 249
    assert documented.resolve("#/components/schemas/FreeText") == {
        k: v for k, v in full.resolve("#/components/schemas/FreeText").items() if k not in ("maxLength", "pattern")}
    assert full.resolve("#/components/schemas/FreeText")["maxLength"] == 255  # the original is untouched


@pytest.mark.parametrize("sent, excused", [
    ({"externalId": "x" * 300}, True),                # only the inferred 255 limit forbids it
    ({"externalId": "u", "tags": {"n": 1}}, True),     # only the inferred string-values rule
    ({"externalId": "u", "phone": "1" * 21}, False),   # the 20-character limit is documented
    ({"externalId": "u", "device": "tv"}, False),      # the device values are documented
    ({"displayName": "no id"}, False),                 # externalId is required
])
def test_accepted_negative_data_is_excused_only_for_inferred_rules(judge, sent, excused):
    assert judge.inferred_only("trackUser", failure(AcceptedNegativeData), body(sent), 200, {}) is excused


@pytest.mark.parametrize("operation, path, query, excused", [
    ("getUserTimeline", {"externalId": "u"}, {"limit": "0"}, True),             # the minimum is inferred
    ("getUserTimeline", {"externalId": "u"}, {"limit": "101"}, True),           # refusing, not clamping, is inferred
    ("getUserTimeline", {"externalId": "u"}, {"page": "2000000000"}, True),     # the page maximum is inferred
    ("getUserTimeline", {"externalId": "u"}, {"page": "0"}, False),             # pages count from 1
    ("getUserTimeline", {"externalId": "u"}, {"limit": "ten"}, False),          # an integer, documented
    ("getUser", {"externalId": "x" * 300}, {}, True),                           # the 255 limit is inferred
    ("getUser", {"externalId": "a\x01b"}, {}, True),                            # so is the control-character ban
])
def test_accepted_negative_parameters_are_excused_only_for_inferred_rules(judge, operation, path, query, excused):
    sent = Sent(None, path, query)
    assert judge.inferred_only(operation, failure(AcceptedNegativeData), sent, 200, {}) is excused


@pytest.mark.parametrize("operation, sent, excused", [
    ("trackUser", {"externalId": "u", "extra": 1}, True),
    ("trackUser", {"externalId": "u", "country": "NG"}, False),
    ("trackEvents", {"events": [{"externalId": "u", "category": "CUSTOM", "eventType": "x", "extra": 1}]}, True),
    ("trackEvents", {"events": [{"externalId": "u", "category": "CUSTOM", "eventType": "x",
                                 "metadata": {"anything": 1}}]}, False),  # metadata takes any keys
    ("trackEvent", {"externalId": "u", "category": "CUSTOM", "eventType": "x"}, False),
])
def test_rejected_unknown_properties_are_excused(judge, operation, sent, excused):
    assert judge.inferred_only(operation, failure(RejectedPositiveData), body(sent), 400, {}) is excused


def test_a_rejected_read_is_never_excused(judge):
    sent = Sent(None, {"externalId": "u"}, {"limit": "100"})
    assert judge.inferred_only("getUserTimeline", failure(RejectedPositiveData), sent, 400, {}) is False


def test_response_schema_breaches_are_excused_only_for_inferred_rules(judge):
    breach = failure(JsonSchemaError)
    nothing = body({})

    def excused(operation: str, status: int, answer: dict) -> bool:
        return judge.inferred_only(operation, breach, nothing, status, answer)

    example = load_contract().resolve(load_contract().operation_pointer("trackUser")
                                      + "/responses/200/content/application~1json/example")
    high_score = {**example, "data": {**example["data"], "engagementScore": 150}}
    assert excused("trackUser", 200, high_score) is True  # 0-100 is inferred
    no_stage = {**example, "data": {k: v for k, v in example["data"].items() if k != "lifecycleStage"}}
    assert excused("trackUser", 200, no_stage) is False
    ok = {"status": "error", "code": 400, "message": "Invalid request body"}
    assert excused("trackUser", 400, {**ok, "errors": "not a list"}) is False
    assert excused("trackUser", 400, {**ok, "message": "Bad body"}) is False
    assert excused("trackUser", 422, ok) is False  # an undeclared status never is
    assert judge.inferred_only("trackUser", failure(ServerError), nothing, 500, {}) is False
    not_found = {"status": "error", "code": 404, "message": "User not found"}
    assert excused("getUser", 404, {**not_found, "message": "No such user"}) is True  # the message is inferred
    assert excused("getUser", 404, {**not_found, "status": "fail"}) is False
    assert excused("trackEvent", 404, not_found) is False  # not a status trackEvent declares


@pytest.mark.parametrize("external_id, expected", [
    ("abc", "ct-run-abc"),
    ("", "ct-run-"),
    ("x" * (MAX_EXTERNAL_ID - 7), "ct-run-" + "x" * (MAX_EXTERNAL_ID - 7)),
    ("y" * MAX_EXTERNAL_ID, "ct-run-" + "y" * (MAX_EXTERNAL_ID - 7)),
    ("z" * (MAX_EXTERNAL_ID + 1), "ct-run-" + "z" * (MAX_EXTERNAL_ID - 6)),
])
def test_prefix_keeps_boundary_lengths(external_id, expected):
    assert with_prefix("ct-run-", external_id) == expected
    assert (len(external_id) <= MAX_EXTERNAL_ID) == (len(expected) <= MAX_EXTERNAL_ID)


@pytest.fixture
def prefixing(monkeypatch):
    """The before_call hook, as a run whose prefix is ct-run- would call it."""
    monkeypatch.setattr(schema, "_aimed_at", [Target(api_key="pk_test_a", other_api_keys=(), run_id="run")])
    return lambda case: schema.prefix_external_id(None, case, {})


@pytest.mark.parametrize("path, body, expected", [
    ("/v1/user-journeys/users", {"externalId": "u", "phone": "1"}, {"externalId": "ct-run-u", "phone": "1"}),
    ("/v1/user-journeys/events", {"externalId": "u", "points": 1}, {"externalId": "ct-run-u", "points": 1}),
    ("/v1/user-journeys/track", {"events": [{"externalId": "a"}, {"externalId": 7}, "not an event", {"x": 1}]},
     {"events": [{"externalId": "ct-run-a"}, {"externalId": 7}, "not an event", {"x": 1}]}),
])
def test_every_external_id_a_body_names_gets_the_prefix(prefixing, path, body, expected):
    case = schema.SCHEMA[path]["POST"].Case(body=body)
    prefixing(case)
    assert case.body == expected


@pytest.mark.parametrize("sent, expected", [
    ("a%2Fb", "ct-run-a%2Fb"),                               # path values come percent-encoded
    ("%C3%97", "ct-run-%C3%97"),
    ("ct-run-linked", "ct-run-linked"),                      # read back from an answer (a link): already marked
    ("%C3%97" * MAX_EXTERNAL_ID, "ct-run-" + "%C3%97" * (MAX_EXTERNAL_ID - 7)),  # the length rule counts characters
])
def test_a_path_external_id_gets_the_prefix(prefixing, sent, expected):
    case = schema.SCHEMA["/v1/user-journeys/users/{externalId}/timeline"]["GET"].Case(
        path_parameters={"externalId": sent})
    prefixing(case)
    assert case.path_parameters == {"externalId": expected}


@settings(max_examples=5, database=None, suppress_health_check=list(HealthCheck))
@given(case=schema.SCHEMA["/v1/user-journeys/users/{externalId}"]["GET"].as_strategy(
    generation_mode=GenerationMode.NEGATIVE))
def test_a_path_external_id_that_breaks_the_rule_is_sent_as_generated(prefixing, case):
    """Schemathesis would re-check the edited, percent-encoded text and could call it valid."""
    assume(case.meta.is_negative_at(ParameterLocation.PATH))
    sent = dict(case.path_parameters)
    prefixing(case)
    assert case.path_parameters == sent


@settings(max_examples=5, database=None, suppress_health_check=list(HealthCheck))
@given(case=schema.SCHEMA["/v1/user-journeys/users/{externalId}/timeline"]["GET"].as_strategy(
    generation_mode=GenerationMode.NEGATIVE))
def test_a_bad_query_goes_to_a_user_that_exists(prefixing, case):
    """Else the 404 of an unknown user would pass for refusing it."""
    assume(case.meta.is_negative_at(ParameterLocation.QUERY) and not case.meta.is_negative_at(ParameterLocation.PATH))
    prefixing(case)
    assert case.path_parameters == {"externalId": "ct-run-preflight"}


@pytest.mark.parametrize("url, loopback", [
    ("http://127.0.0.1:4010", True), ("http://localhost:4010", True), ("http://127.8.9.1", True),
    ("http://[::1]:4010", True), ("http://app.localhost", True), ("https://api.gamifyhost.com", False),
    ("http://10.0.0.5", False), ("http://192.168.1.2:4010", False), ("http://localhost.evil.com", False),
])
def test_loopback_detection(url, loopback):
    assert is_loopback(url) is loopback


STAGING = "https://staging.example.com"


@pytest.mark.parametrize("base_url, key, allow_live, skip_writes, writable", [
    (STAGING, "pk_test_a", False, False, True),
    (STAGING, "pk_live_a", False, False, False),  # read only: isolation reads, no events, no claims
    (STAGING, "pk_live_a", True, False, True),
    (STAGING, "pk_test_a", False, True, False),  # --skip-writes: nothing is written, whatever the key
    (STAGING, "pk_live_a", True, True, False),
    ("http://127.0.0.1:4010", "pk_live_a", False, False, True),  # the mock on this machine holds no live data
    (None, "pk_live_a", False, False, True),  # in-process
    (None, "pk_test_a", False, True, False),
])
def test_a_key_may_write_unless_reads_only_or_live_off_this_machine(base_url, key, allow_live, skip_writes,
                                                                       writable):
    target = Target(api_key="pk_test_a", other_api_keys=(key,), base_url=base_url, allow_live=allow_live,
                    skip_writes=skip_writes, users=("u",))
    assert target.may_write(key) is writable
    assert (target.why_read_only(key) == "") is writable


def test_a_live_main_key_off_this_machine_needs_allow_live_or_skip_writes():
    with pytest.raises(UnsafeTarget, match="refusing to write with a pk_live_ key to https://staging.example.com"):
        Target(api_key="pk_live_a", other_api_keys=(), base_url=STAGING).check_safety()
    Target(api_key="pk_live_a", other_api_keys=(), base_url=STAGING, allow_live=True).check_safety()
    Target(api_key="pk_live_a", other_api_keys=(), base_url=STAGING, skip_writes=True, users=("u",)).check_safety()
    Target(api_key="pk_test_a", other_api_keys=("pk_live_a",), base_url=STAGING).check_safety()  # reads only
    Target(api_key="pk_live_a", other_api_keys=(), base_url="http://127.0.0.1:4010").check_safety()


def test_the_preflight_tries_every_operation_with_a_key_that_writes_and_the_reads_with_one_that_does_not():
    target = Target(api_key="pk_test_a", other_api_keys=("pk_live_a",), base_url=STAGING)
    sent = [(operation, expected) for operation, _, expected in preflight_requests(target, "pk_test_a")]
    assert sent == [("trackUser", "ok"), ("getUser", "any"), ("getUserTimeline", "any"), ("getUserOffers", "any"),
                    ("trackEvent", "any"), ("trackEvents", "any"), ("claimOffer", "any")]
    reads = preflight_requests(target, "pk_live_a")
    assert [(operation, request["path"]["externalId"]) for operation, request, _ in reads] == [
        (operation, f"{target.prefix}preflight") for operation in ("getUser", "getUserTimeline", "getUserOffers")]


def test_a_named_user_is_checked_first_when_the_run_writes_too():
    target = Target(api_key="pk_test_a", other_api_keys=("pk_test_b",), base_url=STAGING, users=("alice",))
    first, second = preflight_requests(target, "pk_test_a")[:2]
    assert (first[0], first[1]["path"]["externalId"], first[2]) == ("getUser", "alice", "user")
    assert second[0] == "trackUser"
    assert all(operation != "getUser" or r["path"]["externalId"] != "alice"
               for operation, r, _ in preflight_requests(target, "pk_test_b"))


def test_with_skip_writes_the_preflight_reads_each_named_user_and_the_main_key_must_have_them():
    target = Target(api_key="pk_test_a", other_api_keys=("pk_test_b",), base_url=STAGING, skip_writes=True,
                    users=("alice", "bob"))
    assert [(o, r["path"]["externalId"], e) for o, r, e in preflight_requests(target, "pk_test_a")] == [
        ("getUser", "alice", "user"), ("getUserTimeline", "alice", "any"), ("getUserOffers", "alice", "any"),
        ("getUser", "bob", "user"), ("getUserTimeline", "bob", "any"), ("getUserOffers", "bob", "any")]
    assert {e for _, _, e in preflight_requests(target, "pk_test_b")} == {"any"}  # another key may lack them


@pytest.mark.parametrize("base_url, load", [
    (None, (100, None)), ("http://127.0.0.1:4010", (100, None)), ("http://localhost:8080", (100, None)),
    ("http://[::1]:4010", (100, None)), ("https://staging.example.com", (20, 5.0)), ("http://10.0.0.5:4010", (20, 5.0)),
])
def test_only_a_server_off_this_machine_gets_the_gentle_defaults(base_url, load):
    assert default_load(base_url) == load


@pytest.mark.parametrize("key, hint", [
    ("pk_live_4e1baec9e705789eebc174f4eabc875a", "pk_live_4e1…"), ("pk_test_local", "pk_test_lo…"),
    ("pk_test_ab", "pk_test_a…"), ("pk_test_x", "pk_test_…"), ("sk_test_secret", "sk_test_sec…"), ("garbage", "gar…"),
])
def test_a_key_is_shown_as_its_kind_and_at_most_three_characters(key, hint):
    assert key_hint(key) == hint


def validating_before_auth(environ, start_response):
    """A server that checks the body before the key: 400 for a bad body, whatever the key."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    key_ok = environ.get("HTTP_X_API_KEY") == "pk_test_good"
    status, answer = (("400 Bad Request", {"status": "error", "code": 400, "message": "Invalid request body"})
                      if b"externalId" not in body else
                      ("200 OK", {"status": "success", "data": {}}) if key_ok else
                      ("401 Unauthorized", {"status": "error", "code": 401, "message": "Invalid API key"}))
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]


@pytest.mark.parametrize("keys, complaint", [
    (("pk_test_good", "pk_test_bad"), "the target refused key pk_test_b… for trackUser (401 Invalid API key)"),
    (("pk_test_bad", "pk_test_good"), "the target refused key pk_test_b… for trackUser (401 Invalid API key)"),
])
def test_the_preflight_catches_a_refused_key_even_where_bodies_are_checked_first(keys, complaint):
    target = Target(api_key=keys[0], other_api_keys=keys[1:])
    target._app = validating_before_auth
    with pytest.raises(TargetUnusable) as refused:
        preflight(target)
    assert str(refused.value) == complaint


def refusing_offers(environ, start_response):
    """A server whose keys all work, except that pk_test_nooffers may not read offers (403)."""
    refused = environ["PATH_INFO"].endswith("/offers") and environ.get("HTTP_X_API_KEY") == "pk_test_nooffers"
    status, answer = (("403 Forbidden", {"status": "error", "code": 403, "message": "Not allowed"}) if refused else
                      ("200 OK", {"status": "success", "data": {}}))
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]


def test_a_key_refused_by_one_operation_alone_stops_the_run_naming_it():
    target = Target(api_key="pk_test_good", other_api_keys=("pk_test_nooffers",))
    target._app = refusing_offers
    with pytest.raises(TargetUnusable) as refused:
        preflight(target)
    assert str(refused.value) == "the target refused key pk_test_noo… for getUserOffers (403 Not allowed)"


def test_the_preflight_passes_keys_the_target_accepts():
    target = Target(api_key="pk_test_good", other_api_keys=("pk_test_good",))
    target._app = validating_before_auth
    preflight(target)  # raises if any key is not accepted


EVENT = {"id": "e1f2a3b4-c5d6-7890-abcd-ef1234567890", "partnerId": "p", "externalId": "u", "environment": "TEST",
         "category": "GAME_PLAY", "eventType": "spin_the_wheel", "points": 5, "occurredAt": "2025-03-05T14:22:00Z"}


@pytest.mark.parametrize("operation, status, answer, excused", [
    # Only data.events, data.page and data.total are in the docs' samples.
    ("getUserTimeline", 200, {"status": "success", "data": {"events": [], "page": 1, "total": 0}}, True),
    ("getUserTimeline", 200, {"status": "success", "data": {"events": [], "page": 1}}, False),
    # An event's metadata is the mock's echo of the request; its occurredAt is in the docs' samples.
    ("getUserTimeline", 200, {"status": "success", "data": {"events": [EVENT], "page": 1, "total": 1}}, True),
    ("getUserTimeline", 200, {"status": "success", "data": {"events": [{**EVENT, "occurredAt": None}],
                                                             "page": 1, "total": 1}}, False),
    # trackEvent's whole answer is inferred (its page could not be read): only the envelope is judged.
    ("trackEvent", 200, {"status": "success", "data": {"event": {**EVENT, "occurredAt": None}}}, True),
])
def test_answers_missing_only_inferred_fields_are_excused(judge, operation, status, answer, excused):
    assert judge.inferred_only(operation, failure(JsonSchemaError), body({}), status, answer) is excused


def test_a_batch_of_101_accepted_breaks_only_an_inferred_limit(judge):
    batch = {"events": [{"externalId": "u", "category": "CUSTOM", "eventType": "x"}] * 101}
    assert judge.inferred_only("trackEvents", failure(AcceptedNegativeData), body(batch), 200, {}) is True


@pytest.mark.parametrize("operation, status, excused", [
    ("trackEvent", 201, True), ("trackEvents", 201, True),  # their 200 is inferred: the pages were unreadable
    ("trackUser", 201, False),  # documented: 200 for a create too
    ("trackEvent", 302, False),
])
def test_another_success_status_is_excused_only_where_200_is_inferred(judge, operation, status, excused):
    assert judge.inferred_only(operation, failure(UndefinedStatusCode), body({}), status, {}) is excused


# Offers (issue 10): the claim outcomes the offer laws expect, and how sequences reach the offers.

def seen_offer(owner="u", issued_at=100, expires_at=200, claimed_at=None) -> Seen:
    return Seen(owner, {"expiresAt": datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
                issued_at, claimed_at)


@pytest.mark.parametrize("seen, claimant, now, malformed, expected", [
    (None, "u", 150, False, (404, "Offer not found", False, False)),               # an id no offer has
    (None, "u", 150, True, (404, "Offer not found", True, True)),                  # not a UUID: 404 is inferred
    (seen_offer(owner="v"), "u", 150, False, (404, "Offer not found", False, False)),  # another user's
    (seen_offer(), "u", 99, False, (404, "Offer not found", True, True)),          # not yet issued at now
    (seen_offer(), "u", 100, False, (200, None, False, False)),                    # issued this second
    (seen_offer(), "u", 199, False, (200, None, False, False)),                    # its last second
    (seen_offer(), "u", 200, False, (400, "Offer has expired", False, False)),     # expiresAt itself is past
    (seen_offer(claimed_at=150), "u", 160, False, (400, "Offer is no longer active", False, False)),
    (seen_offer(claimed_at=150), "u", 250, False, (400, "Offer is no longer active", False, True)),  # and expired
    (seen_offer(claimed_at=150), "u", 99, False, (404, "Offer not found", True, True)),  # clock back before issue
])
def test_the_offer_laws_expect_the_documented_claim_answers(seen, claimant, now, malformed, expected):
    outcome = expected_claim(seen, claimant, now, malformed)
    assert (outcome.status, outcome.message, outcome.status_inferred, outcome.message_inferred) == expected


@pytest.mark.parametrize("periods, most", [
    ([], 0), ([(0, 10)], 1), ([(0, 10), (10, 20)], 1), ([(0, 10), (9, 20)], 2),
    ([(0, 10), (2, 4), (3, 5), (4, 6)], 3), ([(5, 5), (0, 10)], 1), ([(0, 10)] * 4, 4),
])
def test_most_covering_counts_half_open_periods(periods, most):
    assert most_covering(periods) == most


def test_only_a_claim_in_a_sequence_may_be_refused_as_valid_data():
    """The stateful phase claims an offer twice on purpose: the second answer, 400, is right."""
    claim = schema.SCHEMA["/v1/user-journeys/users/{externalId}/offers/{offerId}/claim"]["POST"]
    offers = schema.SCHEMA["/v1/user-journeys/users/{externalId}/offers"]["GET"]

    def accepted(operation, phase):
        return schema.SCHEMA.config.checks_config_for(operation=operation, phase=phase).positive_data_acceptance

    assert "400" in accepted(claim, "stateful").expected_statuses
    assert "400" not in accepted(offers, "stateful").expected_statuses
    for phase in ("examples", "coverage", "fuzzing"):
        assert "400" not in accepted(claim, phase).expected_statuses


def test_sequences_also_start_by_tracking_a_user():
    """Schemathesis starts them from trackEvent alone; trackUser's links lead to the offers and the claim."""
    machine = type("Links", (schema.SCHEMA.as_state_machine(),), {})
    start_from(machine, "trackUser")
    assert "START__trackUser" in machine.root_rules
    assert "POST /v1/user-journeys/users" in machine._root_labels
    rules = {name for name in dir(machine) if "__" in name.strip("_")}
    assert any("GetOffers" in name for name in rules) and any("ClaimOffer" in name for name in rules)


def sequence_case(path: str, method: str, **fixed):
    """A case as the stateful phase makes one (positive, its metadata saying stateful)."""
    drawn = []

    @settings(max_examples=1, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=schema.SCHEMA[path][method].as_strategy(phase=TestPhase.STATEFUL, **fixed))
    def draw(case):
        drawn.append(case)

    draw()
    return drawn[0]


def test_a_sequence_that_tracks_a_user_gets_a_user_of_its_own(prefixing):
    ids = set()
    for _ in range(2):
        case = sequence_case("/v1/user-journeys/users", "POST", body={"externalId": "ct-run-abcd1234-same"})
        prefixing(case)
        ids.add(case.body["externalId"])
    assert len(ids) == 2
    assert all(re.fullmatch(r"ct-run-[0-9a-f]{8}-same", external_id) for external_id in ids)


@pytest.mark.parametrize("sent, expected", [
    ("ct-run-linked", "ct-run-linked"),                     # a link's value (the run's own id) is kept
    ("ct-run-a%2Fb", "ct-run-a%2Fb"),
    ("drawn", "ct-run-preflight"),                          # an id no link gave reads a user that exists
])
def test_a_sequence_reads_a_linked_id_or_the_preflight_user(prefixing, sent, expected):
    """Else the 404 of a random id read after POST /users is "ST302 Created resource not found": Schemathesis
    takes what the before_call hook changed for a link's value."""
    case = sequence_case("/v1/user-journeys/users/{externalId}/offers", "GET", path_parameters={"externalId": sent})
    prefixing(case)
    assert case.path_parameters == {"externalId": expected}


def test_a_lenient_run_judges_a_failure_of_a_case_sent_with_another_method(judge):
    """Schemathesis' method checks send an operation's case as OPTIONS (or an undeclared method): the failure
    is the operation's, and it fails the run (it was a KeyError before)."""
    case = sequence_case("/v1/user-journeys/users/{externalId}/offers/{offerId}/claim", "POST")
    case.method = "OPTIONS"
    group = FailureGroup([failure(AllowHeaderMismatch)], "Allow header mismatch")

    def validate():
        raise group

    response = SimpleNamespace(status_code=200, request=SimpleNamespace(url="http://localhost/x"), json=lambda: None)
    lenient = Target(api_key="pk_test_a", other_api_keys=(), base_url="http://127.0.0.1:9", inferred_fail=False)
    with pytest.raises(FailureGroup):
        judged(lenient, judge, case, response, validate)
