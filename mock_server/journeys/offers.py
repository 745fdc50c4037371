"""Personalised offers: which ones a user's segment earns, when they are issued, and the claim rules.

Pure: no Flask, no clock and no storage; `now` is an argument (epoch seconds). Documented (the
get-offers and claim-offer pages): the offer's fields, the eight offer types and their triggers, at
most 3 active offers per user, a claim only of an active offer that has not expired, and the claim's
side effects. Inferred, decided here (the docs' rules list stops after its first line):

- Offers are issued when the user's offers are read, for each type the segment triggers at that
  instant, in the `CATALOGUE`'s order (the documented table's).
- A type is not issued while an offer of that type (whatever its status) covers any of the new one's
  period [issued, expires): each type once per lifetime, so a claimed daily spin comes back the next day.
- At most `limit` (the spec's 3) unclaimed offers cover any one instant; checked over the new offer's
  whole period, so the cap holds at every clock value, even after the clock is moved back.
- Expiry follows the clock: unclaimed and now >= expiresAt is "expired", both ways. A claim is final.
- churnRisk = 100 - engagementScore: the user's distance from full engagement.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar

from ..clock import EARLIEST, LATEST
from .engine import DAY, Metrics

ACTIVE, CLAIMED, EXPIRED = "active", "claimed", "expired"
OFFER_CLAIMED = "offer_claimed"  # the documented event type a claim writes on the timeline
CLAIM_CATEGORY = "POINTS"  # its category, not recovered: the event carries points, so POINTS
FIRST_SECOND, LAST_SECOND = int(EARLIEST.timestamp()), int(LATEST.timestamp())  # the mock's time
RETENTION_RISK = 60  # documented: retention_play goes to at-risk users with churn risk >= 60

UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

OFFER_NOT_FOUND = "Offer not found"
NO_LONGER_ACTIVE = "Offer is no longer active"
EXPIRED_MESSAGE = "Offer has expired"


@dataclass(frozen=True, slots=True)
class Offer:
    """One stored offer. Its status is not stored: it follows `claimed_at` and the clock (`status`)."""

    id: int  # the UUID as a 128-bit integer
    offer_type: str
    game_type: str  # "" for an offer without a game
    title: str
    description: str
    points_value: int
    issued_at: int  # epoch seconds: the offer exists from here on
    expires_at: int
    claimed_at: int | None
    metadata: bytes | None  # events.pack_metadata of the offer's metadata: None for {}


class Kind(NamedTuple):
    """What every offer of one type has, unless placed otherwise: its game, words, value and lifetime."""

    game_type: str
    title: str
    description: str
    points_value: int
    lifetime: int  # seconds


CATALOGUE: dict[str, Kind] = {
    # The documented example, word for word.
    "welcome_free_play": Kind("spin_the_wheel", "Welcome Free Spin",
                              "Try a free spin on us — new players get a guaranteed prize!", 50, 7 * DAY),
    "welcome_bonus": Kind("", "Welcome Bonus", "100 bonus points to start your first week.", 100, 7 * DAY),
    "win_back_play": Kind("spin_the_wheel", "Welcome Back Spin",
                          "A high-value free spin, waiting for your return.", 200, 7 * DAY),
    "return_bonus": Kind("", "Return Bonus", "150 bonus points for coming back.", 150, 7 * DAY),
    "retention_play": Kind("mystery_box", "Guaranteed Win", "Open a mystery box: every box wins.", 100, 3 * DAY),
    "vip_play": Kind("slots", "VIP High Stakes", "An exclusive high-stakes game for our top players.", 500, 7 * DAY),
    "multiplier_bonus": Kind("", "Double Points", "Your next game earns double points.", 100, 2 * DAY),
    "daily_free_spin": Kind("spin_the_wheel", "Daily Free Spin", "Today's free spin.", 10, DAY),
}
"""Every offer type, in the documented table's order, which is also the order offers are issued in.
Games, words, values and lifetimes are inferred (except welcome_free_play's, the docs' example: its
7 days match the example's expiresAt)."""


class OfferTimeError(ValueError):
    """A placed offer whose relative time lands outside the mock's time; `field` names the one at fault."""

    def __init__(self, field: str, what: str) -> None:
        super().__init__(f"{what} outside the mock's time ({EARLIEST.date()} to {LATEST.date()}, UTC)")
        self.field = field


class OfferError(Exception):
    """A claim refused: the HTTP status and the documented message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class OfferSpec:
    """An offer placed by QA (a fixture entry, the control API) rather than earned: its type, and
    anything that differs from the catalogue's. Times are epoch seconds."""

    offer_type: str
    id: int | None = None
    game_type: str | None = None
    title: str | None = None
    description: str | None = None
    points_value: int | None = None
    metadata: bytes | None = None  # events.pack_metadata of the metadata
    issued_at: int | None = None  # None: issued_ago seconds before now
    issued_ago: int = 0
    expires_at: int | None = None  # None: expires_in seconds after the issue (or the type's lifetime)
    expires_in: int | None = None
    claimed_at: int | None = None

    def offer(self, offer_id: int, now: int) -> Offer:
        """The offer this places at `now`, with `offer_id` unless it names its own. Raises OfferTimeError
        if a relative time lands outside the mock's time; a lifetime that would is cut at its end."""
        kind = CATALOGUE[self.offer_type]
        issued = now - self.issued_ago if self.issued_at is None else self.issued_at
        if not FIRST_SECOND <= issued <= LAST_SECOND:
            raise OfferTimeError("issuedAgo", "the offer would be issued")
        if self.expires_at is not None:
            expires = self.expires_at
        elif self.expires_in is None:
            expires = min(issued + kind.lifetime, LAST_SECOND)
        else:
            expires = issued + self.expires_in
            if not FIRST_SECOND <= expires <= LAST_SECOND:
                raise OfferTimeError("expiresIn", "the offer would expire")
        return Offer(_given(self.id, offer_id), self.offer_type, _given(self.game_type, kind.game_type),
                     _given(self.title, kind.title), _given(self.description, kind.description),
                     _given(self.points_value, kind.points_value), issued, expires, self.claimed_at, self.metadata)


T = TypeVar("T")


def _given(value: T | None, default: T) -> T:
    return default if value is None else value


def status(offer: Offer, now: int) -> str:
    """claimed (final), else expired once now reaches expiresAt, else active."""
    if offer.claimed_at is not None:
        return CLAIMED
    return EXPIRED if now >= offer.expires_at else ACTIVE


def is_active(offer: Offer, now: int) -> bool:
    """Listed and claimable at `now`: unclaimed, issued by now and not expired."""
    return offer.claimed_at is None and offer.issued_at <= now < offer.expires_at


def churn_risk(metrics: Metrics) -> float:
    """0 (fully engaged) to 100: the engagement score's complement, to one decimal."""
    return round(100 - metrics.engagementScore, 1)


def triggered(metrics: Metrics) -> tuple[str, ...]:
    """The offer types the segment earns, in `CATALOGUE` order (the documented triggers)."""
    stage, tier = metrics.lifecycleStage, metrics.engagementTier
    earned = {
        "welcome_free_play": stage == "new",
        "welcome_bonus": stage == "new",
        "win_back_play": stage == "churned",
        "return_bonus": stage == "churned",
        "retention_play": stage == "at_risk" and churn_risk(metrics) >= RETENTION_RISK,
        "vip_play": tier == "whale",
        "multiplier_bonus": "power_user" in (stage, tier),
        "daily_free_spin": stage == "active" or tier == "regular",
    }
    return tuple(offer_type for offer_type in CATALOGUE if earned[offer_type])


def _overlaps(offer: Offer, start: int, end: int) -> bool:
    return offer.issued_at < end and start < offer.expires_at


def fits(held: Iterable[Offer], candidate: Offer, limit: int) -> bool:
    """Whether `candidate` (unclaimed) keeps at most `limit` unclaimed offers over every instant of its
    period: the count can only rise where an overlapping offer's period starts, so only those instants
    (and the candidate's own start) are checked."""
    start, end = candidate.issued_at, candidate.expires_at
    if candidate.claimed_at is not None or start >= end:
        return True  # never active: nothing to count
    rivals = [o for o in held if o.claimed_at is None and o.id != candidate.id and _overlaps(o, start, end)]
    instants = {start, *(o.issued_at for o in rivals if o.issued_at > start)}
    return all(sum(o.issued_at <= t < o.expires_at for o in rivals) < limit for t in instants)


def offer_of(offer_type: str, offer_id: int, issued_at: int) -> Offer:
    """A fresh offer of a type, as the catalogue has it; near the end of the mock's time, its lifetime
    is cut there (an expiry past year 9999 could not be written)."""
    kind = CATALOGUE[offer_type]
    return Offer(offer_id, offer_type, kind.game_type, kind.title, kind.description, kind.points_value,
                 issued_at, _expiry(kind, issued_at), None, None)


def _expiry(kind: Kind, issued_at: int) -> int:
    return min(issued_at + kind.lifetime, LAST_SECOND)


def issue(held: Sequence[Offer], metrics: Metrics, now: int, limit: int,
          new_id: Callable[[], int] = lambda: uuid.uuid4().int) -> list[Offer]:
    """The offers to issue at `now` to a user holding `held`, whose segment now is `metrics`."""
    issued: list[Offer] = []
    for offer_type in triggered(metrics):
        # The de-dup check first, on the period alone: building the candidate for every triggered
        # type took 40,000 of the 71,000 instructions of a read that issues nothing.
        end = _expiry(CATALOGUE[offer_type], now)
        if any(o.offer_type == offer_type and _overlaps(o, now, end) for offers in (held, issued) for o in offers):
            continue
        candidate = offer_of(offer_type, 0, now)
        if fits((*held, *issued), candidate, limit):
            issued.append(replace(candidate, id=new_id()))
    return issued


def find(held: Iterable[Offer], offer_id: str, now: int) -> Offer:
    """The claimable offer `offer_id` names among `held`, or the documented refusal."""
    # Only the canonical text names an offer (either case, as RFC 9562 reads it): Python's UUID() also
    # takes braces, a urn: prefix or no hyphens, which the spec's "not a UUID is 404" rules out.
    wanted = uuid.UUID(offer_id).int if UUID_TEXT.fullmatch(offer_id) else None
    found = next((o for o in held if o.id == wanted and o.issued_at <= now), None)
    if found is None:
        raise OfferError(404, OFFER_NOT_FOUND)
    if found.claimed_at is not None:
        raise OfferError(400, NO_LONGER_ACTIVE)
    if now >= found.expires_at:
        raise OfferError(400, EXPIRED_MESSAGE)
    return found
