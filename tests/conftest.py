"""Fixtures as in Flask's tutorial: a fresh app per test, its client and a CLI runner.

The client checks every answer it receives against openapi.yaml, so each test also proves
that what it saw is an answer the contract allows.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from mock_server import create_app
from mock_server.clock import Clock

import chromium
from conformance import assert_conforms

TEST_KEY = "pk_test_0123456789abcdef0123456789abcdef"
LIVE_KEY = "pk_live_0123456789abcdef0123456789abcdef"
OTHER_PARTNER_TEST_KEY = "pk_test_fedcba9876543210fedcba9876543210"
START = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)


class ConformingClient(FlaskClient):
    """A test client that asserts each response conforms to the spec."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = response.request
        if request.method not in ("HEAD", "OPTIONS"):
            body = response.get_json(silent=True)
            assert_conforms(request.method, request.path, response.status_code, response.content_type, body)
        return response

    def track(self, body, key: str | None = TEST_KEY, **kwargs):
        """POST /v1/user-journeys/users with `body` as JSON and `key` as X-API-Key."""
        headers = kwargs.pop("headers", {})
        if key is not None:
            headers["X-API-Key"] = key
        return self.post("/v1/user-journeys/users", json=body, headers=headers, **kwargs)


@pytest.fixture
def clock() -> Clock:
    """A clock frozen at 2025-01-15T10:30:00Z that tests move by hand."""
    return Clock(frozen_at=START)


@pytest.fixture
def app_config(clock):
    """Config for the app fixture; tests override it to add a keys file and the like."""
    return {"TESTING": True, "CLOCK": clock}


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.test_client_class = ConformingClient
    return app


@pytest.fixture
def client(app) -> ConformingClient:
    return app.test_client()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def store(app):
    """The app's profile store, for checking that failed calls changed nothing."""
    return app.extensions["gamifyhost_mock"].store


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the run's browser tests (tests/chromium.py)."""
    with chromium.launched() as instance:
        yield instance
