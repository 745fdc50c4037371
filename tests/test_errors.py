"""Every client mistake gets the envelope with the right status, and changes nothing."""
from __future__ import annotations

import pytest
import yaml
from conftest import TEST_KEY

from spec_walk import walk

PATH = "/v1/user-journeys/users"
JSON = {"X-API-Key": TEST_KEY, "Content-Type": "application/json"}
COUNTRY_RULE = "country must be one of 249 values: an assigned ISO 3166-1 alpha-2 code, upper case"


def raw_post(client, data, headers=JSON):
    return client.post(PATH, data=data, headers=headers)


@pytest.mark.parametrize("data, field, message", [
    (b'{"externalId": "u"', "", "malformed JSON at line 1 column 19: Expecting ',' delimiter"),
    (b"", "", "body is empty"),
    (b"   ", "", "body is empty"),
    (b"[]", "", "body must be of type object"),
    (b'"u"', "", "body must be of type object"),
    (b"42", "", "body must be of type object"),
    (b"null", "", "body must be of type object"),
    (b"{}", "externalId", "externalId is required"),
    (b'{"externalId": ""}', "externalId", "externalId must not be empty"),
    (b'{"externalId": "   "}', "externalId", "externalId contains characters or a form that is not allowed"),
    (b'{"externalId": "a\\u0000b"}', "externalId", "externalId contains characters or a form"),
    (b'{"externalId": 12345}', "externalId", "externalId must be of type string"),
    (b'{"externalId": "u", "phone": "123456789012345678901"}', "phone",
     "phone must be at most 20 characters long"),
    (b'{"externalId": "u", "device": "tv"}', "device", "device must be one of: mobile, desktop, tablet"),
    (b'{"externalId": "u", "country": "ng"}', "country", COUNTRY_RULE),
    (b'{"externalId": "u", "country": "UK"}', "country", COUNTRY_RULE),
    (b'{"externalId": "u", "email": "not-an-email"}', "email", "email contains characters or a form"),
    (b'{"externalId": "u", "displayName": null}', "displayName", "displayName must be of type string"),
    (b'{"externalId": "u", "tags": {"plan": 1}}', "tags.plan", "tags.plan must be of type string"),
    (b'{"externalId": "u", "tags": ["a"]}', "tags", "tags must be of type object"),
    (b'{"externalId": "u", "tags": {"": "x"}}', "tags", "key '' in tags must not be empty"),
    (b'{"externalId": "u", "tags": {"' + b"k" * 65 + b'": "x"}}', "tags",
     "key '" + "k" * 64 + "'… in tags must be at most 64 characters long"),
    (b'{"externalId": "u", "tags": {' + b", ".join(b'"t%d": "x"' % i for i in range(51)) + b"}}", "tags",
     "tags must have at most 50 entries"),
    (b'{"externalId": "u", "metadata": "x"}', "metadata", "metadata must be of type object"),
    (b'{"externalId": "u", "externalId": "v"}', "", "duplicate key 'externalId'"),
    (b'{"externalId": "u", "metadata": {"n": NaN}}', "", "NaN is not valid JSON"),
    (b'{"externalId": "u", "metadata": {"n": -Infinity}}', "", "-Infinity is not valid JSON"),
    (b'{"externalId": "u", "metadata": {"n": 1e400}}', "", "number 1e400 is too large"),
    (b'{"externalId": "u", "metadata": {"n": -2.5E+999}}', "", "number -2.5E+999 is too large"),
    (b'{"externalId": "u", "metadata": {"n": 1' + b"0" * 5000 + b"}}", "", "Exceeds the limit"),
    (b'{"externalId": "\\ud800"}', "", "unpaired surrogate"),
    (b'{"externalId": "caf\xe9"}', "", "body is not valid UTF-8 (byte 19)"),
    (b'{"externalId": "u", "metadata": ' + b"[" * 10000 + b"]" * 10000 + b"}", "", "nested too deeply"),
])
def test_invalid_body_is_400_naming_the_field(client, store, data, field, message):
    response = raw_post(client, data)
    assert response.status_code == 400
    body = response.get_json()
    assert (body["status"], body["code"], body["message"]) == ("error", 400, "Invalid request body")
    assert body["errors"][0]["field"] == field
    assert message in body["errors"][0]["message"]
    assert len(store) == 0


@pytest.mark.parametrize("data, errors", [
    (b'{"externalId": "' + b"x" * 256 + b'"}', [("externalId", "externalId must be at most 255 characters long")]),
    (b'{"externalId": "u", "device": "tv", "country": "XX"}',
     [("country", COUNTRY_RULE), ("device", "device must be one of: mobile, desktop, tablet")]),
])
def test_messages_are_whole_sentences_with_the_rule(client, data, errors):
    body = raw_post(client, data).get_json()
    assert [(e["field"], e["message"]) for e in body["errors"]] == errors


# Keywords that never fail on their own: they only pass on their subschemas' errors.
PASS_THROUGH = {"$ref", "allOf", "items", "properties", "propertyNames", "if", "then", "else"}


def test_every_schema_keyword_in_the_specs_has_a_sentence():
    """A keyword added to either spec without a sentence in validation.py fails here."""
    from jsonschema import Draft202012Validator

    from mock_server.spec import CONTROL_SPEC_PATH, default_spec_path
    from mock_server.validation import _RULES

    used = set()
    for path in (default_spec_path(), CONTROL_SPEC_PATH):
        used |= {key for _, node in walk(yaml.safe_load(path.read_text(encoding="utf-8"))) for key in node}
    failing = used & set(Draft202012Validator.VALIDATORS) - PASS_THROUGH
    assert failing >= {"enum", "minLength", "maximum", "not", "anyOf"}  # the walk finds them
    assert failing - set(_RULES) == set()


@pytest.mark.parametrize("schema, value, message", [
    ({"type": ["string", "null"]}, 1, "v must be of type string or null"),
    ({"const": "success"}, "x", "v must be 'success'"),
    ({"enum": list("ABCDEFGHIJK")}, "Z", "v must be one of 11 values: e.g. A, B, C"),
    ({"enum": [1, None]}, 2, "v must be one of: 1, null"),
    ({"minLength": 2}, "a", "v must be at least 2 characters long"),
    ({"maxLength": 1}, "ab", "v must be at most 1 character long"),
    ({"maxProperties": 1}, {"a": 1, "b": 2}, "v must have at most 1 entry"),
    ({"minimum": 1}, 0, "v must be at least 1"),
    ({"maximum": 500}, 501, "v must be at most 500"),
    ({"exclusiveMinimum": 0}, 0, "v must be greater than 0"),
    ({"format": "uuid"}, "x", "v is not a valid uuid"),
    ({"pattern": "^a$"}, "b", "v contains characters or a form that is not allowed"),
    ({"type": "object", "required": ["a", "b"]}, {}, "v.a is required"),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"b": 1, "c": 2},
     "v has properties not allowed here: 'b', 'c'"),
    ({"not": {"required": ["a", "b"]}}, {"a": 1, "b": 2}, "v must not have a together with b"),
    ({"not": {"type": "string"}}, "s", "v has a form that is not allowed here"),
    ({"anyOf": [{"enum": ["x", "y"]}, {"const": ""}]}, "z", "v must be one of: x, y or must be ''"),
])
def test_each_rule_reads_as_a_sentence(schema, value, message):
    from jsonschema import Draft202012Validator

    from mock_server.validation import field_errors

    validator = Draft202012Validator({"properties": {"v": schema}}, format_checker=Draft202012Validator.FORMAT_CHECKER)
    [first, *_] = field_errors(validator, {"v": value})
    assert first["message"] == message


def test_each_missing_property_is_named():
    """jsonschema reports each missing property as its own error; each names its own field."""
    from jsonschema import Draft202012Validator

    from mock_server.validation import field_errors

    errors = field_errors(Draft202012Validator({"required": ["apiKey", "profile"]}), {})
    assert errors == [{"field": "apiKey", "message": "apiKey is required"},
                      {"field": "profile", "message": "profile is required"}]


def test_every_broken_field_is_reported(client):
    body = client.track({"device": "tv", "country": "XX", "phone": "1" * 21}).get_json()
    assert [e["field"] for e in body["errors"]] == ["externalId", "country", "device", "phone"]


def test_a_failed_update_leaves_the_profile_as_it_was(client):
    before = client.track({"externalId": "u", "displayName": "Ann", "tags": {"a": "1"}}).get_json()["data"]
    response = client.track({"externalId": "u", "displayName": "Bob", "tags": {"a": "2"}, "device": "tv"})
    assert response.status_code == 400
    after = client.track({"externalId": "u"}).get_json()["data"]
    assert (after["displayName"], after["tags"]) == ("Ann", {"a": "1"})
    assert after["id"] == before["id"]


def test_unknown_properties_are_accepted_and_ignored(client):
    response = client.track({"externalId": "u", "favouriteColour": "teal", "id": "forged"})
    assert response.status_code == 200
    profile = response.get_json()["data"]
    assert "favouriteColour" not in profile and profile["id"] != "forged"


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "application/jsonp",
    "application/json; charset=latin-1", "application/vnd.api+json",
])
def test_other_media_types_are_415(client, store, content_type):
    headers = {"X-API-Key": TEST_KEY} | ({"Content-Type": content_type} if content_type else {})
    response = raw_post(client, b'{"externalId": "u"}', headers)
    assert response.status_code == 415
    assert response.get_json() == {"status": "error", "code": 415,
                                   "message": "Content-Type must be application/json"}
    assert len(store) == 0


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON; charset=UTF-8"])
def test_json_media_types_are_accepted(client, content_type):
    response = raw_post(client, b'{"externalId": "u"}', {"X-API-Key": TEST_KEY, "Content-Type": content_type})
    assert response.status_code == 200


def test_unknown_route_is_404(client):
    for method in ("get", "post", "delete"):
        response = getattr(client, method)("/v1/user-journeys/nope", headers=JSON)
        assert response.status_code == 404
        assert response.get_json() == {"status": "error", "code": 404, "message": "Route not found"}


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_wrong_method_is_405_with_allow(client, method):
    response = getattr(client, method)(PATH, headers=JSON)
    assert response.status_code == 405
    assert response.get_json() == {"status": "error", "code": 405, "message": "Method not allowed"}
    assert "POST" in response.headers["Allow"]


def test_body_over_the_limit_is_413(app, client, store):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = raw_post(client, b'{"externalId": "u", "metadata": {"x": "' + b"a" * 1000 + b'"}}')
    assert response.status_code == 413
    assert response.get_json() == {"status": "error", "code": 413, "message": "Request body too large"}
    assert len(store) == 0


def test_default_limit_is_one_mebibyte(client):
    filler = b"a" * (1024 * 1024)
    response = raw_post(client, b'{"externalId": "u", "metadata": {"x": "' + filler + b'"}}')
    assert response.status_code == 413
    just_under = b'{"externalId": "u", "metadata": {"x": "' + b"a" * (1024 * 1024 - 100) + b'"}}'
    assert raw_post(client, just_under).status_code == 200


def test_a_crash_is_500_failed_to_track_user(app, client, monkeypatch):
    def explode(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.extensions["gamifyhost_mock"].store, "upsert", explode)
    response = client.track({"externalId": "u"})
    assert response.status_code == 500
    assert response.get_json() == {"status": "error", "code": 500, "message": "Failed to track user"}


@pytest.mark.parametrize("external_id", ["\u3000", "\ufeff", " \u00a0 ", "\u2028", "a\x1fb", "a\x85b", "\t"])
def test_external_id_whitespace_and_controls_are_refused(client, store, external_id):
    response = client.track({"externalId": external_id})
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "externalId"
    assert len(store) == 0


@pytest.mark.parametrize("external_id", ["a b", "user 😀 ü", "用户-42", " padded "])
def test_external_id_with_inner_spaces_and_any_script_is_kept_exactly(client, external_id):
    assert client.track({"externalId": external_id}).get_json()["data"]["externalId"] == external_id


@pytest.mark.parametrize("email", ["\x1f@0", "a b@example.com", "a@b@c", "@example.com", "ann@", "ann\u3000@x.io"])
def test_malformed_emails_are_refused(client, email):
    response = client.track({"externalId": "u", "email": email})
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "email"


@pytest.mark.parametrize("escape", ["\\ud800", "\\uDBFF", "\\udc00", "\\uDFFF", "\\ude00\\ud83d"])
def test_every_lone_or_misordered_surrogate_escape_is_refused(client, store, escape):
    response = raw_post(client, b'{"externalId": "s-' + escape.encode() + b'"}')
    assert response.status_code == 400
    assert "unpaired surrogate" in response.get_json()["errors"][0]["message"]
    assert len(store) == 0


def test_a_proper_surrogate_pair_is_a_character(client):
    response = raw_post(client, b'{"externalId": "s-\\ud83d\\ude00"}')
    assert response.get_json()["data"]["externalId"] == "s-\U0001F600"
