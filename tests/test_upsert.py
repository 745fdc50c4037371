"""Create and update through POST /v1/user-journeys/users, with a controlled clock."""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from conftest import LIVE_KEY, OTHER_PARTNER_TEST_KEY, TEST_KEY

from mock_server.auth import derived_partner_id

ZERO_METRICS = {
    "lifecycleStage": "new", "engagementTier": "casual", "engagementScore": 0, "totalPlays": 0,
    "plays7d": 0, "plays30d": 0, "pointsEarned7d": 0, "pointsEarned30d": 0, "campaignsJoined": 0,
    "winRate": 0, "totalEvents": 0,
}


def test_first_call_creates_a_profile_with_defaults(client):
    response = client.track({"externalId": "u-1"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "success"
    profile = body["data"]
    assert uuid.UUID(profile["id"]).version == 4
    assert profile == {
        "id": profile["id"],
        "partnerId": derived_partner_id(TEST_KEY.removeprefix("pk_test_")),
        "externalId": "u-1",
        "environment": "TEST",
        "displayName": "", "email": "", "phone": "", "country": "", "device": "", "source": "",
        "firstSeenAt": "2025-01-15T10:30:00Z",
        "lastSeenAt": "2025-01-15T10:30:00Z",
        **ZERO_METRICS,
        "tags": {},
        "metadata": {},
    }


def test_full_body_is_stored_and_echoed(client):
    body = {"externalId": "user_12345", "displayName": "Jane Doe", "email": "jane@example.com",
            "phone": "+2348012345678", "country": "NG", "device": "mobile", "source": "referral",
            "tags": {"plan": "premium"}, "metadata": {"signupDate": "2025-01-15", "n": [1, {"a": None}]}}
    profile = client.track(body).get_json()["data"]
    for field, value in body.items():
        assert profile[field] == value


def test_update_keeps_identity_and_moves_last_seen(client, clock):
    first = client.track({"externalId": "u-1", "displayName": "Ann"}).get_json()["data"]
    clock.advance(timedelta(days=3, seconds=7))
    second = client.track({"externalId": "u-1"}).get_json()["data"]
    assert second["id"] == first["id"]
    assert second["partnerId"] == first["partnerId"]
    assert second["firstSeenAt"] == "2025-01-15T10:30:00Z"
    assert second["lastSeenAt"] == "2025-01-18T10:30:07Z"
    assert second["displayName"] == "Ann"


def test_present_fields_replace_absent_fields_keep(client):
    client.track({"externalId": "u-1", "displayName": "Ann", "email": "ann@example.com",
                  "country": "GB", "device": "desktop", "source": "organic", "phone": "123"})
    profile = client.track({"externalId": "u-1", "country": "US", "device": "tablet"}).get_json()["data"]
    assert (profile["displayName"], profile["email"], profile["phone"], profile["source"]) == (
        "Ann", "ann@example.com", "123", "organic")
    assert (profile["country"], profile["device"]) == ("US", "tablet")


def test_empty_string_replaces_a_free_text_field(client):
    client.track({"externalId": "u-1", "displayName": "Ann", "phone": "123"})
    profile = client.track({"externalId": "u-1", "displayName": ""}).get_json()["data"]
    assert profile["displayName"] == "" and profile["phone"] == "123"


def test_tags_and_metadata_merge_key_by_key(client):
    client.track({"externalId": "u-1", "tags": {"plan": "free", "cohort": "2025-Q1"},
                  "metadata": {"signupDate": "2025-01-15", "prefs": {"a": 1, "b": 2}}})
    profile = client.track({"externalId": "u-1", "tags": {"plan": "premium", "region": "west"},
                            "metadata": {"prefs": {"c": 3}}}).get_json()["data"]
    assert profile["tags"] == {"plan": "premium", "cohort": "2025-Q1", "region": "west"}
    # Merging is by top-level key: a nested object is replaced as a whole.
    assert profile["metadata"] == {"signupDate": "2025-01-15", "prefs": {"c": 3}}
    profile = client.track({"externalId": "u-1", "tags": {}}).get_json()["data"]
    assert profile["tags"] == {"plan": "premium", "cohort": "2025-Q1", "region": "west"}


def test_last_seen_never_goes_back_when_the_clock_does(client, clock):
    client.track({"externalId": "u-1"})
    clock.advance(timedelta(hours=-5))
    profile = client.track({"externalId": "u-1"}).get_json()["data"]
    assert profile["lastSeenAt"] == profile["firstSeenAt"] == "2025-01-15T10:30:00Z"


def test_environments_are_isolated(client):
    test = client.track({"externalId": "shared", "displayName": "In test"}, key=TEST_KEY).get_json()["data"]
    live = client.track({"externalId": "shared"}, key=LIVE_KEY).get_json()["data"]
    assert live["id"] != test["id"]
    assert (test["environment"], live["environment"]) == ("TEST", "LIVE")
    assert live["displayName"] == ""
    # Both keys carry the same token, so they are one partner's pair of keys.
    assert live["partnerId"] == test["partnerId"]


def test_partners_are_isolated(client, store):
    mine = client.track({"externalId": "shared", "tags": {"a": "1"}}, key=TEST_KEY).get_json()["data"]
    theirs = client.track({"externalId": "shared"}, key=OTHER_PARTNER_TEST_KEY).get_json()["data"]
    assert theirs["id"] != mine["id"]
    assert theirs["partnerId"] != mine["partnerId"]
    assert theirs["tags"] == {}
    assert len(store) == 2


def test_partner_id_is_stable_across_restarts(app_config):
    from mock_server import create_app

    ids = [create_app(app_config).test_client().post(
        "/v1/user-journeys/users", json={"externalId": "x"}, headers={"X-API-Key": TEST_KEY}
    ).get_json()["data"]["partnerId"] for _ in range(2)]
    assert ids[0] == ids[1] == derived_partner_id("0123456789abcdef0123456789abcdef")


def test_concurrent_upserts_of_one_id_make_one_profile_and_lose_nothing(app, store):
    threads, per_thread = 8, 40
    barrier = threading.Barrier(threads)
    ids: set[str] = set()
    failures: list[int] = []

    def worker(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        for i in range(per_thread):
            r = client.track({"externalId": "hot", "tags": {f"t{n}-{i}": "x"}, "metadata": {f"m{n}": i}})
            if r.status_code != 200:
                failures.append(r.status_code)
            ids.add(r.get_json()["data"]["id"])

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert failures == []
    assert len(ids) == 1 and len(store) == 1
    final = app.test_client().track({"externalId": "hot"}).get_json()["data"]
    assert len(final["tags"]) == threads * per_thread
    assert final["metadata"] == {f"m{n}": per_thread - 1 for n in range(threads)}


def test_numbers_in_metadata_survive_storage_exactly(client):
    metadata = {"wide": 10**40, "negative": -(2**70), "small": 7, "float": 0.1, "tiny": 5e-324, "big": 1.7e308}
    client.track({"externalId": "n", "metadata": metadata})
    stored = client.track({"externalId": "n", "metadata": {"other": 1}}).get_json()["data"]["metadata"]
    assert stored == {**metadata, "other": 1}
    assert all(type(stored[k]) is type(v) for k, v in metadata.items())
