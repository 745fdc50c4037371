"""The storage interface: what the journey rules need from a place that keeps profiles and events.

Two stores stand behind it: `memory.MemoryStorage` (the default, fastest) and
`sqlite.SqliteStorage` (`--state FILE`: every write committed before it returns). The rules in
`profiles.py` read a record, change it and put it back, all under the rules' own lock, so a
store need not be safe for concurrent use by itself.
"""
from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from .events import Event, Journey
from .offers import Offer

Space = tuple[str, str]  # (partnerId, environment): no lookup crosses it


def uuid_text(value: int) -> str:
    """`str(uuid.UUID(int=value))` for a stored id (0 <= value < 2**128), in a third of the time.

    0.8 µs against 2.3 µs: a batch of 100 events writes 100 ids (in answers, and to SQLite), and
    this saved 150 µs of a 1,500 µs batch (in-process, the app's WSGI callable). Checked equal to
    the uuid module's text on 100,000 random ids and on both bounds.
    """
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Principal:
    """The caller a request acts for: profiles are scoped by partner and environment. (Here, not
    in auth.py, which answers HTTP errors: the domain imports no Flask.)"""

    partner_id: str
    environment: str
    api_key: str

    @property
    def space(self) -> Space:
        """Where its profiles live."""
        return self.partner_id, self.environment


@dataclass(frozen=True)
class ProfileFields:
    """The request's profile fields, from the spec: plain text ones and merged object ones."""

    text: tuple[str, ...]
    merged: tuple[str, ...]


@dataclass(slots=True)
class Profile:
    """One stored profile, kept small: a million of them must fit in well under 1 GiB.

    `text` holds the text fields in `ProfileFields.text` order (None: never given); `merged`
    holds each object field (tags, metadata) as compact UTF-8 JSON, decoded when rendered.
    The partner and environment are those of the space the profile is stored in.
    """

    id: int  # the UUID as a 128-bit integer
    external_id: str
    first_seen: int  # epoch seconds
    last_seen: int
    text: tuple[str | None, ...]
    merged: tuple[bytes | None, ...]


class Storage(Protocol):
    """Where profiles live, per space and externalId."""

    def get(self, space: Space, external_id: str) -> Profile | None:
        """The stored profile, or None."""

    def put(self, space: Space, api_key: str, profile: Profile) -> None:
        """Store `profile` (new or changed); `api_key` names the space if it is new.

        Outside `transaction()` the write is durable when this returns.
        """

    def journey(self, space: Space, external_id: str) -> Journey | None:
        """The stored profile's events, or None if it has none. Read only: add through add_events."""

    def add_events(self, space: Space, external_id: str, events: Sequence[Event]) -> None:
        """Append events to a stored profile's journey; durable when this returns, as `put`."""

    def offers(self, space: Space, external_id: str) -> Sequence[Offer]:
        """The stored profile's offers in the order first stored (issue order); empty if none."""

    def put_offer(self, space: Space, external_id: str, offer: Offer) -> None:
        """Store an offer of a stored profile, new or changed (the same id replaces it in place);
        durable when this returns, as `put`."""

    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside are kept together: all of them, or none if the block raises."""

    def owners(self, ids: Collection[int]) -> dict[int, tuple[Space, str]]:
        """For each of these profile ids that is stored: its space and externalId."""

    def page(self, offset: int, limit: int, partner_id: str | None, environment: str | None,
             external_id: str | None) -> tuple[list[tuple[Space, Profile]], int]:
        """Profiles matching every given filter, `limit` from `offset`, and how many match.

        The order is stable: by space in the order spaces were created, then by profile in the
        order profiles were created.
        """

    def spaces(self) -> dict[Space, str]:
        """Each space that holds profiles, with the api key it was created with."""

    def items(self) -> Iterator[tuple[Space, str, Profile]]:
        """Every profile with its space and that space's api key, in `page` order."""

    def remove(self, partner_id: str | None, environment: str | None) -> int:
        """Delete the spaces matching the filters (every space without any): profiles, events and
        offers; count the profiles."""

    def count(self) -> int:
        """How many profiles are stored."""

    def before_fork(self) -> None:
        """Let go of what must not cross a fork (an SQLite connection), keeping what must (the
        state file's lock, which the worker then holds too); it reopens on next use."""

    def close(self) -> None:
        """Release what the store holds open (files); it reopens on next use."""
