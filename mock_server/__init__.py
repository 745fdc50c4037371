"""gamifyhost-mock: an offline, stateful stand-in for the GamifyHost User Journeys API."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask
from flask_cors import CORS

from . import control, errors, journal, routes, state
from .json_provider import FastJSONProvider

DEFAULT_MAX_BODY = 1024 * 1024
# What a browser app may send cross-origin: the API's own headers and methods.
CORS_HEADERS = ["X-API-Key", "Content-Type"]
CORS_METHODS = ["GET", "POST", "DELETE"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a mock app.

    Config keys: SPEC_PATH, KEYS_FILE, CLOCK, MAX_CONTENT_LENGTH, FIXTURES (paths), STATE_FILE,
    CONTROL_API (default True), JOURNAL_SIZE, FAULT_SEED, CORS_ORIGINS (default "*": any).
    """
    app = Flask(__name__)
    app.json = FastJSONProvider(app)
    app.config.from_mapping(MAX_CONTENT_LENGTH=DEFAULT_MAX_BODY, CONTROL_API=True, CORS_ORIGINS="*")
    if config:
        app.config.from_mapping(config)
    mock = state.init_app(app)
    errors.init_app(app)
    # always_send=False: only requests with an Origin (browsers) need CORS headers.
    CORS(app, origins=app.config["CORS_ORIGINS"], allow_headers=CORS_HEADERS, methods=CORS_METHODS, max_age=600,
         always_send=False)
    journal.record_requests(app, mock.journal)
    app.register_blueprint(routes.bp)
    if app.config["CONTROL_API"]:
        app.register_blueprint(control.bp)
    return app
