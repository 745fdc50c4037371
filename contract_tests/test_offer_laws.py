"""The offer laws, as a Hypothesis state machine over the public API and the mock's clock.

Any sequence of reads of two users' offers, claims (of their own offers, of each other's, of ids no
offer has, under other keys), batches of plays that move a user's segment, and moves of the clock
(forward, back, to the second an offer expires or was issued) keeps the rules. Documented, so they
always fail the run: a list holds at most 3 offers, each active, unexpired and the user's own; a
claim of an active offer answers it `claimed` with `claimedAt` the clock's now and puts an
`offer_claimed` event carrying its `pointsValue` on the timeline; claiming it again answers 400
"Offer is no longer active"; an expired one 400 "Offer has expired"; an unknown id or another user's
offer 404 "Offer not found". Inferred (the spec's x-inferred), so they fail the in-process run and
warn where breaches of inferred rules warn (a --base-url run, unless --inferred fail): the 200s, offers
issued when a list is read, a list holding every active offer, an offer out of sight (404) while the
clock is before its issue, which message wins for an offer both claimed and expired, a malformed id
answered 404, the event's time and metadata, and what the control API lists.

The clock is moved with the mock's control API (`POST /__mock/clock`), and put back as it was found;
a target without one (a real GamifyHost server) cannot be tested this way, and the test is skipped
with that reason. Where the control API also lists a user's offers in every status
(`GET /__mock/offers`), the model is checked against it too: at most 3 offers active at now, and at
most 3 unclaimed offers covering any instant, so that no move of the clock can reveal a fourth.
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from .laws import answered, environment_of, fresh_id, law, law_settings, needs_writes
from .schema import MAX_ACTIVE_OFFERS
from .target import ApiClient, Exchange, Target
from .test_journey_laws import MAX_LIMIT, OFFER_NOT_FOUND, at_second, check_claim_refused

DAY = 86400
NOT_FOUND, NO_LONGER_ACTIVE, EXPIRED = OFFER_NOT_FOUND, "Offer is no longer active", "Offer has expired"
CLAIM_EVENT = "offer_claimed"
NEVER_LISTED_AGAIN = "a claimed offer leaves the list, which holds only active offers"
CLAIM_EVENT_RULE = f"each claim puts one {CLAIM_EVENT} event with the offer's pointsValue on the timeline"
# What an offer is, as the list and the claim answer it; status and claimedAt follow the claim.
KEPT = ["id", "externalId", "offerType", "gameType", "title", "description", "pointsValue", "expiresAt",
        "metadata"]
# The clock starts somewhere in 2025-2027; moves are those the offers' lifetimes (1-7 days) and the
# segments' windows (7, 14, 30 days) make interesting, and some in between.
START = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
MOVES = st.one_of(
    st.sampled_from([1, 3600, DAY - 1, DAY, 2 * DAY, 3 * DAY, 7 * DAY, 8 * DAY, 15 * DAY, 31 * DAY,
                     -1, -3600, -DAY, -3 * DAY, -8 * DAY]),
    st.integers(-8 * DAY, 32 * DAY))
# Plays that reach each tier and stage: 5 regular, 15 and 30 power user (with points enough for a
# score of 70), 51 whale; played now or days ago.
PLAYS = st.sampled_from([1, 5, 15, 30, 51])
PLAY_POINTS = st.sampled_from([0, 10, 50])
PLAYED_AGO = st.sampled_from([0, 0, DAY, 10 * DAY, 20 * DAY])
FIRST_PLAYS = st.sampled_from([15, 51, 0, 5])
# The seconds around an offer's life: before and at its issue, before, at and after its expiry.
MOMENTS = [("issue", -1), ("issue", 0), ("expiry", -1), ("expiry", 0), ("expiry", 1)]


def instant(text: str) -> int:
    """Epoch seconds of an RFC 3339 time, to the second."""
    return int(at_second(text).timestamp())


def rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Seen:
    """An offer the model knows: whose it is, what it was answered as, and when it was issued and claimed."""

    owner: str
    kept: dict[str, Any]  # the KEPT fields as first answered
    issued_at: int  # the control API's issuedAt, else the clock when a list first held it
    claimed_at: int | None = None

    @property
    def expires_at(self) -> int:
        return instant(self.kept["expiresAt"])

    def status(self, now: int) -> str:
        if self.claimed_at is not None:
            return "claimed"
        return "expired" if now >= self.expires_at else "active"

    def active(self, now: int) -> bool:
        """Listed and claimable now: unclaimed, issued and not expired."""
        return self.claimed_at is None and self.issued_at <= now < self.expires_at


@dataclass(frozen=True)
class Outcome:
    """The answer a claim must get: the rule that says so, the status and message, and whether each
    rests on an inferred rule."""

    rule: str
    status: int
    message: str | None = None  # None: a 200
    status_inferred: bool = False
    message_inferred: bool = False


NOT_YOURS = f'an unknown offer id, or another user\'s offer, is 404 "{NOT_FOUND}"'
NOT_A_UUID = f'an offer id that is not a UUID is 404 "{NOT_FOUND}"'
NOT_YET = f'an offer is out of sight while the clock is before its issue: 404 "{NOT_FOUND}"'
CLAIMED_ONCE = f'a claimed offer is no longer active: claiming it again is 400 "{NO_LONGER_ACTIVE}"'
CLAIMED_THEN_EXPIRED = f'a claimed offer is no longer active, even once expired: 400 "{NO_LONGER_ACTIVE}"'
EXPIRED_REFUSED = f'an expired offer cannot be claimed: 400 "{EXPIRED}"'
ACTIVE_CLAIMED = "a claim of an active, unexpired offer of the user succeeds"


def expected_claim(seen: Seen | None, claimant: str, now: int, malformed: bool = False) -> Outcome:
    """What a claim by `claimant` at `now` of the offer `seen` (None: no offer has the id) must get.

    Documented: an unknown id or another user's offer is 404 "Offer not found"; a claimed offer is
    400 "Offer is no longer active"; an expired one 400 "Offer has expired"; an active one succeeds.
    Inferred: an id that is no UUID is 404 too; an offer claimed and since expired answers "no longer
    active"; an offer issued after now (the clock was moved back) is out of sight, 404.
    """
    if seen is None or seen.owner != claimant:
        return Outcome(NOT_A_UUID if malformed else NOT_YOURS, 404, NOT_FOUND, malformed, malformed)
    if now < seen.issued_at:
        return Outcome(NOT_YET, 404, NOT_FOUND, True, True)
    if seen.claimed_at is not None:
        if now >= seen.expires_at:
            return Outcome(CLAIMED_THEN_EXPIRED, 400, NO_LONGER_ACTIVE, message_inferred=True)
        return Outcome(CLAIMED_ONCE, 400, NO_LONGER_ACTIVE)
    if now >= seen.expires_at:
        return Outcome(EXPIRED_REFUSED, 400, EXPIRED)
    return Outcome(ACTIVE_CLAIMED, 200)


def most_covering(periods: list[tuple[int, int]]) -> int:
    """The most of the [start, end) periods that cover any one instant."""
    starts = [(start, 1) for start, end in periods if start < end]
    ends = [(end, -1) for start, end in periods if start < end]
    most = covering = 0
    for _, step in sorted(starts + ends):  # at a tie the end (-1) comes first: periods are half-open
        covering += step
        most = max(most, covering)
    return most


@dataclass
class Clock:
    """The mock's clock through its control API; `now` is where this law last put it."""

    api: ApiClient
    target: Target
    now: int = 0
    found: dict[str, Any] = field(default_factory=dict)

    def set(self, body: dict[str, Any]) -> None:
        exchange = self.api.control("POST", "clock", body=body)
        state = answered(self.target, exchange, "the mock's control API moves its clock", inferred=True)
        self.now = instant(state["now"])

    def freeze(self, at: int) -> None:
        self.set({"action": "freeze", "at": rfc3339(at)})

    def advance(self, seconds: int) -> None:
        self.set({"action": "advance", "seconds": seconds})

    def restore(self) -> None:
        """Back as it was found: frozen at its time, or running with its offset."""
        if self.found.get("frozen"):
            self.set({"action": "freeze", "at": self.found["now"]})
        else:
            self.set({"action": "real"})
            if self.found.get("offsetSeconds"):
                self.set({"action": "advance", "seconds": self.found["offsetSeconds"]})


def mock_clock(target: Target, api: ApiClient) -> Clock | None:
    """The target's clock, if it has the mock's control API; None otherwise."""
    exchange = api.control("GET", "clock")
    data = exchange.body.get("data") if exchange.status == 200 and isinstance(exchange.body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("now"), str):
        return None
    return Clock(api, target, instant(data["now"]), data)


def lists_every_offer(api: ApiClient, partner_id: str, key: str, external_id: str) -> bool:
    """Whether the control API lists a user's offers in every status (GET /__mock/offers)."""
    exchange = api.control("GET", "offers", query={"partnerId": partner_id, "environment": environment_of(key),
                                                   "externalId": external_id})
    data = exchange.body.get("data") if exchange.status == 200 and isinstance(exchange.body, dict) else None
    return isinstance(data, dict) and isinstance(data.get("offers"), list)


def whole_timeline_of(api: ApiClient, external_id: str, key: str) -> tuple[list[dict[str, Any]], Exchange]:
    """Every event of a user's timeline, read page by page, and the exchange of the last page."""
    events: list[dict[str, Any]] = []
    number = 1
    while True:
        exchange = api.timeline(external_id, key, page=number, limit=MAX_LIMIT)
        page = exchange.body.get("data") if exchange.status == 200 and isinstance(exchange.body, dict) else None
        if not isinstance(page, dict) or not page.get("events"):
            return events, exchange
        events += page["events"]
        if number * MAX_LIMIT >= page.get("total", 0):
            return events, exchange
        number += 1


def _listed(counted: Counter[Any]) -> list[Any]:
    """What a Counter counts, each as many times as counted, in an order that does not depend on the answer's."""
    return sorted(counted.elements(), key=lambda item: (len(repr(item)), repr(item)))


def _offer_named(event: dict[str, Any]) -> Any:
    metadata = event.get("metadata")
    return metadata.get("offerId") if isinstance(metadata, dict) else None


def test_offer_sequences_follow_the_laws(target: Target, api: ApiClient):
    found = mock_clock(target, api)
    if found is None:
        pytest.skip("the offer laws move the mock's clock, and the target has no control API "
                    "(POST /__mock/clock): it is not the mock, or the mock runs with --no-control-api")
    needs_writes(target, target.api_key)
    clock = found
    key = target.api_key
    other_keys = tuple(other for other in target.other_api_keys if target.may_write(other))  # they claim
    listing = lists_every_offer(api, answered(target, api.track({"externalId": target.known_user}, key),
                                              "a valid upsert is answered 200 with the profile")["partnerId"],
                                key, target.known_user)

    class Offers(RuleBasedStateMachine):
        offers = Bundle("offers")

        def __init__(self) -> None:
            super().__init__()
            self.users: list[str] = []
            self.partner_id = ""
            self.seen: dict[str, Seen] = {}
            self.claim_events: dict[str, Counter[tuple[int, int, str]]] = {}

        @initialize(target=offers, start=st.integers(0, 3 * 365 * DAY), plays=FIRST_PLAYS)
        def two_new_users(self, start: int, plays: int) -> Any:
            """Two users tracked at a frozen instant and their first offers read; then, often, the first
            user plays at once, and the next read adds what that segment earns to the welcome offers."""
            clock.freeze(START + start)
            for _ in range(2):
                external_id = fresh_id(target, "offers")
                profile = answered(target, api.track({"externalId": external_id}, key),
                                   "a valid upsert is answered 200 with the profile")
                self.partner_id = profile["partnerId"]
                self.users.append(external_id)
                self.claim_events[external_id] = Counter()
            first = [*self._read(0), *self._read(1)]
            return multiple(*first, *(self.play(0, plays, 10, 0).values if plays else ()))

        @rule(target=offers, user=st.integers(0, 1))
        def read(self, user: int) -> Any:
            return multiple(*self._read(user))

        def _read(self, user: int) -> list[str]:
            """The list: at most 3 offers, each active and the user's; every active offer the model knows.
            Then, where the control API lists every offer, the model against that list (the new ones' issue)."""
            external_id, now = self.users[user], clock.now
            exchange = api.offers(external_id, key)
            listed = answered(target, exchange, "a user's offers are answered 200", "offers", inferred=True)
            law(target, len(listed) <= MAX_ACTIVE_OFFERS,
                f"a user has at most {MAX_ACTIVE_OFFERS} active offers at a time", exchange,
                f"at most {MAX_ACTIVE_OFFERS} offers", len(listed))
            new = []
            for offer in listed:
                self._check_listed(offer, external_id, now, exchange)
                if offer["id"] not in self.seen:
                    self.seen[offer["id"]] = Seen(external_id, {name: offer.get(name) for name in KEPT}, now)
                    new.append(offer["id"])
            ids = {offer["id"] for offer in listed}
            missing = sorted(offer_id for offer_id, seen in self.seen.items()
                             if seen.owner == external_id and seen.active(now) and offer_id not in ids)
            law(target, not missing, "the list holds every active offer of the user", exchange, "listed", missing,
                inferred=True)
            if listing:
                self._check_every_offer(external_id, now)
            return new

        def _check_listed(self, offer: dict[str, Any], external_id: str, now: int, exchange: Exchange) -> None:
            seen = self.seen.get(offer["id"])
            law(target, seen is None or seen.claimed_at is None, NEVER_LISTED_AGAIN, exchange, "not listed", offer)
            state = (offer.get("externalId"), offer.get("status"), offer.get("claimedAt"))
            law(target, state == (external_id, "active", None),
                "a user's list holds only their own active offers, unclaimed", exchange,
                (external_id, "active", None), state)
            law(target, instant(offer["expiresAt"]) > now, "a user's list holds only offers that have not expired",
                exchange, f"expiresAt after {rfc3339(now)}", offer["expiresAt"])
            if seen is None:
                return
            law(target, seen.owner == external_id, "an offer belongs to one user", exchange, seen.owner, external_id)
            law(target, seen.issued_at <= now, "an offer is out of sight while the clock is before its issue",
                exchange, f"not listed before {rfc3339(seen.issued_at)}", offer, inferred=True)
            kept = {name: offer.get(name) for name in KEPT}
            law(target, kept == seen.kept, "an offer keeps what it is from one answer to the next", exchange,
                seen.kept, kept, inferred=True)

        @rule(offer_id=offers, mine=st.booleans())
        def claim(self, offer_id: str, mine: bool) -> None:
            """An offer the model knows, claimed by its owner or by the other user."""
            owner = self.seen[offer_id].owner
            claimant = owner if mine else next(user for user in self.users if user != owner)
            self._claim(claimant, offer_id)

        @rule(offer_id=offers)
        def claim_twice(self, offer_id: str) -> None:
            """A double click: the owner claims the offer, then at once again."""
            self.claim(offer_id, True)
            self.claim(offer_id, True)

        @rule(user=st.integers(0, 1), malformed=st.booleans())
        def claim_unknown(self, user: int, malformed: bool) -> None:
            """An id that names no offer: a fresh UUID, or text that is no UUID at all."""
            self._claim(self.users[user], "not-an-offer" if malformed else str(uuid.uuid4()), malformed)

        @precondition(lambda self: bool(other_keys))
        @rule(offer_id=offers, index=st.integers(0, 1))
        def claim_under_another_key(self, offer_id: str, index: int) -> None:
            """Another environment or partner can never claim the offer: for it the user does not exist."""
            other = other_keys[index % len(other_keys)]
            check_claim_refused(target, api, self.seen[offer_id].owner, offer_id, key, other)

        def _claim(self, claimant: str, offer_id: str, malformed: bool = False) -> None:
            now, seen = clock.now, self.seen.get(offer_id)
            expected = expected_claim(seen, claimant, now, malformed)
            exchange = api.claim(claimant, offer_id, key)
            when = (f"offer {offer_id} of {seen.owner if seen else 'no one'} claimed by {claimant} at "
                    f"{rfc3339(now)}" + (f", {seen.status(now)}, issued {rfc3339(seen.issued_at)}" if seen else ""))
            if expected.status != 200:
                law(target, exchange.status == expected.status, f"{expected.rule} ({when})",
                    exchange, expected.status, exchange.status, expected.status_inferred)
                message = exchange.body.get("message") if isinstance(exchange.body, dict) else None
                law(target, message == expected.message, f"{expected.rule} ({when})",
                    exchange, expected.message, message, expected.message_inferred)
                return
            assert seen is not None
            law(target, 200 <= exchange.status < 300, f"{expected.rule} ({when})", exchange, 200, exchange.status)
            offer = answered(target, exchange, "a claim is answered 200 with the offer", "offer", inferred=True)
            state = (offer.get("status"), offer.get("claimedAt") and instant(offer["claimedAt"]))
            law(target, state == ("claimed", now), f"a claimed offer is claimed, at the claim's instant: {when}",
                exchange, ("claimed", rfc3339(now)), (offer.get("status"), offer.get("claimedAt")))
            kept = {name: offer.get(name) for name in KEPT}
            law(target, kept == seen.kept, "a claim answers the offer it claimed", exchange, seen.kept, kept)
            seen.claimed_at = now
            self.claim_events[claimant][(seen.kept["pointsValue"], now, offer_id)] += 1
            self._check_timeline(claimant)

        def _check_timeline(self, external_id: str) -> None:
            """Each successful claim put one offer_claimed event with the offer's pointsValue on the timeline."""
            events, exchange = whole_timeline_of(api, external_id, key)
            present = Counter((event.get("points"), instant(event["occurredAt"]), _offer_named(event))
                              for event in events if event.get("eventType") == CLAIM_EVENT)
            expected = self.claim_events[external_id]
            points = Counter(value for value, _, _ in expected.elements())
            received = Counter(value for value, _, _ in present.elements())
            law(target, received == points, CLAIM_EVENT_RULE, exchange, _listed(points), _listed(received))
            law(target, present == expected, f"an {CLAIM_EVENT} event is at the claim's instant and names the offer "
                "in metadata.offerId", exchange, _listed(expected), _listed(present), inferred=True)

        @rule(target=offers, user=st.integers(0, 1), count=PLAYS, points=PLAY_POINTS, ago=PLAYED_AGO)
        def play(self, user: int, count: int, points: int, ago: int) -> Any:
            """Plays move the user's tier and stage; the read after them issues what the segment earns now."""
            at = rfc3339(clock.now - ago)
            batch = [{"externalId": self.users[user], "category": "GAME_PLAY", "eventType": "offer_law_play",
                      "points": points, "occurredAt": at}] * count
            answered(target, api.track_events(batch, key), "a valid batch is answered 200 with its events",
                     inferred=True)
            return multiple(*self._read(user))

        @rule(seconds=MOVES)
        def move_clock(self, seconds: int) -> None:
            clock.advance(seconds)

        @rule(offer_id=offers, moment=st.sampled_from(MOMENTS), mine=st.booleans())
        def claim_at_an_edge(self, offer_id: str, moment: tuple[str, int], mine: bool) -> None:
            """The clock to the second an offer was issued or expires, or the one before or after; a claim then."""
            seen = self.seen[offer_id]
            clock.freeze((seen.issued_at if moment[0] == "issue" else seen.expires_at) + moment[1])
            self.claim(offer_id, mine)

        def _check_every_offer(self, external_id: str, now: int) -> None:
            """The control API's listing: the model's offers in their statuses, at most 3 active now or ever."""
            exchange = api.control("GET", "offers", query={
                "partnerId": self.partner_id, "environment": environment_of(key), "externalId": external_id})
            stored = answered(target, exchange, "the control API lists a user's offers", "offers", inferred=True)
            active = [o["id"] for o in stored if o.get("status") == "active" and instant(o["issuedAt"]) <= now]
            law(target, len(active) <= MAX_ACTIVE_OFFERS,
                f"a user has at most {MAX_ACTIVE_OFFERS} active offers at a time", exchange,
                f"at most {MAX_ACTIVE_OFFERS} active", active)
            unclaimed = [(instant(o["issuedAt"]), instant(o["expiresAt"]))
                         for o in stored if o.get("claimedAt") is None]
            law(target, most_covering(unclaimed) <= MAX_ACTIVE_OFFERS,
                f"a user has at most {MAX_ACTIVE_OFFERS} active offers at a time, whatever the clock: at most "
                f"{MAX_ACTIVE_OFFERS} unclaimed offers cover any instant",
                exchange, f"at most {MAX_ACTIVE_OFFERS}", most_covering(unclaimed), inferred=True)
            expected = {offer_id: (seen.status(now), seen.claimed_at, seen.issued_at)
                        for offer_id, seen in self.seen.items() if seen.owner == external_id}
            received = {o["id"]: (o.get("status"), o.get("claimedAt") and instant(o["claimedAt"]),
                                  instant(o["issuedAt"])) for o in stored}
            law(target, received == expected, "every offer issued was listed when issued, and is as the model has it "
                "(status, claimedAt, issuedAt)", exchange, expected, received, inferred=True)

    try:
        run_state_machine_as_test(Offers, settings=law_settings(
            target, max(10, target.max_examples // 4), stateful_step_count=20))
    finally:
        clock.restore()
