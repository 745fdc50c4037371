"""Users: track or enrich a profile, read it enriched, read its timeline."""
from __future__ import annotations

import math
from typing import Any

from .. import views
from ..errors import ApiError
from ..journeys import engine
from ..operations import Call, Handler

USER_NOT_FOUND = "User not found"


def track_user(call: Call) -> dict[str, Any]:
    """Upsert the caller's profile for body.externalId; answer with it as stored."""
    store = call.state.store
    snapshot, _created = store.upsert(call.principal, call.body)
    return views.profile(store.fields, snapshot)


def get_user(call: Call) -> dict[str, Any]:
    """The profile with its figures now and the recommendations for its segment."""
    store = call.state.store
    snapshot = store.read(call.principal, call.params["externalId"])
    if snapshot is None:
        raise ApiError(404, USER_NOT_FOUND)
    metrics = snapshot.metrics
    return {**views.profile(store.fields, snapshot),
            "recommendations": engine.recommendations(metrics.lifecycleStage, metrics.engagementTier)}


def get_user_timeline(call: Call) -> dict[str, Any]:
    """One page of the user's events, newest first, with the page figures beside them."""
    page, limit = call.params["page"], call.params["limit"]
    found = call.state.store.timeline(call.principal, call.params["externalId"], (page - 1) * limit, limit)
    if found is None:
        raise ApiError(404, USER_NOT_FOUND)
    events, total = found
    space = call.principal.space
    return {"events": [views.event(space, call.params["externalId"], e) for e in events],
            "page": page, "limit": limit, "total": total, "totalPages": math.ceil(total / limit)}


HANDLERS: dict[str, Handler] = {
    "trackUser": track_user,
    "getUser": get_user,
    "getUserTimeline": get_user_timeline,
}
