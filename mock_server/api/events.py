"""Events: track one, or a batch."""
from __future__ import annotations

from typing import Any

from .. import views
from ..operations import Call, Handler


def _tracked(call: Call, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    space = call.principal.space
    return [views.event(space, external_id, event)
            for external_id, event in call.state.store.track(call.principal, bodies)]


def track_event(call: Call) -> dict[str, Any]:
    """Store one event (creating the profile if need be); answer with it."""
    return {"event": _tracked(call, [call.body])[0]}


def track_events(call: Call) -> dict[str, Any]:
    """Store a batch of events, all or none; answer with them in order."""
    events = _tracked(call, call.body["events"])
    return {"tracked": len(events), "events": events}


HANDLERS: dict[str, Handler] = {
    "trackEvent": track_event,
    "trackEvents": track_events,
}
