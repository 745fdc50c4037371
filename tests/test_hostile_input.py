"""Hostile requests against the real server: each gets a 4xx the spec allows and changes nothing.

Requests that are not valid HTTP at all (a CR or NUL inside a header value, a folded header, a
space in a header name) are refused by granian's HTTP parser with a bare 400 before the app
sees them; they are checked for the status, the survival of the server and an unchanged store.
"""
from __future__ import annotations

import json

import pytest

from conformance import assert_conforms
from live_server import http, start_server
from raw_http import json_or_none, raw_exchange

PATH = b"/v1/user-journeys/users"
KEY = b"X-API-Key: pk_test_hostile"
JSON = b"Content-Type: application/json"
MiB = 1024 * 1024


def body(**fields) -> bytes:
    return json.dumps({"externalId": "h-1", **fields}).encode()


HOSTILE = [
    # name, method, headers, body, expected status
    ("truncated JSON", b"POST", [KEY, JSON], b'{"externalId": "h-1"', 400),
    ("unquoted keys", b"POST", [KEY, JSON], b"{externalId: h-1}", 400),
    ("trailing garbage", b"POST", [KEY, JSON], b'{"externalId": "h-1"} extra', 400),
    ("JSON array", b"POST", [KEY, JSON], b'[{"externalId": "h-1"}]', 400),
    ("JSON string", b"POST", [KEY, JSON], b'"h-1"', 400),
    ("JSON number", b"POST", [KEY, JSON], b"42", 400),
    ("JSON null", b"POST", [KEY, JSON], b"null", 400),
    ("JSON true", b"POST", [KEY, JSON], b"true", 400),
    ("empty body", b"POST", [KEY, JSON], b"", 400),
    ("whitespace body", b"POST", [KEY, JSON], b" \n\t ", 400),
    ("no Content-Type", b"POST", [KEY], body(), 415),
    ("text/plain", b"POST", [KEY, b"Content-Type: text/plain"], body(), 415),
    ("form encoded", b"POST", [KEY, b"Content-Type: application/x-www-form-urlencoded"], b"externalId=h-1", 415),
    ("multipart", b"POST", [KEY, b"Content-Type: multipart/form-data; boundary=x"], b"--x--", 415),
    ("latin-1 charset", b"POST", [KEY, b"Content-Type: application/json; charset=iso-8859-1"], body(), 415),
    ("UTF-16 charset", b"POST", [KEY, b"Content-Type: application/json; charset=utf-16"],
     '{"externalId": "h-1"}'.encode("utf-16"), 415),
    ("invalid UTF-8", b"POST", [KEY, JSON], b'{"externalId": "h-\xff\xfe"}', 400),
    ("escaped NUL", b"POST", [KEY, JSON], b'{"externalId": "h-\\u0000"}', 400),
    ("raw NUL byte", b"POST", [KEY, JSON], b'{"externalId": "h-\x00"}', 400),
    ("NUL in displayName", b"POST", [KEY, JSON], body(displayName="a\u0000b"), 400),
    ("metadata 10,000 deep", b"POST", [KEY, JSON],
     b'{"externalId": "h-1", "metadata": {"x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}", 400),
    ("900 KB displayName", b"POST", [KEY, JSON], body(displayName="x" * 900_000), 400),
    ("3 MB string", b"POST", [KEY, JSON], body(metadata={"x": "y" * (3 * MiB)}), 413),
    ("just over 1 MiB", b"POST", [KEY, JSON], b" " * (MiB + 1), 413),
    ("duplicate keys", b"POST", [KEY, JSON], b'{"externalId": "h-1", "externalId": "h-2"}', 400),
    ("number for displayName", b"POST", [KEY, JSON], b'{"externalId": "h-1", "displayName": 7}', 400),
    ("number for externalId", b"POST", [KEY, JSON], b'{"externalId": 12345}', 400),
    ("array for tags", b"POST", [KEY, JSON], b'{"externalId": "h-1", "tags": ["a"]}', 400),
    ("huge integer", b"POST", [KEY, JSON], b'{"externalId": "h-1", "metadata": {"n": 9' + b"9" * 5000 + b"}}", 400),
    ("float overflow", b"POST", [KEY, JSON], b'{"externalId": "h-1", "metadata": {"n": 1e999}}', 400),
    ("NaN", b"POST", [KEY, JSON], b'{"externalId": "h-1", "metadata": {"n": NaN}}', 400),
    ("lone surrogate", b"POST", [KEY, JSON], b'{"externalId": "h-\\udc00"}', 400),
    ("whitespace externalId", b"POST", [KEY, JSON], body(externalId="   \t "), 400),
    ("10,000-character externalId", b"POST", [KEY, JSON], body(externalId="e" * 10_000), 400),
    ("SQL in key", b"POST", [b"X-API-Key: ' OR 1=1 --", JSON], body(), 401),
    ("encoded CRLF in key", b"POST", [b"X-API-Key: pk_test_a%0d%0aSet-Cookie:%20admin=1", JSON], body(), 401),
    ("8 KB key", b"POST", [b"X-API-Key: pk_test_" + b"k" * 8000, JSON], body(), 401),
    ("two keys", b"POST", [KEY, b"X-API-Key: pk_live_other", JSON], body(), 401),
    ("secret key", b"POST", [b"X-API-Key: sk_live_a3b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2", JSON], body(), 401),
    ("HEAD", b"HEAD", [KEY], b"", 405),
    ("PUT", b"PUT", [KEY, JSON], body(), 405),
    ("PATCH", b"PATCH", [KEY, JSON], body(), 405),
    ("DELETE", b"DELETE", [KEY], b"", 405),
    ("trailing slash", b"POST", [KEY, JSON], body(), 404),
]
NOT_HTTP = [
    ("CR inside the key", [b"X-API-Key: pk_test_a\rX-Admin: 1", JSON]),
    ("NUL inside the key", [b"X-API-Key: pk_test_a\x00b", JSON]),
    ("folded header", [KEY, b"X-Admin: 1", b"  continued", JSON]),
    ("space in a header name", [b"X-API Key: pk_test_a", JSON]),
]


@pytest.fixture(scope="module")
def server():
    live = start_server("--quiet")
    yield live
    code, output = live.stop()
    assert code == 0, output  # it never died


def snapshot(server) -> bytes:
    return json.dumps(http("GET", server.url + "/__mock/export")[2], sort_keys=True).encode()


@pytest.mark.parametrize("name, method, headers, payload, expected", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_request_gets_a_declared_4xx_and_changes_nothing(server, name, method, headers, payload, expected):
    before = snapshot(server)
    path = PATH + b"/" if name == "trailing slash" else PATH
    status, response_headers, raw = raw_exchange(server.url, method, path, headers, payload)
    assert status == expected, raw[:300]
    if method != b"HEAD":
        envelope = json_or_none(raw)
        assert envelope["status"] == "error" and envelope["code"] == status
        assert_conforms(method.decode(), path.decode(), status, response_headers["content-type"], envelope)
    if status == 405:
        assert "POST" in response_headers["allow"]
    assert snapshot(server) == before
    assert http("GET", server.url + "/__mock/clock")[0] == 200  # still serving


@pytest.mark.parametrize("name, headers", NOT_HTTP, ids=[c[0] for c in NOT_HTTP])
def test_requests_that_are_not_http_are_refused_by_the_server(server, name, headers):
    before = snapshot(server)
    status, _, _ = raw_exchange(server.url, b"POST", PATH, headers, body())
    assert status == 400
    assert snapshot(server) == before
    assert http("GET", server.url + "/__mock/clock")[0] == 200


@pytest.mark.parametrize("external_id", ["José-Ünïcode-ß", "😀🎮🚀", "用户-42", "Ω≈ç√∫", "a\u200db", "🏳️‍🌈"])
def test_unusual_but_valid_external_ids_are_stored_and_echoed_exactly(server, external_id):
    headers = [b"X-API-Key: pk_test_unicode", JSON]
    for _ in range(2):  # created, then found again by the same id
        status, _, raw = raw_exchange(server.url, b"POST", PATH, headers,
                                      json.dumps({"externalId": external_id}).encode())
        assert status == 200
        assert json.loads(raw)["data"]["externalId"] == external_id
    stored = http("GET", server.url + "/__mock/profiles?environment=TEST&limit=100")[2]["data"]
    assert [p["externalId"] for p in stored].count(external_id) == 1


def test_body_limit_is_configurable():
    small = start_server("--quiet", "--max-body", "2048")
    try:
        status, _, raw = raw_exchange(small.url, b"POST", PATH, [KEY, JSON], body(displayName="x" * 3000))
        assert (status, json.loads(raw)["message"]) == (413, "Request body too large")
        status, _, _ = raw_exchange(small.url, b"POST", PATH, [KEY, JSON], body(displayName="x" * 200))
        assert status == 200
    finally:
        small.stop()
