"""No sequence of calls lets one partner or environment read or change another's profiles."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from contract_tests.schema import valid_bodies
from mock_server import create_app
from mock_server.auth import derived_partner_id

KEYS = ["pk_test_iso_a", "pk_live_iso_a", "pk_test_iso_b", "pk_live_iso_b"]
SPACES = {key: (derived_partner_id(key[8:]), "TEST" if key.startswith("pk_test_") else "LIVE") for key in KEYS}


class Isolation(RuleBasedStateMachine):
    """Random upserts under four keys; after each, only the caller's own space may differ."""

    def __init__(self) -> None:
        super().__init__()
        self.client = create_app({"TESTING": True}).test_client()
        self.before = self.spaces()

    def spaces(self) -> dict[tuple[str, str], str]:
        """Each space's profiles as canonical JSON, as the control API lists them."""
        result = {}
        for partner, environment in SPACES.values():
            page = self.client.get(f"/__mock/profiles?partnerId={partner}&environment={environment}&limit=100")
            profiles = page.get_json()["data"]
            assert all((p["partnerId"], p["environment"]) == (partner, environment) for p in profiles)
            result[(partner, environment)] = json.dumps(profiles, sort_keys=True)
        return result

    @rule(key=st.sampled_from(KEYS), external_id=st.sampled_from(["shared", "also-shared", "x"]), body=valid_bodies)
    def upsert(self, key, external_id, body) -> None:
        response = self.client.post("/v1/user-journeys/users", json={**body, "externalId": external_id},
                                    headers={"X-API-Key": key})
        assert response.status_code == 200
        data = response.get_json()["data"]
        assert (data["partnerId"], data["environment"]) == SPACES[key]
        after = self.spaces()
        for space, profiles in after.items():
            if space != SPACES[key]:
                assert profiles == self.before[space], f"{key} changed {space}"
        self.before = after

    @rule(key=st.sampled_from(KEYS))
    def bad_call(self, key) -> None:
        """Refused calls change nothing anywhere."""
        response = self.client.post("/v1/user-journeys/users", json={"externalId": "shared", "device": "tv"},
                                    headers={"X-API-Key": key})
        assert response.status_code == 400

    @invariant()
    def nothing_changed_behind_our_back(self) -> None:
        assert self.spaces() == self.before

    @invariant()
    def ids_are_unique_across_spaces(self) -> None:
        ids = [p["id"] for p in self.client.get("/__mock/profiles?limit=100").get_json()["data"]]
        assert len(ids) == len(set(ids))


def test_random_call_sequences_keep_partners_and_environments_apart():
    run_state_machine_as_test(Isolation, settings=settings(
        max_examples=60, stateful_step_count=12, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
