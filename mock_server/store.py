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
from typing import Any, Iterable, Iterator

from .auth import Principal
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
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_timestamp(epoch_seconds: int) -> str:
    """RFC 3339 UTC with a 'Z' and whole seconds, as in the documented example."""
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).strftime(TIMESTAMP_FORMAT)


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


@dataclass(frozen=True)
class Restore:
    """Identity a loaded fixture may carry, so that an export loads back exactly."""

    id: str | None = None
    first_seen: int | None = None
    last_seen: int | None = None


@dataclass(frozen=True)
class LoadItem:
    """One profile to load: whose it is, the request body, and any identity to restore."""

    principal: Principal
    body: dict[str, Any]
    restore: Restore = Restore()


class LoadConflict(ValueError):
    """A loaded item contradicts the store or an earlier item; nothing was loaded."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


@dataclass
class _Space:
    api_key: str  # a key of this partner and environment, for exports that can be seeded
    profiles: dict[str, Profile] = field(default_factory=dict)


class ProfileStore:
    """Profiles of every partner and environment, upserted under one lock."""

    def __init__(self, clock: Clock, text_fields: Iterable[str], merge_fields: Iterable[str]):
        self._clock = clock
        self._text_fields = tuple(text_fields)
        self._merge_fields = tuple(merge_fields)
        self._spaces: dict[tuple[str, str], _Space] = {}
        self._lock = threading.Lock()

    def _now(self) -> int:
        return int(self._clock.now().timestamp())

    def upsert(self, principal: Principal, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create or update the profile `body["externalId"]` names; return (profile, created).

        Fields present replace stored values and absent ones keep theirs; object fields merge
        key by key; id, partnerId and firstSeenAt never change; lastSeenAt moves to now (and
        never backwards, even if the clock is set back).
        """
        now = self._now()
        with self._lock:
            profile, created = self._apply(LoadItem(principal, body), now)
            return self._render(profile), created

    def load(self, items: list[LoadItem]) -> tuple[int, int]:
        """Upsert every item, or none if one conflicts; return (created, updated)."""
        now = self._now()
        with self._lock:
            self._check_conflicts(items)
            created = sum(self._apply(item, now)[1] for item in items)
        return created, len(items) - created

    def _check_conflicts(self, items: list[LoadItem]) -> None:
        owners = {p.id: (k, p.external_id) for k, s in self._spaces.items() for p in s.profiles.values()}
        for index, item in enumerate(items):
            space_key = (item.principal.partner_id, item.principal.environment)
            external_id = item.body["externalId"]
            space = self._spaces.get(space_key)
            existing = space.profiles.get(external_id) if space else None
            wanted = item.restore.id
            if wanted is None:
                continue
            if existing is not None and existing.id != wanted:
                raise LoadConflict(index, f"id {wanted} differs from the stored profile's id {existing.id}")
            owner = owners.setdefault(wanted, (space_key, external_id))
            if owner != (space_key, external_id):
                raise LoadConflict(index, f"id {wanted} already belongs to externalId {owner[1]!r}")

    def _apply(self, item: LoadItem, now: int) -> tuple[Profile, bool]:
        principal, body, restore = item.principal, item.body, item.restore
        space = self._spaces.setdefault((principal.partner_id, principal.environment), _Space(principal.api_key))
        external_id = body["externalId"]
        profile = space.profiles.get(external_id)
        created = profile is None
        if profile is None:
            first_seen = now if restore.first_seen is None else restore.first_seen
            profile = Profile(restore.id or str(uuid.uuid4()), principal.partner_id, principal.environment,
                              external_id, first_seen, first_seen)
            space.profiles[external_id] = profile
        profile.last_seen = max(profile.last_seen, now if restore.last_seen is None else restore.last_seen)
        for name in self._text_fields:
            if name in body:
                profile.text[name] = body[name]
        for name in self._merge_fields:
            if name in body:
                profile.merged.setdefault(name, {}).update(body[name])
        return profile, created

    def page(self, offset: int, limit: int, partner_id: str | None = None, environment: str | None = None,
             external_id: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """Profiles matching every given filter: `limit` of them from `offset`, and the total."""
        with self._lock:
            matching = [p for p in self._profiles(partner_id, environment)
                        if external_id is None or p.external_id == external_id]
            return [self._render(p) for p in matching[offset:offset + limit]], len(matching)

    def remove(self, partner_id: str | None = None, environment: str | None = None) -> int:
        """Delete the profiles of a partner and/or environment (all without filters); count them."""
        with self._lock:
            doomed = [k for k in self._spaces if partner_id in (None, k[0]) and environment in (None, k[1])]
            removed = sum(len(self._spaces[k].profiles) for k in doomed)
            for key in doomed:
                del self._spaces[key]
            return removed

    def export(self) -> list[dict[str, Any]]:
        """Every profile as a fixture entry that `load` restores exactly."""
        with self._lock:
            return [self._fixture_entry(space.api_key, p)
                    for space in self._spaces.values() for p in space.profiles.values()]

    def __len__(self) -> int:
        with self._lock:
            return sum(len(space.profiles) for space in self._spaces.values())

    def _profiles(self, partner_id: str | None, environment: str | None) -> Iterator[Profile]:
        for (space_partner, space_environment), space in self._spaces.items():
            if partner_id in (None, space_partner) and environment in (None, space_environment):
                yield from space.profiles.values()

    def _fixture_entry(self, api_key: str, profile: Profile) -> dict[str, Any]:
        return {
            "apiKey": api_key,
            "id": profile.id,
            "firstSeenAt": format_timestamp(profile.first_seen),
            "lastSeenAt": format_timestamp(profile.last_seen),
            "profile": {"externalId": profile.external_id,
                        **{name: profile.text[name] for name in self._text_fields if name in profile.text},
                        **{name: dict(profile.merged[name]) for name in self._merge_fields if name in profile.merged}},
        }

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
