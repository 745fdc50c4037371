"""Mock bugs the contract suite found, pinned as plain examples (every answer is checked against the spec)."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from conftest import TEST_KEY

USERS = "/v1/user-journeys/users"


@pytest.mark.parametrize("external_id", ["/", "/a", "a//b", "a/", "//"])
def test_an_external_id_with_a_leading_or_doubled_slash_is_addressable(client, external_id):
    """Schemathesis' stateful phase read GET /users/%2F/timeline: 308 to a merged path, and
    GET /users/%2Fa was 404 "Route not found" (Werkzeug's path converter refuses a leading '/')."""
    client.track({"externalId": external_id})
    path = f"{USERS}/{quote(external_id, safe='')}"
    found = client.get(path, headers={"X-API-Key": TEST_KEY})
    assert (found.status_code, found.get_json()["data"]["externalId"]) == (200, external_id)
    timeline = client.get(f"{path}/timeline", headers={"X-API-Key": TEST_KEY})
    assert (timeline.status_code, timeline.get_json()["data"]["total"]) == (200, 0)


@pytest.mark.parametrize("path", ["a%0Ab", "%0A", "a%0A"])
@pytest.mark.parametrize("suffix", ["", "/timeline"])
def test_a_path_external_id_with_a_newline_is_refused_as_invalid(client, path, suffix):
    """Schemathesis sent GET /users/…%0A…/timeline: the route's `.` stopped at the newline, so the
    answer was 404 "Route not found", which the operation does not declare."""
    response = client.get(f"{USERS}/{path}{suffix}", headers={"X-API-Key": TEST_KEY})
    assert (response.status_code, response.get_json()["message"]) == (400, "Invalid path parameters")
