"""Keys files: which keys exist, the documented 403s, and refusing a broken file."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import TEST_KEY

from mock_server import create_app
from mock_server.auth import KeysFileError, derived_partner_id

from live_server import free_port

EXAMPLE_KEYS = Path(__file__).resolve().parent.parent / "examples" / "keys.yaml"

KEYS_FILE = textwrap.dedent("""\
    partners:
      - name: Acme Games
        partnerId: 11111111-2222-4333-8444-555555555555
        applications:
          - name: web
            keys:
              - pk_test_acme
              - key: pk_live_acme
              - key: pk_test_acme_old
                revoked: true
          - name: retired app
            active: false
            keys: [pk_live_retired]
      - name: Gone Ltd
        deleted: true
        applications:
          - name: app
            keys: [pk_test_gone]
      - name: Beta Corp
        applications:
          - name: app
            keys: [pk_test_beta]
""")


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text(KEYS_FILE)
    return path


@pytest.fixture
def app_config(clock, keys_file):
    return {"TESTING": True, "CLOCK": clock, "KEYS_FILE": keys_file}


@pytest.mark.parametrize("key, status, message", [
    ("pk_test_acme_old", 403, "API key has been revoked"),
    ("pk_live_retired", 403, "Application is not active"),
    ("pk_test_gone", 403, "Partner account not found"),
    ("pk_test_unknown", 401, "Invalid API key"),
    (TEST_KEY, 401, "Invalid API key"),
])
def test_keys_file_refusals(client, store, key, status, message):
    response = client.track({"externalId": "u"}, key=key)
    assert response.status_code == status
    assert response.get_json() == {"status": "error", "code": status, "message": message}
    assert len(store) == 0


def test_keys_file_partners_and_environments(client):
    test = client.track({"externalId": "u"}, key="pk_test_acme").get_json()["data"]
    live = client.track({"externalId": "u"}, key="pk_live_acme").get_json()["data"]
    beta = client.track({"externalId": "u"}, key="pk_test_beta").get_json()["data"]
    assert test["partnerId"] == live["partnerId"] == "11111111-2222-4333-8444-555555555555"
    assert (test["environment"], live["environment"]) == ("TEST", "LIVE")
    assert beta["partnerId"] == derived_partner_id("name:Beta Corp")
    assert len({test["id"], live["id"], beta["id"]}) == 3


@pytest.mark.parametrize("content, complaint", [
    ("partners: []", "partners: [] should be non-empty"),
    ("partners:\n  - name: A\n    applications: [{name: w, keys: [sk_test_abc]}]",
     "partners/0/applications/0/keys/0: 'sk_test_abc' is not a pk_test_/pk_live_ key"),
    ("partners:\n  - name: A\n    applications: [{name: w, keys: [pk_test_a, pk_test_a]}]",
     "partners/0/applications/0/keys/1: key 'pk_test_a' is listed twice"),
    ("partners:\n  - name: A\n    colour: red\n    applications: [{name: w, keys: [pk_test_a]}]",
     "partners/0: Additional properties are not allowed ('colour' was unexpected)"),
    ("partners: [", "not valid YAML: line 1, column 12: expected the node content, but found '<stream end>'"),
])
def test_bad_keys_file_is_refused_with_its_place(tmp_path, content, complaint):
    path = tmp_path / "keys.yaml"
    path.write_text(content)
    with pytest.raises(KeysFileError) as caught:
        create_app({"KEYS_FILE": path})
    assert str(caught.value).startswith(str(path))
    assert complaint in str(caught.value)


def test_every_problem_of_a_keys_file_is_listed_one_per_line(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("partners:\n  - name: A\n    applications:\n      - name: w\n        keys:\n"
                    "          - {key: pk_live_b, revoked: maybe}\n          - pk_test_a\n"
                    "      - name: v\n        active: sometimes\n        keys: [pk_test_c]\n")
    with pytest.raises(KeysFileError) as caught:
        create_app({"KEYS_FILE": path})
    assert str(caught.value).splitlines() == [
        f"{path}: partners/0/applications/0/keys/0/revoked: 'maybe' is not of type 'boolean'",
        f"{path}: partners/0/applications/1/active: 'sometimes' is not of type 'boolean'",
    ]


def test_cli_reports_a_bad_keys_file(runner, tmp_path):
    from mock_server.cli import main

    path = tmp_path / "keys.yaml"
    path.write_text("partners: []")
    result = runner.invoke(main, ["serve", "--port", str(free_port()), "--keys", str(path)])
    assert result.exit_code == 1
    assert f"Error: {path}: partners: [] should be non-empty" in result.output


@pytest.mark.parametrize("key, status, message", [
    ("pk_test_revoked_key", 403, "API key has been revoked"),
    ("pk_live_inactive_app_key", 403, "Application is not active"),
    ("pk_test_closed_account", 403, "Partner account not found"),
    ("pk_test_not_listed", 401, "Invalid API key"),
])
def test_the_shipped_example_keys_file(clock, key, status, message):
    app = create_app({"TESTING": True, "CLOCK": clock, "KEYS_FILE": EXAMPLE_KEYS})
    client = app.test_client()
    ok = client.post("/v1/user-journeys/users", json={"externalId": "u"},
                     headers={"X-API-Key": "pk_live_4e1baec9e705789eebc174f4eabc875a"})
    assert ok.get_json()["data"]["partnerId"] == "7d3f7a56-1c2b-4f7e-9a51-3b8f0c6d2e10"
    refused = client.post("/v1/user-journeys/users", json={"externalId": "u"}, headers={"X-API-Key": key})
    assert refused.status_code == status
    assert refused.get_json()["message"] == message


def test_the_readme_shows_the_example_keys_file_as_it_is():
    """The README's keys-file snippet is examples/keys.yaml (after its header comment), word for word."""
    readme = (EXAMPLE_KEYS.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Keys file"):]
    snippet = section[section.index("```yaml\n") + len("```yaml\n"):section.index("```\n", section.index("```yaml"))]
    example = EXAMPLE_KEYS.read_text(encoding="utf-8")
    assert snippet == example[example.index("partners:"):]
