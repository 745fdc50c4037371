"""The GamifyHost API the mock stands in for: POST /v1/user-journeys/users."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from .state import current_state
from .validation import parse_json_body, validate_body

bp = Blueprint("api", __name__)


@bp.post("/v1/user-journeys/users")
def track_user() -> dict[str, Any]:
    """Upsert the caller's profile for body.externalId and answer with the stored profile."""
    state = current_state()
    principal = state.authenticator.authenticate(request.headers.get("X-API-Key"))
    body = parse_json_body(request)
    validate_body(state.track_user_body, body)
    profile, _created = state.store.upsert(principal.partner_id, principal.environment, body)
    return {"status": "success", "data": profile}
