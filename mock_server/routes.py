"""The GamifyHost API the mock stands in for: POST /v1/user-journeys/users."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue

from .errors import TRACK_FAILED, ApiError
from .state import TRACK_USER, current_state
from .validation import parse_json_body, validate_body

bp = Blueprint("api", __name__)


@bp.post("/v1/user-journeys/users")
def track_user() -> ResponseReturnValue:
    """Upsert the caller's profile for body.externalId and answer with the stored profile.

    Injected latency is served first; an injected error strikes only a request that would
    otherwise have succeeded, like a storage failure would, and stores nothing.
    """
    state = current_state()
    delay = sum(f.latencyMs or 0 for f in state.faults.draw(TRACK_USER, "latency"))
    if delay:
        time.sleep(delay / 1000)
    principal = state.authenticator.authenticate(request.environ.get("HTTP_X_API_KEY"))
    body = parse_json_body(request)
    validate_body(state.track_user_body, body)
    if state.faults.draw(TRACK_USER, "error"):
        raise ApiError(500, TRACK_FAILED)
    profile, _created = state.store.upsert(principal, body)
    return current_app.json.response({"status": "success", "data": profile})
