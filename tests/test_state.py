"""--state: an SQLite database that every write (profiles and events) reaches before it is answered.

These tests run the real command and kill it the hard way, as a crash or an out-of-memory
kill would: what was answered 200 must be there after a restart.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing, suppress
from pathlib import Path

import pytest

from mock_server.auth import Principal, derived_partner_id
from mock_server.fixtures import read_documents
from mock_server.journeys.events import Event
from mock_server.journeys.offers import Offer
from mock_server.journeys.sqlite import SqliteStorage, StateFileError
from mock_server.journeys.storage import Profile, ProfileFields

from live_server import free_port, http, start_server

HEADERS = {"X-API-Key": "pk_test_state", "Content-Type": "application/json"}
TRACK = "/v1/user-journeys/users"
EVENTS = "/v1/user-journeys/track"
FROZEN = "2025-01-15T12:00:00Z"
FIELDS = ProfileFields(("displayName",), ("tags",))  # for the stores opened here without a mock around them


def kill_hard(server) -> None:
    """SIGKILL the server and its worker together: nothing gets to clean up or save."""
    children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()
    for pid in [server.process.pid, *map(int, children)]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.finish()


def export(server) -> dict:
    return http("GET", server.url + "/__mock/export")[2]


def journeys(server, users: list[str]) -> dict[str, tuple[dict, dict]]:
    """Each user's profile with its figures and its whole timeline, read at FROZEN."""
    assert http("POST", server.url + "/__mock/clock", {"action": "freeze", "at": FROZEN},
                {"Content-Type": "application/json"})[0] == 200
    base = server.url + "/v1/user-journeys/users/"
    return {user: (http("GET", base + user, None, HEADERS)[2]["data"],
                   http("GET", base + user + "/timeline?limit=100", None, HEADERS)[2]["data"]) for user in users}


def batch(i: int) -> list[dict]:
    """Batch `i` of an event load: plays of three users, in order and backfilled, and a campaign."""
    return [{"externalId": f"user-{(i + n) % 3}", "category": "GAME_PLAY", "eventType": "spin", "points": n - 1,
             "occurredAt": f"2025-01-{15 - (i + n) % 14:02d}T{n:02d}:00:00Z"} for n in range(4)] + [
        {"externalId": f"user-{i % 3}", "category": "CAMPAIGN", "eventType": "campaign_joined",
         "metadata": {"campaignSlug": f"cup-{i % 4}", "ü": "😀"}}]


def test_every_answered_upsert_survives_kill_9(tmp_path):
    state = tmp_path / "qa" / "mock.db"
    first = start_server("--state", str(state), "--quiet")
    try:
        reader: sqlite3.Connection | None = None  # opened once the mock has made the file
        for i in range(40):
            status, _, body = http("POST", first.url + TRACK,
                                   {"externalId": f"user-{i}", "tags": {"n": str(i)}}, HEADERS)
            assert status == 200, body
            reader = reader or sqlite3.connect(state)
            # Another connection sees it as soon as the answer is in: committed, not pending.
            assert reader.execute("SELECT tags FROM profiles WHERE externalId = ?",
                                  (f"user-{i}",)).fetchall() == [(f'{{"n":"{i}"}}',)]
        assert reader is not None
        reader.close()
        status, _, _ = http("POST", first.url + TRACK, {"externalId": "user-0", "displayName": "Zero"}, HEADERS)
        assert status == 200
        before = export(first)
    finally:
        kill_hard(first)
    second = start_server("--state", str(state), "--quiet")
    try:
        after = export(second)
    finally:
        code, output = second.stop()
    assert after == before
    assert len(after["profiles"]) == 40
    zero = next(p for p in after["profiles"] if p["profile"]["externalId"] == "user-0")
    assert zero["profile"] == {"externalId": "user-0", "displayName": "Zero", "tags": {"n": "0"}}
    assert f"loaded 40 profiles from {state}" in output
    assert code == 0 and f"state: 40 profiles kept in {state}" in output


@pytest.mark.parametrize("stop", [kill_hard, lambda server: server.stop()], ids=["kill -9", "SIGTERM"])
def test_every_answered_event_survives_a_restart(tmp_path, stop):
    state = tmp_path / "mock.db"
    first = start_server("--state", str(state), "--quiet")
    try:
        reader: sqlite3.Connection | None = None
        for i in range(20):
            status, _, body = http("POST", first.url + EVENTS, {"events": batch(i)}, HEADERS)
            assert status == 200, body
            reader = reader or sqlite3.connect(state)
            assert reader.execute("SELECT count(*) FROM events").fetchone() == (5 * (i + 1),)  # committed
        assert reader is not None
        reader.close()
        before = journeys(first, ["user-0", "user-1", "user-2"])
    finally:
        stop(first)
    second = start_server("--state", str(state), "--quiet")
    try:
        after = journeys(second, ["user-0", "user-1", "user-2"])
    finally:
        second.stop()
    assert after == before
    profile, timeline = after["user-0"]
    assert (profile["totalEvents"], profile["totalPlays"], profile["campaignsJoined"], timeline["total"]) == (
        34, 27, 4, 34)
    assert profile["firstSeenAt"] == "2025-01-03T00:00:00Z"  # its oldest play, backfilled
    assert [event["occurredAt"] for event in timeline["events"]] == sorted(
        (event["occurredAt"] for event in timeline["events"]), reverse=True)


def test_a_clean_stop_folds_the_log_into_one_file_that_sqlite3_can_read(tmp_path):
    state = tmp_path / "mock.db"
    server = start_server("--state", str(state), "--quiet")
    http("POST", server.url + TRACK, {"externalId": "jane", "displayName": "Jane", "country": "NG",
                                      "tags": {"plan": "premium"}}, HEADERS)
    profile = http("POST", server.url + TRACK, {"externalId": "jane", "metadata": {"a": 1}}, HEADERS)[2]["data"]
    event = http("POST", server.url + "/v1/user-journeys/events", {
        "externalId": "jane", "category": "CAMPAIGN", "eventType": "campaign_joined", "points": 5,
        "occurredAt": "2025-01-15T10:30:00Z", "metadata": {"campaignSlug": "summer"}}, HEADERS)[2]["data"]["event"]
    # While the mock runs, another process can read the database (WAL mode).
    with closing(sqlite3.connect(state)) as reader:
        assert reader.execute("SELECT count(*) FROM profiles").fetchone() == (1,)
    code, output = server.stop()
    assert code == 0, output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mock.db"]  # no -wal/-shm left behind
    with closing(sqlite3.connect(state)) as db:
        rows = db.execute("SELECT id, partnerId, environment, externalId, apiKey, displayName, email, country, "
                          "firstSeenAt, lastSeenAt, json_extract(tags, '$.plan'), metadata FROM profiles").fetchall()
        events = db.execute("SELECT id, partnerId, environment, externalId, category, eventType, points, occurredAt, "
                            "json_extract(metadata, '$.campaignSlug') FROM events ORDER BY seq").fetchall()
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")]
        version = db.execute("SELECT value FROM meta WHERE key = 'schemaVersion'").fetchone()
    # The backfilled event moved firstSeenAt back to its time.
    assert rows == [(profile["id"], profile["partnerId"], "TEST", "jane", "pk_test_state", "Jane", None, "NG",
                     "2025-01-15T10:30:00Z", profile["lastSeenAt"], "premium", '{"a":1}')]
    assert events == [(event["id"], profile["partnerId"], "TEST", "jane", "CAMPAIGN", "campaign_joined", 5,
                       "2025-01-15T10:30:00Z", "summer")]
    assert tables == ["events", "meta", "offers", "profiles"]
    assert version == ("3",)


def test_reset_and_fixtures_reach_the_state_file(tmp_path):
    state = tmp_path / "mock.db"
    root = Path(__file__).resolve().parent.parent
    server = start_server("--state", str(state), "--fixtures", str(root / "fixtures" / "edge-cases.yaml"), "--quiet")
    try:
        loaded = http("GET", server.url + "/__mock/profiles?limit=1")[2]["meta"]["total"]
        assert loaded > 0
        assert http("POST", server.url + EVENTS, {"events": batch(0)}, HEADERS)[0] == 200
        http("POST", server.url + "/__mock/reset", None, {})
    finally:
        kill_hard(server)
    with closing(sqlite3.connect(state)) as db:
        assert db.execute("SELECT count(*) FROM profiles").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM offers").fetchone() == (0,)


@pytest.mark.parametrize(("version", "dropped"), [("1", "DROP TABLE events; DROP TABLE offers;"),
                                                  ("2", "DROP TABLE offers;")])
def test_an_older_state_file_gains_the_newer_tables_and_keeps_what_it_holds(tmp_path, version: str, dropped: str):
    state = tmp_path / "s.db"
    storage = SqliteStorage(state, FIELDS)
    storage.put(("partner", "TEST"), "pk_test_x", Profile(7, "jane", 100, 200, ("Jane",), (None,)))
    if version == "2":
        storage.add_events(("partner", "TEST"), "jane", [Event(8, 120, "GAME_PLAY", "spin", 1, None, None)])
    storage.close()
    with closing(sqlite3.connect(state)) as db:  # as the mock before events (1) or offers (2) left it
        db.executescript(f"{dropped} UPDATE meta SET value = '{version}' WHERE key = 'schemaVersion';")
    storage = SqliteStorage(state, FIELDS)
    try:
        assert storage.get(("partner", "TEST"), "jane") == Profile(7, "jane", 100, 200, ("Jane",), (None,))
        assert len(storage.journey(("partner", "TEST"), "jane") or ()) == (1 if version == "2" else 0)
        assert storage.offers(("partner", "TEST"), "jane") == ()
        storage.add_events(("partner", "TEST"), "jane", [Event(9, 150, "GAME_PLAY", "spin", 3, None, None)])
        storage.put_offer(("partner", "TEST"), "jane", Offer(10, "vip_play", "slots", "VIP", "d", 500, 150, 250, None,
                                                             None))
    finally:
        storage.close()
    with closing(sqlite3.connect(state)) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schemaVersion'").fetchone() == ("3",)
        assert db.execute("SELECT id, externalId, occurredAt, points FROM events WHERE points = 3").fetchall() == [
            ("00000000-0000-0000-0000-000000000009", "jane", "1970-01-01T00:02:30Z", 3)]
        assert db.execute("SELECT id, offerType, issuedAt, expiresAt, claimedAt FROM offers").fetchall() == [
            ("00000000-0000-0000-0000-00000000000a", "vip_play", "1970-01-01T00:02:30Z", "1970-01-01T00:04:10Z", None)]


def test_a_claim_rewrites_its_offer_in_place_and_survives_a_reopen(tmp_path):
    state = tmp_path / "s.db"
    storage = SqliteStorage(state, FIELDS)
    space = ("partner", "TEST")
    storage.put(space, "pk_test_x", Profile(7, "jane", 100, 200, ("Jane",), (None,)))
    first, second = (Offer(i, "vip_play", "slots", "VIP", "d", 500, 150, 250, None, None) for i in (10, 11))
    storage.put_offer(space, "jane", first)
    storage.put_offer(space, "jane", second)
    storage.put_offer(space, "jane", dataclasses.replace(first, claimed_at=160))
    storage.close()
    reopened = SqliteStorage(state, FIELDS)
    try:
        assert list(reopened.offers(space, "jane")) == [dataclasses.replace(first, claimed_at=160), second]
    finally:
        reopened.close()


def test_events_a_hand_edit_left_without_their_profile_are_not_loaded(tmp_path):
    state = tmp_path / "s.db"
    storage = SqliteStorage(state, FIELDS)
    storage.put(("partner", "TEST"), "pk_test_x", Profile(7, "jane", 100, 200, ("Jane",), (None,)))
    storage.add_events(("partner", "TEST"), "jane", [Event(9, 150, "GAME_PLAY", "spin", 3, None, None)])
    storage.close()
    with closing(sqlite3.connect(state)) as db:
        db.execute("DELETE FROM profiles")
        db.commit()
    storage = SqliteStorage(state, FIELDS)
    try:
        assert storage.count() == 0
        assert storage.journey(("partner", "TEST"), "jane") is None
    finally:
        storage.close()


def test_a_state_file_of_a_newer_schema_is_refused(tmp_path):
    state = tmp_path / "s.db"
    SqliteStorage(state, FIELDS).close()
    with closing(sqlite3.connect(state)) as db:
        db.execute("UPDATE meta SET value = '4' WHERE key = 'schemaVersion'")
        db.commit()
    with pytest.raises(StateFileError, match="written by a version of gamifyhost-mock with state schema 4; "
                                             "this one reads schema 3"):
        SqliteStorage(state, FIELDS)


def serve_fails(*args: str, port: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mock_server", "serve", "--port", str(port or free_port()), *args],
                          capture_output=True, text=True, timeout=60)


def test_a_mock_that_cannot_listen_loads_nothing_into_its_state_file(tmp_path):
    state = tmp_path / "mock.db"
    root = Path(__file__).resolve().parent.parent
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        run = serve_fails("--state", str(state), "--fixtures", str(root / "fixtures"), port=port)
    assert run.returncode == 1
    assert run.stderr.strip() == f"Error: port {port} on 127.0.0.1 is already in use"
    assert run.stdout == ""  # not even "loaded ... profiles"
    assert not state.exists()


def test_a_json_state_file_from_an_older_version_stops_start_up_with_advice(tmp_path):
    old = tmp_path / "mock.json"
    old.write_text('{"profiles": []}\n')
    run = serve_fails("--state", str(old))
    assert run.returncode == 1
    assert run.stderr.strip() == (
        f"Error: {old}: not an SQLite database. --state keeps an SQLite file now; to bring in a JSON "
        f"export, start with --fixtures {old} --state NEW_FILE")
    assert "serving on" not in run.stdout
    assert old.read_text() == '{"profiles": []}\n'  # left as it was


def test_a_folder_as_state_file_is_refused(tmp_path):
    run = serve_fails("--state", str(tmp_path))
    assert run.returncode == 2
    assert "is a directory" in run.stderr


@pytest.mark.parametrize("sync, level", [("normal", 1), ("full", 2)])
def test_state_sync_sets_sqlite_synchronous(tmp_path, sync, level):
    from mock_server import create_app

    app = create_app({"STATE_FILE": tmp_path / "s.db", "STATE_SYNC": sync})
    storage = app.extensions["gamifyhost_mock"].store._storage
    assert storage._db().execute("PRAGMA synchronous").fetchone() == (level,)
    assert storage._db().execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_no_sqlite_connection_crosses_a_fork(tmp_path):
    """The server forks its worker after loading fixtures: the worker must open its own connection."""
    from mock_server import create_app

    store = create_app({"STATE_FILE": tmp_path / "s.db"}).extensions["gamifyhost_mock"].store
    parent = Principal(derived_partner_id("fork"), "TEST", "pk_test_fork")
    store.upsert(parent, {"externalId": "before-fork"})
    assert store._storage._connection is not None
    pid = os.fork()
    if pid == 0:  # the child: nothing open may be inherited, and the store must work on its own
        code = 3
        try:
            if store._storage._connection is None and store.page(0, 10)[1] == 1:
                store.upsert(parent, {"externalId": "in-child"})
                store.close()
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    store.close()
    with closing(sqlite3.connect(tmp_path / "s.db")) as db:  # the child's own connection wrote it
        assert db.execute("SELECT externalId FROM profiles ORDER BY rowid").fetchall() == [
            ("before-fork",), ("in-child",)]


def test_a_second_mock_on_the_same_state_file_is_refused(tmp_path):
    state = tmp_path / "mock.db"
    with start_server("--state", str(state), "--quiet") as first:
        # Before the first mock's first write: its worker must hold the file from the start.
        run = serve_fails("--state", str(state))
        assert http("POST", first.url + TRACK, {"externalId": "one"}, HEADERS)[0] == 200
    assert run.returncode == 1
    assert run.stderr.strip() == (f"Error: {state}: in use by another gamifyhost-mock; give each mock "
                                  "its own --state file")


def test_a_restart_with_other_keys_warns_that_stored_partners_are_out_of_reach(tmp_path):
    """With another keys file (or none), a stored partner's key names another partner: its
    profiles are still there but that key reads and writes a separate, empty set."""
    from mock_server import create_app

    root = Path(__file__).resolve().parent.parent
    state, keys = tmp_path / "s.db", root / "examples" / "keys.yaml"
    first = create_app({"STATE_FILE": state, "KEYS_FILE": keys, "FIXTURES": [root / "fixtures" / "acme.yaml"]})
    assert first.extensions["gamifyhost_mock"].warnings == []
    first.extensions["gamifyhost_mock"].store.close()
    same = create_app({"STATE_FILE": state, "KEYS_FILE": keys}).extensions["gamifyhost_mock"]
    assert same.warnings == []
    same.store.close()
    partner, derived = "7d3f7a56-1c2b-4f7e-9a51-3b8f0c6d2e10", derived_partner_id("4e1baec9e705789eebc174f4eabc875a")
    expected = [
        f"{state} holds {env} profiles of partner {partner}, written with key pk_{env.lower()}_4e1…, which now "
        f"names partner {derived}: start with the --keys file they were written with, or that key will not see them"
        for env in ("TEST", "LIVE")]
    other = create_app({"STATE_FILE": state}).extensions["gamifyhost_mock"]
    assert other.warnings == expected
    other.store.close()
    with start_server("--state", str(state), "--quiet") as server:  # and the command says so at start
        _, output = server.stop()
    assert [line for line in output.splitlines() if line.startswith("warning: ")] == [
        f"warning: {line}" for line in expected]


def test_a_restart_with_the_same_fixtures_adds_no_event_twice(tmp_path):
    """QA restarts `--state qa.db --fixtures fixtures/` as often as it likes: the data set's events
    are stored once, so its users keep their stages and tiers."""
    state, shipped = tmp_path / "qa.db", Path(__file__).resolve().parent.parent / "fixtures"
    outputs = []
    for _ in range(2):
        with start_server("--state", str(state), "--fixtures", str(shipped), "--quiet") as server:
            exported = http("GET", server.url + "/__mock/export")[2]
            outputs.append(server.stop()[1])
    documents = [document for _, document in read_documents([shipped])]
    profiles = sum(len(document["profiles"]) for document in documents)
    events = sum(len(entry.get("events", ())) for document in documents for entry in document["profiles"])
    offers = sum(len(entry.get("offers", ())) for document in documents for entry in document["profiles"])
    assert sum(len(entry.get("events", ())) for entry in exported["profiles"]) == events > 100
    assert sum(len(entry.get("offers", ())) for entry in exported["profiles"]) == offers > 0  # placed once too
    assert [line for line in outputs[1].splitlines() if line.startswith("state:")] == [
        f"state: {profiles} profiles, {events} events and {offers} offers kept in {state}"]
