"""Instants at the edge of what the mock can hold: refused with a 400 and changing nothing.

A date-time whose UTC value falls outside years 1-9999 used to pass the schema, then break every
later answer that had to write it (500 until a reset).
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import TEST_KEY

from mock_server.clock import format_timestamp

LIMIT = "the mock's time must stay between 0001-01-02 and 9999-12-30 (UTC)"


def clock(client, body):
    return client.post("/__mock/clock", json=body)


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "9999-12-31T00:00:00Z"])
def test_freezing_outside_the_range_is_400_and_leaves_the_clock(client, at):
    before = clock(client, {"action": "freeze", "at": "2026-01-01T00:00:00Z"}).get_json()["data"]
    answer = clock(client, {"action": "freeze", "at": at})
    assert answer.status_code == 400
    assert answer.get_json()["errors"] == [{"field": "at", "message": LIMIT}]
    assert client.get("/__mock/clock").get_json()["data"] == before
    assert client.track({"externalId": "after"}).status_code == 200


@pytest.mark.parametrize("frozen", [True, False])
def test_advancing_past_the_range_is_400_and_leaves_the_clock(client, frozen):
    if frozen:
        clock(client, {"action": "freeze", "at": "9990-01-01T00:00:00Z"})
    else:
        clock(client, {"action": "real"})
        years = 0
        while datetime.now(UTC).year + years + 100 <= 9999:  # 100 years (of 365 days) a step, running
            assert clock(client, {"action": "advance", "seconds": 3153600000}).status_code == 200
            years += 100
    before = client.get("/__mock/clock").get_json()["data"]
    answer = clock(client, {"action": "advance", "seconds": 3153600000})
    assert answer.status_code == 400
    assert answer.get_json()["errors"] == [{"field": "seconds", "message": LIMIT}]
    after = client.get("/__mock/clock").get_json()["data"]
    assert after["offsetSeconds"] == before["offsetSeconds"] and after["frozen"] == frozen
    assert client.track({"externalId": "after"}).status_code == 200


def test_a_fixture_instant_outside_the_range_is_reported_and_loads_nothing(client, store):
    document = {"profiles": [
        {"apiKey": TEST_KEY, "profile": {"externalId": "fine"}},
        {"apiKey": TEST_KEY, "firstSeenAt": "0001-01-01T00:00:00+01:00", "profile": {"externalId": "early"}},
        {"apiKey": TEST_KEY, "lastSeenAt": "9999-12-31T23:59:59-01:00", "profile": {"externalId": "late"}},
    ]}
    answer = client.post("/__mock/fixtures", json=document)
    assert answer.status_code == 400
    assert [(e["field"], e["message"]) for e in answer.get_json()["errors"]] == [
        ("profiles.1.firstSeenAt", f"request body: entry 2 (externalId 'early'): firstSeenAt: {LIMIT}"),
        ("profiles.2.lastSeenAt", f"request body: entry 3 (externalId 'late'): lastSeenAt: {LIMIT}"),
    ]
    assert len(store) == 0
    assert client.get("/__mock/export").status_code == 200


def test_the_earliest_and_latest_instants_are_written_with_four_digit_years():
    assert format_timestamp(int(datetime(1, 1, 2, tzinfo=UTC).timestamp())) == "0001-01-02T00:00:00Z"
    assert format_timestamp(int(datetime(9999, 12, 30, tzinfo=UTC).timestamp())) == "9999-12-30T00:00:00Z"
