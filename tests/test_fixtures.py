"""Fixture documents: the shipped data set, and broken fixtures refused whole, with their place."""
from __future__ import annotations

import collections
import textwrap
from pathlib import Path

import pytest
import yaml

from mock_server import create_app, views
from mock_server.fixtures import FixtureError, read_documents

from live_server import free_port

ROOT = Path(__file__).resolve().parent.parent
KEYS = ROOT / "examples" / "keys.yaml"


@pytest.fixture(scope="module")
def shipped():
    """Every shipped fixture loaded through the real loader, with the example keys file."""
    app = create_app({"FIXTURES": [ROOT / "fixtures"], "KEYS_FILE": KEYS})
    store = app.extensions["gamifyhost_mock"].store
    snapshots, total = store.page(0, 10_000)
    return [views.profile(store.fields, snapshot) for snapshot in snapshots]


def test_every_shipped_fixture_is_valid_and_loads(shipped):
    entries = sum(len(doc["profiles"]) for _, doc in read_documents([ROOT / "fixtures"]))
    assert len(shipped) == entries >= 50


def test_shipped_data_set_is_varied(shipped):
    spaces = collections.Counter((p["partnerId"], p["environment"]) for p in shipped)
    assert len({partner for partner, _ in spaces}) >= 2
    assert {env for _, env in spaces} == {"TEST", "LIVE"}
    assert all(count >= 5 for count in spaces.values())
    assert {p["device"] for p in shipped} >= {"mobile", "desktop", "tablet"}
    assert len({p["country"] for p in shipped if p["country"]}) >= 20
    assert len({p["source"] for p in shipped if p["source"]}) >= 8
    assert sum(bool(p["tags"]) for p in shipped) >= 20 and sum(bool(p["metadata"]) for p in shipped) >= 20
    assert any(not p["displayName"].isascii() for p in shipped)
    assert any(not p["externalId"].isascii() for p in shipped)
    assert any(len(p["phone"]) == 20 for p in shipped)
    assert any(p["phone"] == p["email"] == p["source"] == "" and p["tags"] == {} for p in shipped)
    twins = collections.Counter(p["externalId"] for p in shipped)
    assert twins["edge-same-id-both-envs"] == 3  # one externalId in three separate spaces


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


GOOD = """\
    profiles:
      - apiKey: pk_test_qa
        profile: {externalId: good-1, displayName: Fine}
    """


@pytest.mark.parametrize("text, complaint", [
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: p1, phone: '123456789012345678901'}\n",
     "entry 1 (externalId 'p1'): profile.phone must be at most 20 characters long"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: ok}\n"
     "  - apiKey: pk_test_qa\n    profile: {externalId: p2, device: tv}\n",
     "entry 2 (externalId 'p2'): profile.device must be one of: mobile, desktop, tablet"),
    ("profiles:\n  - profile: {externalId: p3}\n", "entry 1 (externalId 'p3'): apiKey is required"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {displayName: x}\n", "entry 1: profile.externalId is required"),
    ("profiles:\n  - apiKey: sk_test_qa\n    profile: {externalId: p4}\n",
     "entry 1 (externalId 'p4'): apiKey: Invalid API key"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: p5}\n    firstSeenAt: '2025-02-01T00:00:00Z'\n"
     "    lastSeenAt: '2025-01-01T00:00:00Z'\n", "entry 1 (externalId 'p5'): lastSeenAt: is before firstSeenAt"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: p6}\n    id: not-a-uuid\n",
     "entry 1 (externalId 'p6'): id is not a valid uuid"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: a}\n    id: 0b4c3a52-7a7e-4e69-9a69-2a0d8d1c4b11\n"
     "  - apiKey: pk_test_qa\n    profile: {externalId: b}\n    id: 0b4c3a52-7a7e-4e69-9a69-2a0d8d1c4b11\n",
     "entry 2 (externalId 'b'): id: id 0b4c3a52-7a7e-4e69-9a69-2a0d8d1c4b11 already belongs to externalId 'a'"),
    ("people: []\n", "profiles is required"),
    ("[]\n", "document must be of type object"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: p7}\n    extra: 1\n",
     "entry 1 (externalId 'p7'): entry has a property not allowed here: 'extra'"),
    ('profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: "bad-\\ud83d"}\n',
     "entry 1 (externalId 'bad-\\ud83d'): contains an unpaired surrogate"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: e1}\n    events:\n"
     "      - {category: GAME_PLAY, eventType: spin, ago: 3d, occurredAt: '2025-01-01T00:00:00Z'}\n",
     "entry 1 (externalId 'e1'): events.0 must not have occurredAt together with ago"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: e2}\n    events:\n"
     "      - {category: GAME_PLAY, eventType: spin}\n      - {category: GAME_PLAY, eventType: spin, ago: 2w}\n",
     "entry 1 (externalId 'e2'): events.1.ago must be a whole number up to 99999 and s, m, h or d (e.g. 3d)"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: e3}\n    events:\n"
     "      - {externalId: other, category: GAME, eventType: spin}\n",
     "entry 1 (externalId 'e3'): events.0 has a property not allowed here: 'externalId'"),
    ("profiles:\n  - apiKey: pk_test_qa\n    profile: {externalId: e4}\n    events:\n"
     "      - {category: GAME, eventType: spin}\n",
     "entry 1 (externalId 'e4'): events.0.category must be one of: GAME_PLAY, CAMPAIGN, POINTS, CUSTOM"),
    ("profiles: [\n", "not valid YAML: line 2, column 1: expected the node content, but found '<stream end>'"),
    ("profiles:\n  - apiKey: a\n   profile: b\n", "not valid YAML: line 3, column 4: expected <block end>, but "
                                                    "found '<block mapping start>'"),
])
def test_broken_fixture_names_file_entry_and_field_and_loads_nothing(tmp_path, text, complaint):
    good = write(tmp_path, "a-good.yaml", GOOD)
    bad = write(tmp_path, "b-bad.yaml", text)
    with pytest.raises(FixtureError) as caught:
        create_app({"FIXTURES": [good, bad]})
    assert str(caught.value).startswith(str(bad)), str(caught.value)
    assert complaint in str(caught.value)
    if "YAML" in complaint:
        assert len(str(caught.value).splitlines()) == 1  # PyYAML's own text takes several


def test_a_folder_loads_its_yaml_and_json_files_in_name_order(tmp_path):
    write(tmp_path, "1.yaml", GOOD)
    write(tmp_path, "2.json", '{"profiles": [{"apiKey": "pk_test_qa", "profile": {"externalId": "good-1", '
                              '"displayName": "Renamed"}}]}')
    write(tmp_path, "notes.txt", "not a fixture")
    app = create_app({"FIXTURES": [tmp_path]})
    store = app.extensions["gamifyhost_mock"].store
    [snapshot], total = store.page(0, 10)
    assert (total, views.profile(store.fields, snapshot)["displayName"]) == (1, "Renamed")


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(FixtureError, match="no .yaml, .yml, .json files in this folder"):
        create_app({"FIXTURES": [tmp_path]})


def test_keys_file_refusals_apply_to_fixtures(tmp_path):
    bad = write(tmp_path, "f.yaml", "profiles:\n  - apiKey: pk_test_revoked_key\n    profile: {externalId: r}\n")
    with pytest.raises(FixtureError, match="entry 1 .*: apiKey: API key has been revoked"):
        create_app({"FIXTURES": [bad], "KEYS_FILE": KEYS})


BROKEN = """\
    profiles:
      - apiKey: pk_test_qa
        profile: {externalId: fine}
        id: 0b4c3a52-7a7e-4e69-9a69-2a0d8d1c4b11
      - apiKey: pk_test_qa
        profile: {externalId: two-rules, device: tv, phone: '123456789012345678901'}
      - apiKey: sk_test_qa
        profile: {externalId: secret-key}
        firstSeenAt: '2025-02-01T00:00:00Z'
        lastSeenAt: '2025-01-01T00:00:00Z'
      - apiKey: pk_test_qa
        profile: {externalId: clash}
        id: 0B4C3A52-7A7E-4E69-9A69-2A0D8D1C4B11
      - apiKey: pk_test_qa
        profile: {externalId: also-fine}
    """
# Every problem of BROKEN, one line each, in entry order (the id clash ignores the UUID's case, as the store does).
BROKEN_LINES = [
    "entry 2 (externalId 'two-rules'): profile.device must be one of: mobile, desktop, tablet",
    "entry 2 (externalId 'two-rules'): profile.phone must be at most 20 characters long",
    "entry 3 (externalId 'secret-key'): apiKey: Invalid API key",
    "entry 3 (externalId 'secret-key'): lastSeenAt: is before firstSeenAt",
    "entry 4 (externalId 'clash'): id: id 0B4C3A52-7A7E-4E69-9A69-2A0D8D1C4B11 already belongs to externalId 'fine'",
]


def test_every_problem_of_every_entry_is_reported_and_nothing_loads(tmp_path):
    bad = write(tmp_path, "bad.yaml", BROKEN)
    also_bad = write(tmp_path, "more.json", '{"profiles": [{"apiKey": "pk_test_qa", "profile": {}}]}')
    app = create_app({})
    with pytest.raises(FixtureError) as caught:
        app.extensions["gamifyhost_mock"].load_fixtures(read_documents([bad, also_bad]))
    assert str(caught.value).splitlines() == [f"{bad}: {line}" for line in BROKEN_LINES] + [
        f"{also_bad}: entry 1: profile.externalId is required"]
    assert len(app.extensions["gamifyhost_mock"].store) == 0


def test_a_long_list_of_problems_is_cut_with_a_count(tmp_path):
    entries = "".join(f"  - apiKey: pk_test_qa\n    profile: {{externalId: e{i}, device: tv}}\n" for i in range(25))
    bad = write(tmp_path, "bad.yaml", "profiles:\n" + entries)
    with pytest.raises(FixtureError) as caught:
        create_app({"FIXTURES": [bad]})
    lines = str(caught.value).splitlines()
    assert len(caught.value.problems) == 25
    assert lines[0] == f"{bad}: entry 1 (externalId 'e0'): profile.device must be one of: mobile, desktop, tablet"
    assert lines[19].startswith(f"{bad}: entry 20 (externalId 'e19'): ")
    assert lines[20:] == ["… and 5 more"]


def test_serve_refuses_to_start_with_a_broken_fixture(runner, tmp_path):
    from mock_server.cli import main

    bad = write(tmp_path, "bad.yaml", BROKEN)
    result = runner.invoke(main, ["serve", "--port", str(free_port()), "--fixtures", str(bad)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"Error: {bad}: {BROKEN_LINES[0]}"] + [
        f"{bad}: {line}" for line in BROKEN_LINES[1:]]


def test_the_control_api_lists_every_problem_with_its_field(client, store):
    """POST /__mock/fixtures: the same lines as --fixtures, each with the failing field's path."""
    response = client.post("/__mock/fixtures", json=yaml.safe_load(textwrap.dedent(BROKEN)))
    assert response.status_code == 400
    assert [(e["field"], e["message"]) for e in response.get_json()["errors"]] == list(zip(
        ["profiles.1.profile.device", "profiles.1.profile.phone", "profiles.2.apiKey", "profiles.2.lastSeenAt",
         "profiles.3.id"], [f"request body: {line}" for line in BROKEN_LINES], strict=True))
    assert len(store) == 0


def test_a_fixture_with_nan_or_infinity_is_refused_naming_where(tmp_path):
    """YAML can write .nan and .inf; JSON cannot carry them (answers wrote them as null, or NaN)."""
    path = write(tmp_path, "nan.yaml", "profiles:\n  - apiKey: pk_test_qa\n    profile: "
                                       "{externalId: n, metadata: {ok: 1.5, x: .nan}}\n")
    with pytest.raises(FixtureError, match=r"nan.yaml: profiles.0.profile.metadata.x is nan, which JSON cannot "
                                           r"carry: use a finite number or a string"):
        create_app({"FIXTURES": [path]})
