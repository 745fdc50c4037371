"""In-memory profiles with the Track / Enrich User upsert rules.

Profiles live in one space per (partnerId, environment) and are keyed by externalId inside
it, so no lookup can cross partners or environments. One lock serialises writers: concurrent
upserts of one externalId give one profile and lose no field.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from .clock import Clock

# What the profile reports for metrics it derives from events; the mock receives no events.
DERIVED_DEFAULTS: dict[str, Any] = {
    "lifecycleStage": "new",
    "engagementTier": "casual",
    "engagementScore": 0,
    "totalPlays": 0,
    "plays7d": 0,
    "plays30d": 0,
    "pointsEarned7d": 0,
    "pointsEarned30d": 0,
    "campaignsJoined": 0,
    "winRate": 0,
    "totalEvents": 0,
}


def format_timestamp(epoch_seconds: int) -> str:
    """RFC 3339 UTC with a 'Z' and whole seconds, as in the documented example."""
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Profile:
    """One stored profile: identity, the enrichment given so far, and its two timestamps."""

    id: str
    partner_id: str
    environment: str
    external_id: str
    first_seen: int
    last_seen: int
    text: dict[str, str] = field(default_factory=dict)
    merged: dict[str, dict[str, Any]] = field(default_factory=dict)


class ProfileStore:
    """Profiles of every partner and environment, upserted under one lock."""

    def __init__(self, clock: Clock, text_fields: Iterable[str], merge_fields: Iterable[str]):
        self._clock = clock
        self._text_fields = tuple(text_fields)
        self._merge_fields = tuple(merge_fields)
        self._spaces: dict[tuple[str, str], dict[str, Profile]] = {}
        self._lock = threading.Lock()

    def upsert(self, partner_id: str, environment: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create or update the profile `body["externalId"]` names; return (profile, created).

        Fields present replace stored values and absent ones keep theirs; object fields merge
        key by key; id, partnerId and firstSeenAt never change; lastSeenAt moves to now (and
        never backwards, even if the clock is set back).
        """
        now = int(self._clock.now().timestamp())
        external_id = body["externalId"]
        with self._lock:
            space = self._spaces.setdefault((partner_id, environment), {})
            profile = space.get(external_id)
            created = profile is None
            if profile is None:
                profile = Profile(str(uuid.uuid4()), partner_id, environment, external_id, now, now)
                space[external_id] = profile
            profile.last_seen = max(profile.last_seen, now)
            for name in self._text_fields:
                if name in body:
                    profile.text[name] = body[name]
            for name in self._merge_fields:
                if name in body:
                    profile.merged.setdefault(name, {}).update(body[name])
            return self._render(profile), created

    def get(self, partner_id: str, environment: str, external_id: str) -> dict[str, Any] | None:
        """The profile as the API shows it, or None."""
        with self._lock:
            profile = self._spaces.get((partner_id, environment), {}).get(external_id)
            return None if profile is None else self._render(profile)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(space) for space in self._spaces.values())

    def _render(self, profile: Profile) -> dict[str, Any]:
        # Field order follows the documented example. Object fields are copied so that a
        # concurrent upsert cannot change them while the answer is being serialised.
        return {
            "id": profile.id,
            "partnerId": profile.partner_id,
            "externalId": profile.external_id,
            "environment": profile.environment,
            **{name: profile.text.get(name, "") for name in self._text_fields},
            "firstSeenAt": format_timestamp(profile.first_seen),
            "lastSeenAt": format_timestamp(profile.last_seen),
            **DERIVED_DEFAULTS,
            **{name: dict(profile.merged.get(name, {})) for name in self._merge_fields},
        }
