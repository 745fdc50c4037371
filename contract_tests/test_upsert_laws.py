"""The upsert laws, as properties over the public API only, so they hold for real servers too.

A Hypothesis state machine sends random valid upserts for a few externalIds under each key
and keeps a model of what every profile must then be. Rules the docs state (identity,
environment, isolation) always fail the run; rules the spec marks inferred (how fields merge,
how the timestamps move) fail it against the mock and warn against other servers.
"""
from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from .laws import answered, environment_of, fresh_id, key_pair, law, law_settings, needs_writes
from .schema import PROPERTIES, valid_bodies
from .target import ApiClient, Exchange, Target

MERGED = [name for name, schema in PROPERTIES.items() if schema.get("type") == "object"]
TEXT = [name for name in PROPERTIES if name != "externalId" and name not in MERGED]


def accepted(target: Target, exchange: Exchange) -> dict[str, Any]:
    return answered(target, exchange, "a valid upsert is answered 200 with the profile")


def test_upsert_sequences_follow_the_laws(target: Target, api: ApiClient):
    needs_writes(target, target.api_key)
    keys = [key for key in (target.api_key, *target.other_api_keys) if target.may_write(key)]

    class Upserts(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            run = uuid.uuid4().hex[:8]
            self.external_ids = [f"{target.prefix}law-{run}-{i}" for i in range(3)]
            self.profiles: dict[tuple[str, str], dict[str, Any]] = {}

        @rule(key=st.sampled_from(keys), index=st.integers(0, 2), body=valid_bodies)
        def upsert(self, key: str, index: int, body: dict[str, Any]) -> None:
            external_id = self.external_ids[index]
            exchange = api.track({"externalId": external_id, **body}, key)
            data = accepted(target, exchange)
            before = self.profiles.get((key, external_id))
            law(target, data.get("externalId") == external_id, "externalId is echoed",
                exchange, external_id, data.get("externalId"))
            law(target, data.get("environment") == environment_of(key),
                "the key prefix decides the environment", exchange, environment_of(key), data.get("environment"))
            if before is None:
                self._check_created(key, external_id, body, data, exchange)
            else:
                self._check_updated(before, body, data, exchange)
            self.profiles[(key, external_id)] = data

        def _check_created(self, key, external_id, body, data, exchange) -> None:
            for (other_key, other_id), other in self.profiles.items():
                law(target, other["id"] != data.get("id"),
                    f"a profile of ({key}, {external_id}) is not the one of ({other_key}, {other_id}): "
                    "partners, environments and externalIds are isolated", exchange,
                    "a new id", data.get("id"))
            expected = {name: body.get(name, "") for name in TEXT}
            expected |= {name: body.get(name, {}) for name in MERGED}
            received = {name: data.get(name) for name in expected}
            law(target, received == expected, "a new profile holds what was sent, '' or {} for the rest",
                exchange, expected, received, inferred=True)
            law(target, data.get("firstSeenAt") == data.get("lastSeenAt"),
                "a new profile is first and last seen now", exchange,
                data.get("firstSeenAt"), data.get("lastSeenAt"), inferred=True)

        def _check_updated(self, before, body, data, exchange) -> None:
            for field in ("id", "partnerId"):
                law(target, data.get(field) == before[field], f"{field} never changes on update",
                    exchange, before[field], data.get(field))
            law(target, data.get("firstSeenAt") == before["firstSeenAt"], "firstSeenAt never changes",
                exchange, before["firstSeenAt"], data.get("firstSeenAt"), inferred=True)
            law(target, data.get("lastSeenAt", "") >= before["lastSeenAt"], "lastSeenAt never goes back",
                exchange, f">= {before['lastSeenAt']}", data.get("lastSeenAt"), inferred=True)
            expected = {name: body.get(name, before[name]) for name in TEXT}
            expected |= {name: {**before[name], **body.get(name, {})} for name in MERGED}
            received = {name: data.get(name) for name in expected}
            law(target, received == expected,
                "present fields replace, absent fields keep, tags and metadata merge key by key",
                exchange, expected, received, inferred=True)

    run_state_machine_as_test(Upserts, settings=law_settings(
        target, max(5, target.max_examples // 2), stateful_step_count=8))


def test_first_seen_stays_while_last_seen_moves(target: Target, api: ApiClient):
    """Timestamps have whole-second precision, so the update waits just over a second."""
    needs_writes(target, target.api_key)
    external_id = fresh_id(target, "time")
    first = accepted(target, api.track({"externalId": external_id}, target.api_key))
    time.sleep(1.1)
    exchange = api.track({"externalId": external_id}, target.api_key)
    second = accepted(target, exchange)
    law(target, second["id"] == first["id"], "an update keeps the id", exchange, first["id"], second["id"])
    law(target, second["firstSeenAt"] == first["firstSeenAt"], "firstSeenAt never changes",
        exchange, first["firstSeenAt"], second["firstSeenAt"], inferred=True)
    law(target, second["lastSeenAt"] > first["lastSeenAt"], "lastSeenAt moves to now on update",
        exchange, f"> {first['lastSeenAt']}", second["lastSeenAt"], inferred=True)


@pytest.mark.parametrize("key_index", [0, 1])
def test_other_keys_never_see_a_profile(target: Target, api: ApiClient, key_index: int):
    """Isolation by partner and environment of the upsert: the other key's upsert of the same externalId
    makes its own profile. The pairs are those of the journey laws' isolation (laws.key_pair)."""
    if not target.other_api_keys:
        pytest.skip("isolation needs a second key: pass --other-api-key (other environment or partner)")
    owner, other = key_pair(target, key_index)
    needs_writes(target, owner, other)
    external_id = fresh_id(target, "iso")
    mine = accepted(target, api.track(
        {"externalId": external_id, "displayName": "Owner", "tags": {"owner": "yes"}}, owner))
    exchange = api.track({"externalId": external_id}, other)
    theirs = accepted(target, exchange)
    law(target, theirs["id"] != mine["id"],
        f"{other[:8]}… must get its own profile, not the one {owner[:8]}… created "
        "(or the two keys share a partner and an environment)", exchange, f"an id other than {mine['id']}",
        theirs["id"])
    law(target, theirs["tags"].get("owner") is None and theirs["displayName"] != "Owner",
        "data written under one key never shows under another", exchange,
        "no trace of the other key's data", {"displayName": theirs["displayName"], "tags": theirs["tags"]})
    again = accepted(target, api.track({"externalId": external_id}, owner))
    law(target, again["id"] == mine["id"], "the owner's profile is untouched by the other key",
        exchange, mine["id"], again["id"])
