"""X-API-Key handling without a keys file: the documented 401s and the environments."""
from __future__ import annotations

import pytest

from mock_server.auth import derived_partner_id


@pytest.mark.parametrize("headers, message", [
    ({}, "Missing X-API-Key header"),
    ({"X-API-Key": ""}, "Missing X-API-Key header"),
    ({"X-API-Secret": "sk_test_0123456789abcdef0123456789abcdef"}, "Missing X-API-Key header"),
    ({"X-API-Key": "sk_test_0123456789abcdef0123456789abcdef"}, "Invalid API key"),
    ({"X-API-Key": "sk_live_0123456789abcdef0123456789abcdef"}, "Invalid API key"),
    ({"X-API-Key": "pk_prod_0123456789abcdef"}, "Invalid API key"),
    ({"X-API-Key": "pk_test_"}, "Invalid API key"),
    ({"X-API-Key": "PK_TEST_abc"}, "Invalid API key"),
    ({"X-API-Key": "pk_test_abc def"}, "Invalid API key"),
    ({"X-API-Key": "pk_test_" + "a" * 129}, "Invalid API key"),
    ({"X-API-Key": "Bearer pk_test_abc"}, "Invalid API key"),
])
def test_unauthorised(client, store, headers, message):
    response = client.post("/v1/user-journeys/users", json={"externalId": "u"}, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"status": "error", "code": 401, "message": message}
    assert len(store) == 0


def test_auth_is_checked_before_the_body(client):
    response = client.post("/v1/user-journeys/users", data="{", headers={"Content-Type": "text/plain"})
    assert response.status_code == 401


@pytest.mark.parametrize("key, environment", [
    ("pk_test_abc", "TEST"), ("pk_live_abc", "LIVE"), ("pk_live_your_public_key", "LIVE"),
    ("pk_test_" + "f" * 128, "TEST"), ("pk_live_A-b_9", "LIVE"),
])
def test_prefix_decides_the_environment(client, key, environment):
    profile = client.track({"externalId": "u"}, key=key).get_json()["data"]
    assert profile["environment"] == environment
    assert profile["partnerId"] == derived_partner_id(key[len("pk_test_"):])
