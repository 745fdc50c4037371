"""The contract itself: valid OpenAPI, faithful to the documented facts, inferences marked."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

from mock_server.spec import default_spec_path, load_contract, pointer

from doc_examples import DOC_PROFILE_KEYS, DOC_REQUEST
from spec_walk import walk

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def contract():
    return load_contract(ROOT / "openapi.yaml")


def test_spec_is_valid_openapi_31():
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_the_mock_serves_the_repository_spec():
    assert default_spec_path().read_bytes() == (ROOT / "openapi.yaml").read_bytes()


def test_operation_servers_and_security(contract):
    doc = contract.document
    op = contract.resolve(contract.operation_pointer("trackUser"))
    assert op["security"] == [{"publicKey": []}]
    assert doc["components"]["securitySchemes"]["publicKey"] == {
        **doc["components"]["securitySchemes"]["publicKey"],
        "type": "apiKey", "in": "header", "name": "X-API-Key",
    }
    assert [s["url"] for s in doc["servers"]] == ["https://api.gamifyhost.com", "http://127.0.0.1:4010"]
    assert set(op["responses"]) == {"200", "400", "401", "403", "413", "415", "500"}


def test_documented_request_example_is_valid(contract):
    validator = contract.validator(contract.request_schema_ref("trackUser"))
    assert list(validator.iter_errors(DOC_REQUEST)) == []
    op = contract.resolve(contract.operation_pointer("trackUser"))
    assert op["requestBody"]["content"]["application/json"]["example"] == DOC_REQUEST


def test_documented_response_example_is_the_example_and_valid(contract):
    ref = contract.response_schema_ref("trackUser", 200)
    example = contract.resolve(contract.operation_pointer("trackUser") + pointer(
        "responses", "200", "content", "application/json", "example"))
    assert list(example["data"]) == DOC_PROFILE_KEYS
    assert example["data"]["phone"] == "" and example["data"]["lastSeenAt"] == "2025-03-05T14:22:00Z"
    assert list(contract.validator(ref).iter_errors(example)) == []


def test_profile_schema_requires_all_25_documented_fields(contract):
    profile = contract.resolve("#/components/schemas/UserProfile")
    assert profile["required"] == DOC_PROFILE_KEYS
    assert list(profile["properties"]) == DOC_PROFILE_KEYS
    assert profile["properties"]["lifecycleStage"]["enum"] == [
        "new", "active", "engaged", "power_user", "at_risk", "churned"]
    assert profile["properties"]["engagementTier"]["enum"] == ["casual", "regular", "power_user", "whale"]
    assert profile["properties"]["environment"]["enum"] == ["TEST", "LIVE"]


@pytest.mark.parametrize("field, value", [
    ("id", "not-a-uuid"),
    ("firstSeenAt", "2025-01-15 10:30"),
    ("lastSeenAt", "yesterday"),
    ("environment", "STAGING"),
    ("engagementTier", "power"),
    ("totalPlays", -1),
    ("device", "tv"),
])
def test_profile_schema_rejects_wrong_values(contract, field, value):
    """Formats are really checked (uuid, date-time), not just declared."""
    ref = contract.response_schema_ref("trackUser", 200)
    example = contract.resolve(contract.operation_pointer("trackUser") + pointer(
        "responses", "200", "content", "application/json", "example"))
    broken = {**example, "data": {**example["data"], field: value}}
    assert not contract.validator(ref).is_valid(broken)


def test_country_is_the_list_of_assigned_alpha2_codes(contract):
    codes = contract.resolve("#/components/schemas/CountryCode")["enum"]
    assert len(codes) == 249 == len(set(codes))
    assert {"NG", "US", "GB", "NO", "AX", "SS"} <= set(codes)  # NO must not have become False
    assert not {"UK", "EU", "XK", "ng"} & set(codes)


@pytest.mark.parametrize("status, messages", [
    ("400", ["Invalid request body"]),
    ("401", ["Missing X-API-Key header", "Invalid API key"]),
    ("403", ["API key has been revoked", "Application is not active", "Partner account not found"]),
    ("500", ["Failed to track user"]),
])
def test_documented_error_messages(contract, status, messages):
    schema = contract.resolve(contract.response_schema_ref("trackUser", status))
    message = schema["allOf"][1]["properties"]["message"]
    assert message.get("enum", [message.get("const")]) == messages
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}


def test_every_inference_is_marked_with_a_reason(contract):
    marked = [(p, n) for p, n in walk(contract.document) if n.get("x-inferred") is True]
    assert len(marked) >= 10
    for path, node in marked:
        assert len(node.get("x-inferred-reason", "")) > 20, f"{path} has no reason"
    paths = {p for p, _ in marked}
    for expected in ["/components/schemas/FreeText", "/components/schemas/Tags",
                     "/components/schemas/Error/properties/errors",
                     "/components/responses/UnsupportedMediaType",
                     "/components/schemas/TrackUserRequest/x-unknown-properties",
                     "/components/schemas/TrackUserRequest/properties/email"]:
        assert expected in paths


def test_compiled_validators_share_the_specs_enum_lists(contract):
    """The fast enum check caches per list; fresh copies per validator would grow that cache."""
    from mock_server.spec import _STRING_ENUMS

    ref = contract.request_schema_ref("trackUser")
    contract.validator(ref).is_valid({"externalId": "u", "country": "NG", "device": "mobile"})
    entries = len(_STRING_ENUMS)
    for _ in range(3):
        validator = contract.validator(ref)
        assert validator.is_valid({"externalId": "u", "country": "NG", "device": "tablet"})
        assert not validator.is_valid({"externalId": "u", "country": "XX"})
        assert not validator.is_valid({"externalId": "u", "device": "NG"})
    assert len(_STRING_ENUMS) == entries
    countries = contract.resolve("#/components/schemas/CountryCode")["enum"]
    assert _STRING_ENUMS[id(countries)][0] is countries
