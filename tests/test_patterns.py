"""Every `pattern` in the specs means what ECMA-262 says: `$` is the end of the string.

Python's `re` lets `$` match before a final newline, so "abc\\n" used to pass the externalId
rule that bans control characters. regress (the ECMA engine) is the oracle for every verdict.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
import regress
from schemathesis.core.jsonschema import matches_pattern

from mock_server.auth import Authenticator, KeysFileError, load_keys_file
from mock_server.errors import ApiError
from mock_server.spec import SpecValidator, load_contract, load_control_contract

from spec_walk import walk

# Line terminators Python's `$` and ECMA's `$` disagree about (or might).
SUFFIXES = ["\n", "\r\n", "\u2028"]
# Bases tried in order; each pattern is tested from the first one it accepts.
BASES = ["abc", "a@b", "pk_test_abc", "2025-03-05T14:22:00Z", "3d", "1000-03-05T14:22:00Z"]


def ecma_matches(pattern: str, text: str) -> bool:
    """The oracle: ECMA-262's verdict (the u flag, as JSON Schema asks)."""
    return regress.Regex(pattern, "u").find(text) is not None


def patterns_in(document: Any) -> Iterator[tuple[str, str]]:
    """(JSON pointer, pattern) of every `pattern` keyword in a document."""
    return ((where, node["pattern"]) for where, node in walk(document) if isinstance(node.get("pattern"), str))


def probes(pattern: str) -> list[str]:
    """A value the pattern accepts, with each suffix after it, and each suffix alone."""
    base = next(b for b in BASES if ecma_matches(pattern, b))
    return [base, *(base + s for s in SUFFIXES), *SUFFIXES]


SPEC_PATTERNS = [(f"{name}#{where}", pattern) for name, contract in
                 (("openapi.yaml", load_contract()), ("control-openapi.yaml", load_control_contract()))
                 for where, pattern in patterns_in(contract.document)]
PROBES = [pytest.param(pattern, value, id=f"{where}-{value!r}")
          for where, pattern in SPEC_PATTERNS for value in probes(pattern)]
KEY_FORMAT = "/components/securitySchemes/publicKey/x-key-format"


def test_patterns_are_found_in_the_specs():
    found = {where for where, _ in SPEC_PATTERNS}
    assert {f"openapi.yaml#{KEY_FORMAT}", "openapi.yaml#/components/schemas/FreeText",
            "openapi.yaml#/components/schemas/ExternalId", "openapi.yaml#/components/schemas/EventTime",
            "openapi.yaml#/components/schemas/TrackUserRequest/properties/email"} <= found


@pytest.mark.parametrize("pattern, value", PROBES)
def test_every_validator_gives_ecmas_verdict(pattern, value):
    """The mock's jsonschema, its jsonschema_rs fast path and Schemathesis' generation filter."""
    expected = ecma_matches(pattern, value)
    assert SpecValidator({"pattern": pattern}).is_valid(value) is expected
    assert jsonschema_rs.validator_for({"pattern": pattern}).is_valid(value) is expected
    assert matches_pattern(pattern)(value) is expected


def test_pattern_properties_are_ecma_too():
    validator = SpecValidator({"patternProperties": {"^a$": {"type": "integer"}}})
    assert validator.is_valid({"a\n": "not checked: the name does not match"})
    assert not validator.is_valid({"a": "checked"})


EXTERNAL_ID = "#/components/schemas/TrackUserRequest/properties/externalId"


@pytest.mark.parametrize("pattern, text, valid", [
    (EXTERNAL_ID, "bad-\ud83d", True),  # a lone surrogate (a YAML fixture can hold one) is a character
    (EXTERNAL_ID, "\ud83d\n", False),
    ("^.$", "\ud83d\ude00", True),  # a pair, as PyYAML may leave an emoji, is one character
])
def test_text_that_utf8_cannot_carry_gets_ecmas_verdict(pattern, text, valid):
    if pattern.startswith("#"):
        pattern = load_contract().resolve(pattern)["pattern"]
    assert SpecValidator({"pattern": pattern}).is_valid(text) is valid


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_key_format_refuses_a_trailing_line_terminator(tmp_path, suffix):
    pattern = load_contract().resolve(KEY_FORMAT)["pattern"]
    assert not ecma_matches(pattern, "pk_test_abc" + suffix)
    with pytest.raises(ApiError) as refused:
        Authenticator(pattern).authenticate("pk_test_abc" + suffix)
    assert (refused.value.status, refused.value.message) == (401, "Invalid API key")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"partners": [{"name": "p", "applications": [{"name": "a", "keys": [
        "pk_test_abc" + suffix]}]}]}), encoding="utf-8")
    with pytest.raises(KeysFileError, match="is not a pk_test_/pk_live_ key"):
        load_keys_file(keys, pattern)


# ---- HTTP: POST /v1/user-journeys/users ---------------------------------------------------------

def track_slots() -> list[tuple[str, str, str]]:
    """(property, where in it: "", "key" or "value", pattern) per patterned place of the body."""
    slots = []
    for name, schema in load_contract().request_properties("trackUser").items():
        for where, node in (("", schema), ("key", schema.get("propertyNames")),
                            ("value", schema.get("additionalProperties"))):
            if isinstance(node, dict) and "pattern" in node:
                slots.append((name, where, node["pattern"]))
    return slots


def track_body(name: str, where: str, value: str) -> dict[str, Any]:
    """A track body with `value` as property `name`, or as a key or value of that object."""
    placed = {"": value, "key": {value: "x"}, "value": {"k": value}}[where]  # replaces "p" for externalId
    return {"externalId": "p", name: placed}


def error_field(name: str, where: str, value: str) -> str:
    """The field an error names for a value at that place."""
    return {"": name, "key": f"{name}.{value}", "value": f"{name}.k"}[where]


TRACK_SLOTS = track_slots()
TRACK_CASES = [pytest.param(name, where, value, ecma_matches(pattern, value), id=f"{name}{where}-{value!r}")
               for name, where, pattern in TRACK_SLOTS for value in probes(pattern)]


def test_every_pattern_of_the_track_request_has_a_slot():
    ref = load_contract().request_schema_ref("trackUser")
    assert len(TRACK_SLOTS) == len(list(patterns_in(load_contract().bundled(ref)))) == 7


@pytest.mark.parametrize("name, where, value, valid", TRACK_CASES)
def test_track_gives_ecmas_verdict(client, store, name, where, value, valid):
    response = client.track(track_body(name, where, value))
    if valid:
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["data"][name] == track_body(name, where, value)[name]
    else:
        assert response.status_code == 400
        assert [e["field"] for e in response.get_json()["errors"]] == [error_field(name, where, value)]
        assert len(store) == 0


@pytest.mark.parametrize("field, value, status", [
    ("externalId", "abc\n", 400), ("externalId", "abc\r\n", 400), ("externalId", "0\n", 400),
    ("externalId", "abc\u2028", 200),  # a line separator is not a control character, and not blank
    ("email", "a@b\n", 400), ("email", "a@b\r\n", 400), ("email", "a@b\u2028", 400),
    ("displayName", "x\n", 200), ("displayName", "x\r\n", 200), ("source", "web\n", 200),
    ("phone", "123\n", 200),
])
def test_known_fields_with_a_trailing_line_terminator(client, store, field, value, status):
    body = {"externalId": "p", field: value}
    response = client.track(body)
    assert response.status_code == status
    if status == 400:
        assert response.get_json() == {"status": "error", "code": 400, "message": "Invalid request body",
                                       "errors": [{"field": field, "message":
                                                   f"{field} contains characters or a form that is not allowed"}]}
        assert len(store) == 0
    else:
        assert response.get_json()["data"][field] == value


def test_curl_example_from_the_issue_is_refused_for_both_fields(client, store):
    response = client.track({"externalId": "abc\n", "email": "a@b\n"})
    assert response.status_code == 400
    assert [e["field"] for e in response.get_json()["errors"]] == ["email", "externalId"]
    assert len(store) == 0


# ---- HTTP: the control API's fixtures, which reuse the request schema ---------------------------

@pytest.mark.parametrize("profile, field", [
    ({"externalId": "abc\n"}, "externalId"),
    ({"externalId": "ok", "email": "a@b\r\n"}, "email"),
])
def test_control_fixtures_refuse_a_trailing_newline(client, store, profile, field):
    response = client.post("/__mock/fixtures", json={"profiles": [{"apiKey": "pk_test_abc", "profile": profile}]})
    assert response.status_code == 400
    assert [e["field"] for e in response.get_json()["errors"]] == [f"profiles.0.profile.{field}"]
    assert len(store) == 0


def test_control_fixtures_keep_a_newline_in_free_text(client, store):
    response = client.post("/__mock/fixtures", json={"profiles": [
        {"apiKey": "pk_test_abc", "profile": {"externalId": "ok", "displayName": "x\n"}}]})
    assert response.get_json() == {"status": "success", "data": {"created": 1, "updated": 0}}
