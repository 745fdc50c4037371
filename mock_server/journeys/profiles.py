"""The journey rules over any store behind the storage interface: upserts, events, reads.

Profiles live in one space per (partnerId, environment) and are keyed by externalId inside
it, so no lookup can cross partners or environments. One lock serialises every read-modify-
write: concurrent upserts of one externalId give one profile and lose no field. The figures a
profile reports are computed by the engine from its events at every read.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any, NamedTuple

from ..clock import EARLIEST, Clock, format_timestamp, parse_event_time
from . import engine, offers
from .events import Event, Journey, Tables, event_fields, pack, pack_metadata, unpack, unpack_metadata
from .offers import Offer, OfferSpec
from .storage import Principal, Profile, ProfileFields, Space, Storage, uuid_text

SHARED_TEXT_LENGTH = 16  # text this short is interned: countries, devices and sources repeat a lot


@dataclass(frozen=True)
class Snapshot:
    """A profile as read: its space, the stored record, its figures now, and any object fields
    just merged (already decoded, not shared with the store)."""

    space: Space
    profile: Profile
    metrics: engine.Metrics
    fresh: dict[str, dict[str, Any]] = field(default_factory=dict)


_NO_EVENTS = Journey(Tables())  # the journey of a profile without events; never added to
_FIXTURE_EVENTS = uuid.UUID("3f0b6c1e-9d7a-5e21-8c4f-67616d696679")  # namespace of fixture events' derived ids
_FIXTURE_OFFERS = uuid.UUID("0ffe2c1a-7b3d-5f40-9a6e-67616d696679")  # and of fixture offers'
_EARLIEST = int(EARLIEST.timestamp())


@dataclass(frozen=True)
class Restore:
    """Identity a loaded fixture may carry, so that an export loads back exactly."""

    id: str | None = None
    first_seen: int | None = None
    last_seen: int | None = None


@dataclass(frozen=True)
class LoadEvent:
    """One event of a loaded profile: a trackEvent body without externalId, any id to restore, and
    for a body without occurredAt, how many seconds before the load's now it happened."""

    body: dict[str, Any]
    id: int | None = None  # the UUID as a 128-bit integer
    ago: int = 0


@dataclass(frozen=True)
class LoadItem:
    """One profile to load: whose it is, the request body, any identity to restore, its events and
    the offers placed on it."""

    principal: Principal
    body: dict[str, Any]
    restore: Restore = Restore()
    events: tuple[LoadEvent, ...] = ()
    offers: tuple[OfferSpec, ...] = ()


class LoadConflict(ValueError):
    """A loaded item contradicts the store, the clock or an earlier item; nothing was loaded.

    `field` names the item's field at fault, as a dotted path (`id`, `events.3.id`).
    """

    def __init__(self, index: int, message: str, field: str = "id") -> None:
        super().__init__(message)
        self.index = index
        self.field = field


class Counts(NamedTuple):
    """How many profiles, events and offers (are stored, or were deleted)."""

    profiles: int
    events: int
    offers: int


class HeldOffers(NamedTuple):
    """A user's offers as read at `now`."""

    offers: list[Offer]
    now: int


class OfferListing(NamedTuple):
    """Everything QA sees of a user's offers: every stored one and the segment they follow now."""

    offers: list[Offer]
    now: int
    metrics: engine.Metrics
    churn_risk: float


class OfferConflict(ValueError):
    """An offer QA placed that would break the cap, or whose id is another user's; nothing was stored."""


def _before_fork(alive: weakref.ref[ProfileStore]) -> None:
    store = alive()
    if store is not None:
        store._lock.acquire()
        store._storage.before_fork()


def _after_fork(alive: weakref.ref[ProfileStore]) -> None:
    store = alive()
    if store is not None:
        store._lock.release()


class ProfileStore:
    """Profiles of every partner and environment, upserted under one lock."""

    def __init__(self, clock: Clock, fields: ProfileFields, storage: Storage, offer_limit: int) -> None:
        self._clock = clock
        self._offer_limit = offer_limit  # most active offers a user holds at once (the spec's maxItems)
        self.fields = fields
        self._text_fields = fields.text
        self._merge_fields = fields.merged
        self._storage = storage
        self._lock = threading.Lock()
        # Nothing crosses a fork half done or open (SQLite connections must not): the server
        # forks its worker after the app is built, and the storage opens again on first use.
        alive = weakref.ref(self)
        os.register_at_fork(before=partial(_before_fork, alive), after_in_parent=partial(_after_fork, alive),
                            after_in_child=partial(_after_fork, alive))

    def _now(self) -> int:
        return int(self._clock.now().timestamp())

    def upsert(self, principal: Principal, body: dict[str, Any]) -> tuple[Snapshot, bool]:
        """Create or update the profile `body["externalId"]` names; return (profile, created).

        Fields present replace stored values and absent ones keep theirs; object fields merge
        key by key; id, partnerId and firstSeenAt never change; lastSeenAt moves to now (and
        never backwards, even if the clock is set back). The write is stored (durably, with
        the SQLite store) before this returns.
        """
        now = self._now()
        with self._lock:
            profile, created, merged = self._apply(LoadItem(principal, body), now)
            return self._snapshot(principal.space, profile, now, merged), created

    def read(self, principal: Principal, external_id: str) -> Snapshot | None:
        """The profile with its figures as of now, or None if the caller has no such user."""
        now = self._now()
        with self._lock:
            profile = self._storage.get(principal.space, external_id)
            return None if profile is None else self._snapshot(principal.space, profile, now)

    def track(self, principal: Principal, bodies: Sequence[dict[str, Any]]) -> list[tuple[str, Event]]:
        """Store events (checked request bodies) in order, all or none; return them with their
        externalIds. An unknown externalId gets a profile; every profile's seen times widen to
        cover its events."""
        now = self._now()
        events = [(body["externalId"], self._event(body, now)) for body in bodies]
        space = principal.space
        by_user: dict[str, list[Event]] = {}
        for external_id, event in events:
            by_user.setdefault(external_id, []).append(event)
        with self._lock, self._storage.transaction():
            for external_id, own in by_user.items():
                self._apply(LoadItem(principal, {"externalId": external_id}), now, own)
                self._storage.add_events(space, external_id, own)
        return events

    def timeline(self, principal: Principal, external_id: str, offset: int,
                 limit: int) -> tuple[list[Event], int] | None:
        """`limit` of the user's events from `offset`, newest first, and how many there are;
        None if the caller has no such user."""
        with self._lock:
            space = principal.space
            if self._storage.get(space, external_id) is None:
                return None
            journey = self._storage.journey(space, external_id) or _NO_EVENTS
            return journey.page(offset, limit), len(journey)

    def offers(self, principal: Principal, external_id: str) -> HeldOffers | None:
        """Issue what the user's segment earns now, then give the user's active offers in issue
        order; None if the caller has no such user. Issued offers are stored before this returns."""
        now = self._now()
        space = principal.space
        with self._lock:
            profile = self._storage.get(space, external_id)
            if profile is None:
                return None
            held = self._storage.offers(space, external_id)
            new = offers.issue(held, self._snapshot(space, profile, now).metrics, now, self._offer_limit)
            if new:
                with self._storage.transaction():
                    for offer in new:
                        self._storage.put_offer(space, external_id, offer)
                held = self._storage.offers(space, external_id)
            return HeldOffers(_in_issue_order(o for o in held if offers.is_active(o, now)), now)

    def claim(self, principal: Principal, external_id: str, offer_id: str) -> Offer:
        """Claim the user's offer `offer_id` now: it is stored claimed, and an offer_claimed event with
        its points joins the user's events (the user is seen now), all or none. Raises
        offers.OfferError with the documented refusal."""
        now = self._now()
        space = principal.space
        with self._lock:
            offer = offers.find(self._storage.offers(space, external_id), offer_id, now)
            claimed = replace(offer, claimed_at=now)
            event = self._event({"category": offers.CLAIM_CATEGORY, "eventType": offers.OFFER_CLAIMED,
                                 "points": offer.points_value,
                                 "metadata": {"offerId": uuid_text(offer.id), "offerType": offer.offer_type}}, now)
            with self._storage.transaction():
                self._storage.put_offer(space, external_id, claimed)
                self._apply(LoadItem(principal, {"externalId": external_id}), now, [event])
                self._storage.add_events(space, external_id, [event])
            return claimed

    def offer_listing(self, space: Space, external_id: str) -> OfferListing | None:
        """Every stored offer of the user, whatever its status, with the segment now; nothing is
        issued. None if there is no such user."""
        now = self._now()
        with self._lock:
            profile = self._storage.get(space, external_id)
            if profile is None:
                return None
            metrics = self._snapshot(space, profile, now).metrics
            return OfferListing(_in_issue_order(self._storage.offers(space, external_id)), now, metrics,
                                offers.churn_risk(metrics))

    def put_offer(self, principal: Principal, external_id: str, spec: OfferSpec) -> Offer | None:
        """Place an offer on a stored user as `spec` says (no event is written, even for a claimed
        one); None if there is no such user. Raises OfferConflict if it would break the cap or its id
        is another user's offer (the same id of this user's is replaced), offers.OfferTimeError if a
        relative time lands outside the mock's time."""
        now = self._now()
        space = principal.space
        with self._lock:
            if self._storage.get(space, external_id) is None:
                return None
            offer = spec.offer(uuid.uuid4().int, now)
            owner = self._offer_owners().get(offer.id) if spec.id is not None else None
            if owner is not None and owner != (space, external_id):
                raise OfferConflict(_taken(offer.id, owner))
            held = self._storage.offers(space, external_id)
            if not offers.fits(held, offer, self._offer_limit):
                raise OfferConflict(self._over_cap(offer))
            self._storage.put_offer(space, external_id, offer)
            return offer

    def _offer_owners(self) -> dict[int, tuple[Space, str]]:
        """Whose each stored offer is. Offers have no index by id: a placed id is rare (QA's, an
        export's), so this reads them all, once per call that needs it."""
        return {offer.id: (space, profile.external_id) for space, _, profile in self._storage.items()
                for offer in self._storage.offers(space, profile.external_id)}

    def _over_cap(self, offer: Offer) -> str:
        return (f"the user would hold more than {self._offer_limit} active offers at once between "
                f"{format_timestamp(offer.issued_at)} and {format_timestamp(offer.expires_at)}: claim one, let one "
                "expire, or place this one at another time")

    def _placed_offers(self, items: list[LoadItem], now: int) -> list[list[Offer]]:
        """The offers of each item to store: those its user does not hold yet (loading a fixture again
        adds nothing). Refuse an id that is another user's, and an offer that breaks the cap."""
        owners = self._offer_owners() if any(spec.id is not None for item in items for spec in item.offers) else {}
        held: dict[tuple[Space, str], list[Offer]] = {}
        placed = []
        for index, item in enumerate(items):
            user = (item.principal.space, item.body["externalId"])
            own = held.setdefault(user, list(self._storage.offers(*user)))
            new = []
            for number, spec in enumerate(item.offers):
                try:
                    offer = spec.offer(_fixture_offer_id(item, number, spec), now)
                except offers.OfferTimeError as exc:
                    raise LoadConflict(index, str(exc), f"offers.{number}.{exc.field}") from None
                owner = owners.setdefault(offer.id, user)
                if owner != user:
                    raise LoadConflict(index, _taken(offer.id, owner), f"offers.{number}.id")
                if any(o.id == offer.id for o in own):
                    continue
                if not offers.fits(own, offer, self._offer_limit):
                    raise LoadConflict(index, self._over_cap(offer), f"offers.{number}")
                own.append(offer)
                new.append(offer)
            placed.append(new)
        return placed

    def _event(self, body: dict[str, Any], now: int, identity: int | None = None) -> Event:
        metadata = body.get("metadata")
        return Event(uuid.uuid4().int if identity is None else identity,
                     parse_event_time(body["occurredAt"]) if "occurredAt" in body else now,
                     body["category"], body["eventType"],
                     int(body.get("points", 0)),  # JSON Schema's integers include 5.0; the journey keeps ints
                     pack_metadata(metadata or {}),
                     engine.campaign_of(body["category"], metadata))

    def _snapshot(self, space: Space, profile: Profile, now: int,
                  fresh: dict[str, dict[str, Any]] | None = None) -> Snapshot:
        journey = self._storage.journey(space, profile.external_id) or _NO_EVENTS
        return Snapshot(space, profile, engine.metrics(journey, profile.first_seen, profile.last_seen, now),
                        fresh or {})

    def load(self, items: list[LoadItem]) -> tuple[int, int]:
        """Upsert every item and add its events, or none if one conflicts; return (created, updated).

        The relative times of a load's events count back from one now. An item with events is seen
        when they happened, unless it says otherwise, and its seen times widen to cover them, as
        `track`'s do; one without events and seen times is seen now, as an upsert is.
        """
        now = self._now()
        with self._lock:
            events = [self._loaded_events(index, item, now) for index, item in enumerate(items)]
            if any(item.restore.id is not None for item in items):
                self._check_conflicts(items)
            present = self._check_event_ids(items, events)
            placed = self._placed_offers(items, now)
            created = 0
            with self._storage.transaction():
                for item, own, own_offers in zip(items, events, placed, strict=True):
                    # Only events not stored yet widen the seen times: an `ago` event loaded again
                    # resolves to a later instant, which would make its user seen later than it was.
                    new = [event for event in own if event.id not in present]
                    created += self._apply(item, now, new)[1]
                    space, external_id = item.principal.space, item.body["externalId"]
                    if new:
                        self._storage.add_events(space, external_id, new)
                    for offer in own_offers:
                        self._storage.put_offer(space, external_id, offer)
        return created, len(items) - created

    def _loaded_events(self, index: int, item: LoadItem, now: int) -> list[Event]:
        events = []
        for number, event in enumerate(item.events):
            if now - event.ago < _EARLIEST:
                raise LoadConflict(index, f"{event.ago:,} seconds before the mock's now ({format_timestamp(now)}) is "
                                          f"earlier than the mock can hold ({EARLIEST.date()})", f"events.{number}.ago")
            identity = event.id if event.id is not None else _fixture_event_id(item, number, event)
            events.append(self._event(event.body, now - event.ago, identity))
        return events

    def _check_event_ids(self, items: list[LoadItem], events: list[list[Event]]) -> set[int]:
        """The ids of the load's events that their user has already (loading them again changes
        nothing); refuse an id given twice, or already stored as another user's event."""
        wanted: dict[int, tuple[int, int]] = {}  # id -> (item index, event index)
        for index, own in enumerate(events):
            for number, event in enumerate(own):
                if wanted.setdefault(event.id, (index, number)) != (index, number):
                    raise LoadConflict(index, f"id {uuid.UUID(int=event.id)} is given to two events",
                                       f"events.{number}.id")
        present: set[int] = set()
        owners = {(item.principal.space, item.body["externalId"]) for item in items}
        # Stored events have no index by id. A fixture event's own id is derived from its user, so only
        # that user's journey is read; an id restored from an export may be anyone's, so all are.
        restored = any(event.id is not None for item in items for event in item.events)
        stored = ((space, profile.external_id) for space, _, profile in self._storage.items()) if restored \
            else iter(owners)
        for space, external_id in stored:
            for event in self._storage.journey(space, external_id) or ():
                if event.id not in wanted:
                    continue
                index, number = wanted[event.id]
                if (space, external_id) != (items[index].principal.space, items[index].body["externalId"]):
                    raise LoadConflict(index, f"id {uuid.UUID(int=event.id)} is already stored, as an event of "
                                              f"externalId {external_id!r}", f"events.{number}.id")
                present.add(event.id)
        return present

    def _check_conflicts(self, items: list[LoadItem]) -> None:
        wanted_ids = {uuid.UUID(item.restore.id).int for item in items if item.restore.id is not None}
        owners = self._storage.owners(wanted_ids)
        for index, item in enumerate(items):
            if item.restore.id is None:
                continue
            space_key = item.principal.space
            external_id = item.body["externalId"]
            existing = self._storage.get(space_key, external_id)
            wanted = uuid.UUID(item.restore.id).int
            if existing is not None and existing.id != wanted:
                raise LoadConflict(index, f"id {item.restore.id} differs from the stored profile's id "
                                          f"{uuid.UUID(int=existing.id)}")
            owner = owners.setdefault(wanted, (space_key, external_id))
            if owner != (space_key, external_id):
                raise LoadConflict(index, f"id {item.restore.id} already belongs to externalId {owner[1]!r}")

    def _apply(self, item: LoadItem, now: int,
               events: Sequence[Event] = ()) -> tuple[Profile, bool, dict[str, dict[str, Any]]]:
        """Upsert one item, seen when its `events` (those not stored yet) happened; an item whose
        events are all stored already is not seen again, one without events is seen now. Also
        return the object fields it merged, already decoded."""
        principal, body, restore = item.principal, item.body, item.restore
        space = principal.space
        external_id = body["externalId"]
        stored = self._storage.get(space, external_id)
        if events:
            earliest, latest = min(e.occurred_at for e in events), max(e.occurred_at for e in events)
        elif item.events and stored is not None:
            earliest, latest = stored.first_seen, stored.last_seen
        else:
            earliest, latest = now, now
        created = stored is None
        if stored is None:
            first_seen = earliest if restore.first_seen is None else restore.first_seen
            identity = uuid.uuid4().int if restore.id is None else uuid.UUID(restore.id).int
            stored = Profile(identity, external_id, first_seen, first_seen,
                             (None,) * len(self._text_fields), (None,) * len(self._merge_fields))
        first_seen = stored.first_seen
        last_seen = max(stored.last_seen, latest if restore.last_seen is None else restore.last_seen)
        if events:
            first_seen, last_seen = min(first_seen, earliest), max(last_seen, latest)
        # A new record, not the stored one changed in place: the memory store hands out its own
        # objects, and a write that fails must leave them as they were.
        profile = Profile(stored.id, external_id, first_seen, last_seen, stored.text, stored.merged)
        if any(name in body for name in self._text_fields):
            profile.text = tuple(self._share(body[name]) if name in body else old
                                 for name, old in zip(self._text_fields, stored.text, strict=True))
        merged: dict[str, dict[str, Any]] = {}
        if any(name in body for name in self._merge_fields):
            packed = []
            for name, old in zip(self._merge_fields, stored.merged, strict=True):
                if name in body:
                    merged[name] = {**unpack(old), **body[name]} if old is not None else dict(body[name])
                    old = pack(merged[name])
                packed.append(old)
            profile.merged = tuple(packed)
        if created or profile != stored:  # a backfilled event, say, changes nothing to write
            self._storage.put(space, principal.api_key, profile)
        return profile, created, merged

    @staticmethod
    def _share(value: str) -> str:
        return sys.intern(value) if len(value) <= SHARED_TEXT_LENGTH else value

    def page(self, offset: int, limit: int, partner_id: str | None = None, environment: str | None = None,
             external_id: str | None = None) -> tuple[list[Snapshot], int]:
        """Profiles matching every given filter: `limit` of them from `offset`, and the total."""
        now = self._now()
        with self._lock:
            found, total = self._storage.page(offset, limit, partner_id, environment, external_id)
            return [self._snapshot(space, profile, now) for space, profile in found], total

    def remove(self, partner_id: str | None = None, environment: str | None = None) -> Counts:
        """Delete the profiles of a partner and/or environment (all without filters) with their
        events; count both."""
        with self._lock:
            doomed, _ = self._storage.page(0, self._storage.count(), partner_id, environment, None)
            events, held = self._event_count(doomed), self._offer_count(doomed)
            return Counts(self._storage.remove(partner_id, environment), events, held)

    def export(self) -> list[dict[str, Any]]:
        """Every profile as a fixture entry that `load` restores exactly, events included."""
        with self._lock:
            return [self._fixture_entry(space, api_key, profile) for space, api_key, profile in self._storage.items()]

    def spaces(self) -> dict[Space, str]:
        """Each (partnerId, environment) that holds profiles, with the key its first profile came with."""
        with self._lock:
            return self._storage.spaces()

    def close(self) -> None:
        """Let the storage release its files (an SQLite store folds its log into the database)."""
        with self._lock:
            self._storage.close()

    def __len__(self) -> int:
        with self._lock:
            return self._storage.count()

    def counts(self) -> Counts:
        """How many profiles, events and offers are stored."""
        with self._lock:
            stored = [(space, profile) for space, _, profile in self._storage.items()]
            return Counts(len(stored), self._event_count(stored), self._offer_count(stored))

    def _event_count(self, profiles: Iterable[tuple[Space, Profile]]) -> int:
        return sum(len(self._storage.journey(space, profile.external_id) or _NO_EVENTS)
                   for space, profile in profiles)

    def _offer_count(self, profiles: Iterable[tuple[Space, Profile]]) -> int:
        return sum(len(self._storage.offers(space, profile.external_id)) for space, profile in profiles)

    def _fixture_entry(self, space: Space, api_key: str, profile: Profile) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "apiKey": api_key,
            "id": str(uuid.UUID(int=profile.id)),
            "firstSeenAt": format_timestamp(profile.first_seen),
            "lastSeenAt": format_timestamp(profile.last_seen),
            "profile": {
                "externalId": profile.external_id,
                **{n: v for n, v in zip(self._text_fields, profile.text, strict=True) if v is not None},
                **{n: unpack(v) for n, v in zip(self._merge_fields, profile.merged, strict=True) if v is not None},
            },
        }
        journey = self._storage.journey(space, profile.external_id)
        if journey:
            # Oldest first, ties in the order stored: the order that loading restores.
            entry["events"] = [_fixture_event(event) for event in journey]
        held = self._storage.offers(space, profile.external_id)
        if held:
            entry["offers"] = [_fixture_offer(offer) for offer in held]
        return entry


def _fixture_event(event: Event) -> dict[str, Any]:
    """An event as a fixture entry carries it: absolute time and id, so it loads back the same."""
    return {"id": uuid_text(event.id), **event_fields(event)}


def _fixture_offer(offer: Offer) -> dict[str, Any]:
    """An offer as a fixture entry carries it: every field and absolute times, so it loads back the same."""
    entry = {"id": uuid_text(offer.id), "offerType": offer.offer_type, "gameType": offer.game_type,
             "title": offer.title, "description": offer.description, "pointsValue": offer.points_value,
             "metadata": unpack_metadata(offer.metadata), "issuedAt": format_timestamp(offer.issued_at),
             "expiresAt": format_timestamp(offer.expires_at)}
    if offer.claimed_at is not None:
        entry["claimedAt"] = format_timestamp(offer.claimed_at)
    return entry


def _in_issue_order(held: Iterable[Offer]) -> list[Offer]:
    """Oldest issue first; offers issued at one instant in the order stored (sorted is stable)."""
    return sorted(held, key=lambda offer: offer.issued_at)


def _taken(offer_id: int, owner: tuple[Space, str]) -> str:
    return f"id {uuid.UUID(int=offer_id)} is already an offer of externalId {owner[1]!r}"


def _fixture_offer_id(item: LoadItem, number: int, spec: OfferSpec) -> int:
    """The id of a fixture offer given without one, derived as `_fixture_event_id` derives an event's."""
    given = {**asdict(spec), "metadata": unpack_metadata(spec.metadata)}
    key = json.dumps([item.principal.partner_id, item.principal.environment, item.body["externalId"], number, given],
                     sort_keys=True, separators=(",", ":"))
    return uuid.uuid5(_FIXTURE_OFFERS, key).int


def _fixture_event_id(item: LoadItem, number: int, event: LoadEvent) -> int:
    """The id of a fixture event given without one: derived from its user, its place in the entry and
    what it says, so that loading the same fixture again (a restart with --state and --fixtures) finds
    it stored and adds nothing, while a changed or added event is new."""
    key = json.dumps([item.principal.partner_id, item.principal.environment, item.body["externalId"], number,
                      event.body, event.ago], sort_keys=True, separators=(",", ":"))
    return uuid.uuid5(_FIXTURE_EVENTS, key).int
