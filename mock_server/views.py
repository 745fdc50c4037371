"""How profiles, events and offers are written in answers: field order as in the documented examples."""
from __future__ import annotations

from typing import Any

from .clock import format_timestamp
from .journeys import offers
from .journeys.events import Event, event_fields, unpack, unpack_metadata
from .journeys.offers import Offer
from .journeys.profiles import Snapshot
from .journeys.storage import ProfileFields, Space, uuid_text


def profile(fields: ProfileFields, snapshot: Snapshot) -> dict[str, Any]:
    """A profile with its figures. Object fields come from `snapshot.fresh` (just merged) or are
    decoded afresh, so an answer never shares a dict with the store."""
    space, stored, fresh = snapshot.space, snapshot.profile, snapshot.fresh
    return {
        "id": uuid_text(stored.id),
        "partnerId": space[0],
        "externalId": stored.external_id,
        "environment": space[1],
        **{name: "" if value is None else value for name, value in zip(fields.text, stored.text, strict=True)},
        "firstSeenAt": format_timestamp(stored.first_seen),
        "lastSeenAt": format_timestamp(stored.last_seen),
        **snapshot.metrics.as_fields(),
        **{name: fresh[name] if name in fresh else {} if value is None else unpack(value)
           for name, value in zip(fields.merged, stored.merged, strict=True)},
    }


def event(space: Space, external_id: str, stored: Event) -> dict[str, Any]:
    """One event as the timeline shows it."""
    return {
        "id": uuid_text(stored.id),
        "partnerId": space[0],
        "externalId": external_id,
        "environment": space[1],
        **event_fields(stored),
    }


def offer(external_id: str, stored: Offer, now: int) -> dict[str, Any]:
    """One offer of `external_id` with its status at `now` (epoch seconds)."""
    return {
        "id": uuid_text(stored.id),
        "externalId": external_id,
        "offerType": stored.offer_type,
        "gameType": stored.game_type,
        "title": stored.title,
        "description": stored.description,
        "pointsValue": stored.points_value,
        "status": offers.status(stored, now),
        "expiresAt": format_timestamp(stored.expires_at),
        "claimedAt": None if stored.claimed_at is None else format_timestamp(stored.claimed_at),
        "metadata": unpack_metadata(stored.metadata),
    }
