"""Profiles in dictionaries and events in compact journeys: the default store. Lost on exit."""
from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from .events import Event, Journey, Tables
from .offers import Offer
from .storage import Profile, Space


@dataclass
class _Space:
    api_key: str  # a key of this partner and environment, for exports that can be seeded
    profiles: dict[str, Profile] = field(default_factory=dict)
    journeys: dict[str, Journey] = field(default_factory=dict)  # of the profiles with events
    offers: dict[str, list[Offer]] = field(default_factory=dict)  # of the profiles with offers


class MemoryStorage:
    """Spaces in creation order, each a dict of profiles by externalId in creation order."""

    def __init__(self) -> None:
        self._spaces: dict[Space, _Space] = {}
        self._tables = Tables()  # the event types and metadata of every journey here, each kept once

    def get(self, space: Space, external_id: str) -> Profile | None:
        found = self._spaces.get(space)
        return found.profiles.get(external_id) if found else None

    def put(self, space: Space, api_key: str, profile: Profile) -> None:
        found = self._spaces.get(space)
        if found is None:
            found = self._spaces[space] = _Space(api_key)
        found.profiles[profile.external_id] = profile

    def restore(self, space: Space, external_id: str, previous: Profile | None) -> None:
        """Put back what a put replaced: `previous`, or nothing (the space goes too once empty)."""
        found = self._spaces[space]
        if previous is not None:
            found.profiles[external_id] = previous
            return
        del found.profiles[external_id]
        found.journeys.pop(external_id, None)
        found.offers.pop(external_id, None)
        if not found.profiles:
            del self._spaces[space]

    def journey(self, space: Space, external_id: str) -> Journey | None:
        found = self._spaces.get(space)
        return found.journeys.get(external_id) if found else None

    def add_events(self, space: Space, external_id: str, events: Sequence[Event]) -> None:
        journeys = self._spaces[space].journeys
        journey = journeys.get(external_id)
        if journey is None:
            journey = journeys[external_id] = Journey(self._tables)
        for event in events:
            journey.add(event)

    def offers(self, space: Space, external_id: str) -> Sequence[Offer]:
        found = self._spaces.get(space)
        return found.offers.get(external_id, ()) if found else ()

    def put_offer(self, space: Space, external_id: str, offer: Offer) -> None:
        held = self._spaces[space].offers.setdefault(external_id, [])
        for index, stored in enumerate(held):
            if stored.id == offer.id:
                held[index] = offer
                return
        held.append(offer)

    def transaction(self) -> AbstractContextManager[None]:
        # The rules check a whole load before its first put, so nothing is left to undo.
        return nullcontext()

    def owners(self, ids: Collection[int]) -> dict[int, tuple[Space, str]]:
        wanted = set(ids)
        return {p.id: (key, p.external_id) for key, space in self._spaces.items()
                for p in space.profiles.values() if p.id in wanted}

    def page(self, offset: int, limit: int, partner_id: str | None, environment: str | None,
             external_id: str | None) -> tuple[list[tuple[Space, Profile]], int]:
        matching = [(key, p) for key, space in self._matching(partner_id, environment)
                    for p in space.profiles.values() if external_id is None or p.external_id == external_id]
        return matching[offset:offset + limit], len(matching)

    def spaces(self) -> dict[Space, str]:
        return {key: space.api_key for key, space in self._spaces.items() if space.profiles}

    def items(self) -> Iterator[tuple[Space, str, Profile]]:
        for key, space in list(self._spaces.items()):
            for profile in list(space.profiles.values()):
                yield key, space.api_key, profile

    def remove(self, partner_id: str | None, environment: str | None) -> int:
        doomed = [key for key, _ in self._matching(partner_id, environment)]
        removed = sum(len(self._spaces[key].profiles) for key in doomed)
        for key in doomed:
            del self._spaces[key]
        if not self._spaces:  # the shared tables only grow: a full reset gives their memory back too
            self._tables = Tables()
        return removed

    def count(self) -> int:
        return sum(len(space.profiles) for space in self._spaces.values())

    def before_fork(self) -> None:
        """Nothing is held open."""

    def close(self) -> None:
        """Nothing is held open."""

    def _matching(self, partner_id: str | None, environment: str | None) -> list[tuple[Space, _Space]]:
        return [(key, space) for key, space in self._spaces.items()
                if partner_id in (None, key[0]) and environment in (None, key[1])]
