"""gamifyhost-mock: an offline, stateful stand-in for the GamifyHost User Journeys API."""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from . import errors, routes, state

DEFAULT_MAX_BODY = 1024 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a mock app. Config keys: SPEC_PATH, KEYS_FILE, CLOCK, MAX_CONTENT_LENGTH."""
    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=DEFAULT_MAX_BODY)
    if config:
        app.config.from_mapping(config)
    app.json.sort_keys = False  # keep the documented field order
    state.init_app(app)
    errors.init_app(app)
    app.register_blueprint(routes.bp)
    return app
