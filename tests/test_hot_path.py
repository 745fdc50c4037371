"""The shortcuts on every request's path answer exactly as the long way did.

- Flask-CORS's hook is skipped for requests without an Origin: every answer, with or without an
  Origin, preflight or error, is the one the unwrapped hook gives.
- The journal records a request without a body as an empty body without reading the stream, and
  still reads the body of any request that has one (Content-Length or chunked).
- Answers holding non-ASCII text or DEL are orjson's bytes escaped afterwards: the same bytes as
  Flask's own JSON provider writes.
"""
from __future__ import annotations

import io

import pytest
from conftest import TEST_KEY
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server import create_app
from mock_server.json_provider import FastJSONProvider

USER = "/v1/user-journeys/users"


def _unwrapped(app: Flask) -> Flask:
    """`app` with Flask-CORS's own hook in place of the Origin shortcut."""
    app.after_request_funcs[None] = [getattr(hook, "__wrapped__", hook) for hook in app.after_request_funcs[None]]
    return app


def _without_ids(value):
    """`value` with every `id` blanked: each app makes its own."""
    if isinstance(value, dict):
        return {key: "(an id)" if key == "id" else _without_ids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_ids(item) for item in value]
    return value


def _answer(app: Flask, method: str, path: str, **kwargs):
    response = app.test_client().open(path, method=method, **kwargs)
    return response.status_code, sorted(response.headers.items()), _without_ids(response.get_json(silent=True))


REQUESTS = [
    ("POST", USER, {"json": {"externalId": "u1"}, "headers": {"X-API-Key": TEST_KEY}}),
    ("POST", USER, {"json": {"externalId": "u1"}, "headers": {"X-API-Key": TEST_KEY, "Origin": "http://app.test"}}),
    ("POST", USER, {"json": {"externalId": "u1"}, "headers": {"X-API-Key": TEST_KEY, "Origin": ""}}),
    ("GET", f"{USER}/u1", {"headers": {"X-API-Key": TEST_KEY}}),
    ("GET", f"{USER}/u1", {"headers": {"X-API-Key": TEST_KEY, "Origin": "http://app.test"}}),
    ("GET", f"{USER}/u1/offers", {"headers": {"X-API-Key": TEST_KEY, "Origin": "http://other.test"}}),
    ("GET", f"{USER}/nobody", {"headers": {"X-API-Key": TEST_KEY, "Origin": "http://app.test"}}),  # 404
    ("GET", f"{USER}/u1", {"headers": {"Origin": "http://app.test"}}),  # 401
    ("POST", USER, {"data": "{bad", "headers": {"X-API-Key": TEST_KEY, "Content-Type": "application/json",
                                               "Origin": "http://app.test"}}),  # 400
    ("DELETE", USER, {"headers": {"Origin": "http://app.test"}}),  # 405
    ("GET", "/v1/nowhere", {"headers": {"Origin": "http://app.test"}}),  # 404, no route
    ("OPTIONS", USER, {"headers": {"Origin": "http://app.test", "Access-Control-Request-Method": "POST",
                                   "Access-Control-Request-Headers": "x-api-key, content-type"}}),
    ("OPTIONS", f"{USER}/u1", {"headers": {"Origin": "http://app.test", "Access-Control-Request-Method": "GET"}}),
    ("OPTIONS", USER, {}),
    ("GET", "/__mock/profiles", {"headers": {"Origin": "http://app.test"}}),
    ("GET", "/__mock/profiles", {}),
]


@pytest.mark.parametrize("origins", ["*", ["http://app.test"]])
def test_cors_answers_are_flask_cors_own(clock, origins):
    config = {"TESTING": True, "CLOCK": clock, "CORS_ORIGINS": origins}
    fast, reference = create_app(config), _unwrapped(create_app(config))
    for method, path, kwargs in REQUESTS:
        assert _answer(fast, method, path, **kwargs) == _answer(reference, method, path, **kwargs), (method, path)


def test_a_request_with_an_origin_gets_cors_headers_and_one_without_none(client):
    with_origin = client.track({"externalId": "u1"}, headers={"Origin": "http://app.test"})
    assert with_origin.headers["Access-Control-Allow-Origin"] == "http://app.test"
    for headers in ({}, {"Origin": ""}):
        answer = client.track({"externalId": "u1"}, headers=headers)
        assert not [name for name, _ in answer.headers.items() if name.startswith("Access-Control-")]


def _journaled_body(client, **kwargs):
    client.open(f"{USER}/u1", method="GET", headers={"X-API-Key": TEST_KEY, **kwargs.pop("headers", {})}, **kwargs)
    return client.get("/__mock/requests?limit=1").get_json()["data"][0]["body"]


def test_the_journal_records_an_empty_body_for_a_get_without_one(client):
    client.track({"externalId": "u1"})
    assert _journaled_body(client) == ""


def test_the_journal_still_reads_a_get_body_sent_with_a_length_or_chunked(client):
    client.track({"externalId": "u1"})
    assert _journaled_body(client, data='{"sent": "with a length"}') == {"sent": "with a length"}
    chunked = _journaled_body(client, input_stream=io.BytesIO(b'{"sent": "chunked"}'),
                              headers={"Transfer-Encoding": "chunked"},
                              environ_overrides={"wsgi.input_terminated": True})  # as granian says
    assert chunked == {"sent": "chunked"}


def _providers() -> tuple[Flask, FastJSONProvider, DefaultJSONProvider]:
    app = Flask(__name__)
    reference = DefaultJSONProvider(app)
    reference.sort_keys = False  # the mock keeps the documented field order
    return app, FastJSONProvider(app), reference


def _same_answer(value) -> None:
    app, fast, reference = _providers()
    with app.app_context():
        assert fast.response(value).get_data() == reference.response(value).get_data()


@pytest.mark.parametrize("text", [
    "Try a free spin on us — new players get a guaranteed prize!",  # the welcome offer's description
    "\x7f", "a\x7fb", "é", "ÿ", "\u0100", "\u2028\u2029", "\ufeff", "\uffff", "😀", "𝔘𝔫𝔦", "\U0010ffff",
    "mixed é \x7f 😀 \x00 \n \" \\ end", "",
])
def test_answers_with_non_ascii_text_are_the_standard_encoders_bytes(text):
    _same_answer({"status": "success", "data": {"description": text, "points": 1e-05, text: [text, 1.5]}})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_any_answer_is_the_standard_encoders_bytes(value):
    _same_answer({"status": "success", "data": value})


def test_the_app_remembers_plain_functions_but_never_a_coroutine(app):
    def plain():
        return None

    async def coroutine():
        return None

    assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
    with pytest.raises(RuntimeError):  # Flask's answer without its async extra, asked every time
        app.ensure_sync(coroutine)
    with pytest.raises(RuntimeError):
        app.ensure_sync(coroutine)
