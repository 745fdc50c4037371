"""The offer rules: the pure functions in journeys/offers.py with plain values, then a model-based
machine over the store (reads, claims, QA placements and clock moves both ways)."""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mock_server.auth import Principal
from mock_server.clock import Clock
from mock_server.journeys import offers
from mock_server.journeys.engine import DAY, Metrics
from mock_server.journeys.memory import MemoryStorage
from mock_server.journeys.offers import CATALOGUE, Offer, OfferError, OfferSpec
from mock_server.journeys.profiles import OfferConflict, ProfileStore
from mock_server.journeys.storage import ProfileFields
from mock_server.spec import load_contract
from mock_server.state import offer_limit

LIMIT = offer_limit(load_contract())
FIELDS = ProfileFields(("displayName",), ("tags", "metadata"))
NOW = 1_750_000_000


def metrics(stage: str = "active", tier: str = "casual", score: float = 50.0) -> Metrics:
    return Metrics(stage, tier, score, 0, 0, 0, 0, 0, 0, 0.0, 0)


def offer(offer_type: str = "daily_free_spin", issued: int = NOW, expires: int | None = None,
          claimed: int | None = None, ident: int = 1) -> Offer:
    return replace(offers.offer_of(offer_type, ident, issued), claimed_at=claimed,
                   **({} if expires is None else {"expires_at": expires}))


def test_the_spec_caps_active_offers_at_three():
    assert LIMIT == 3


def test_the_catalogue_is_the_spec_offer_type_enum_in_documented_order():
    enum = load_contract().resolve("#/components/schemas/OfferType")["enum"]
    assert list(CATALOGUE) == enum == ["welcome_free_play", "welcome_bonus", "win_back_play", "return_bonus",
                                       "retention_play", "vip_play", "multiplier_bonus", "daily_free_spin"]


def test_the_welcome_free_play_is_the_documented_example():
    kind = CATALOGUE["welcome_free_play"]
    assert kind == ("spin_the_wheel", "Welcome Free Spin",
                    "Try a free spin on us — new players get a guaranteed prize!", 50, 7 * DAY)


@pytest.mark.parametrize(("stage", "tier", "score", "expected"), [
    ("new", "casual", 0, ("welcome_free_play", "welcome_bonus")),
    ("churned", "casual", 5, ("win_back_play", "return_bonus")),
    ("at_risk", "casual", 40, ("retention_play",)),  # churn risk 60: the documented threshold is inclusive
    ("at_risk", "casual", 40.1, ()),  # churn risk 59.9
    ("at_risk", "regular", 20, ("retention_play", "daily_free_spin")),
    ("power_user", "whale", 90, ("vip_play", "multiplier_bonus")),
    ("engaged", "power_user", 60, ("multiplier_bonus",)),
    ("engaged", "regular", 60, ("daily_free_spin",)),
    ("active", "casual", 30, ("daily_free_spin",)),
    ("engaged", "casual", 30, ()),
])
def test_triggers_follow_the_documented_table(stage: str, tier: str, score: float, expected: tuple[str, ...]):
    assert offers.triggered(metrics(stage, tier, score)) == expected


def test_churn_risk_is_the_score_complement():
    assert offers.churn_risk(metrics(score=62.5)) == 37.5
    assert offers.churn_risk(metrics(score=0)) == 100


def test_status_follows_claim_then_clock():
    held = offer(issued=NOW, expires=NOW + DAY)
    assert offers.status(held, NOW + DAY - 1) == "active"
    assert offers.status(held, NOW + DAY) == "expired"
    assert offers.status(held, NOW - 10) == "active"  # not issued yet: out of sight, but not expired
    assert not offers.is_active(held, NOW - 10)
    assert offers.status(replace(held, claimed_at=NOW + 5), NOW + 2 * DAY) == "claimed"


def test_issue_gives_each_triggered_type_once_with_its_lifetime():
    issued = offers.issue([], metrics("new"), NOW, LIMIT, iter([11, 12]).__next__)
    assert [(o.id, o.offer_type, o.issued_at, o.expires_at, o.claimed_at) for o in issued] == [
        (11, "welcome_free_play", NOW, NOW + 7 * DAY, None), (12, "welcome_bonus", NOW, NOW + 7 * DAY, None)]
    assert offers.issue(issued, metrics("new"), NOW + 6 * DAY, LIMIT) == []


def test_a_claimed_type_comes_back_only_after_its_period():
    claimed = offer("daily_free_spin", NOW, claimed=NOW + 60)
    assert offers.issue([claimed], metrics("active"), NOW + DAY - 1, LIMIT) == []
    again = offers.issue([claimed], metrics("active"), NOW + DAY, LIMIT, lambda: 7)
    assert [(o.id, o.issued_at) for o in again] == [(7, NOW + DAY)]


def test_the_cap_holds_over_the_new_offers_whole_period():
    held = [offer("welcome_free_play", NOW, ident=1), offer("welcome_bonus", NOW, ident=2),
            offer("vip_play", NOW + DAY // 2, ident=3)]  # three unclaimed offers cover NOW + half a day
    assert offers.issue(held, metrics("active"), NOW, LIMIT) == []  # the daily spin would be a fourth then
    assert [o.offer_type for o in offers.issue(held, metrics("active"), NOW + 7 * DAY, LIMIT)] == ["daily_free_spin"]
    claimed = [replace(held[0], claimed_at=NOW), *held[1:]]
    assert [o.offer_type for o in offers.issue(claimed, metrics("active"), NOW, LIMIT)] == ["daily_free_spin"]


def test_fits_ignores_offers_that_are_never_active():
    held = [offer(ident=i, issued=NOW, expires=NOW + DAY) for i in range(3)]
    assert not offers.fits(held, offer(ident=9, issued=NOW + 10, expires=NOW + 20), LIMIT)
    assert offers.fits(held, offer(ident=9, issued=NOW + DAY, expires=NOW + 2 * DAY), LIMIT)
    assert offers.fits(held, offer(ident=9, issued=NOW, expires=NOW), LIMIT)  # expired from the start
    assert offers.fits(held, offer(ident=9, issued=NOW, claimed=NOW), LIMIT)
    assert offers.fits(held, replace(held[0], title="same id, replaced"), LIMIT)


@pytest.mark.parametrize(("wanted", "now", "status", "message"), [
    ("not-a-uuid", NOW, 404, "Offer not found"),
    (str(uuid.UUID(int=2)), NOW, 404, "Offer not found"),
    (str(uuid.UUID(int=1)), NOW - 1, 404, "Offer not found"),  # issued after now: not there yet
    (str(uuid.UUID(int=1)), NOW + DAY, 400, "Offer has expired"),
])
def test_find_refuses_as_documented(wanted: str, now: int, status: int, message: str):
    with pytest.raises(OfferError) as refused:
        offers.find([offer(issued=NOW, expires=NOW + DAY)], wanted, now)
    assert (refused.value.status, refused.value.message) == (status, message)


def test_a_claimed_offer_is_no_longer_active_even_once_expired():
    with pytest.raises(OfferError) as refused:
        offers.find([offer(issued=NOW, expires=NOW + DAY, claimed=NOW)], str(uuid.UUID(int=1)), NOW + 2 * DAY)
    assert (refused.value.status, refused.value.message) == (400, "Offer is no longer active")


def test_find_takes_the_canonical_uuid_text_in_either_case_only():
    held = offer(issued=NOW, ident=0xA1B2C3D4E5F67890ABCDEF1234567890)
    assert offers.find([held], "A1B2C3D4-E5F6-7890-ABCD-EF1234567890", NOW) == held
    for other in ("{a1b2c3d4-e5f6-7890-abcd-ef1234567890}", "urn:uuid:a1b2c3d4-e5f6-7890-abcd-ef1234567890",
                  "a1b2c3d4e5f67890abcdef1234567890", "a1b2c3d4-e5f6-7890-abcd-ef1234567890\n"):
        with pytest.raises(OfferError, match="Offer not found"):
            offers.find([held], other, NOW)


@given(st.lists(st.tuples(st.integers(0, 10), st.integers(1, 10), st.booleans()), max_size=8),
       st.integers(0, 10), st.integers(1, 10))
def test_fits_matches_a_count_at_every_instant(periods: list[tuple[int, int, bool]], start: int, length: int):
    held = [offer(ident=i, issued=s, expires=s + n, claimed=0 if c else None) for i, (s, n, c) in enumerate(periods)]
    candidate = offer(ident=99, issued=start, expires=start + length)
    by_hand = all(sum(o.claimed_at is None and o.issued_at <= t < o.expires_at for o in held) < LIMIT
                  for t in range(start, start + length))
    assert offers.fits(held, candidate, LIMIT) == by_hand


def test_a_placed_offer_takes_what_it_does_not_say_from_the_catalogue():
    placed = OfferSpec("vip_play", points_value=7, issued_ago=DAY, expires_in=-60).offer(5, NOW)
    assert placed == Offer(5, "vip_play", "slots", CATALOGUE["vip_play"].title, CATALOGUE["vip_play"].description, 7,
                           NOW - DAY, NOW - DAY - 60, None, None)


START = datetime(2025, 6, 1, tzinfo=UTC)
PRINCIPAL = Principal("partner-a", "TEST", "pk_test_a")


class OfferMachine(RuleBasedStateMachine):
    """Reads, claims, placements and clock moves against the store; a model of every offer it has seen
    (by id) checks each answer, and the cap is checked at every instant an offer starts."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock(frozen_at=START)
        self.store = ProfileStore(self.clock, FIELDS, MemoryStorage(), LIMIT)
        self.store.upsert(PRINCIPAL, {"externalId": "u"})
        self.known: dict[int, Offer] = {}
        self.claims = 0

    @property
    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def _everything(self) -> list[Offer]:
        listing = self.store.offer_listing(PRINCIPAL.space, "u")
        assert listing is not None
        return listing.offers

    @rule(days=st.integers(-20, 40), seconds=st.integers(0, DAY))
    def move_clock(self, days: int, seconds: int) -> None:
        self.clock.freeze(self.clock.now() + timedelta(days=days, seconds=seconds))

    @rule(plays=st.integers(1, 60), days_ago=st.integers(0, 40), campaign=st.booleans())
    def play(self, plays: int, days_ago: int, campaign: bool) -> None:
        at = self.now - days_ago * DAY
        bodies: list[dict[str, Any]] = [{"externalId": "u", "category": "GAME_PLAY", "eventType": "spin", "points": 5,
                                         "occurredAt": datetime.fromtimestamp(at, UTC).isoformat()}] * plays
        if campaign:
            bodies.append({**bodies[0], "category": "CAMPAIGN", "metadata": {"campaignSlug": "summer"}})
        self.store.track(PRINCIPAL, bodies)

    @rule()
    def read(self) -> None:
        before = {o.id for o in self._everything()}
        held = self.store.offers(PRINCIPAL, "u")
        assert held is not None
        everything = self._everything()
        issued = [o for o in everything if o.id not in before]
        assert all(o.issued_at == self.now and o.claimed_at is None for o in issued)
        assert held.offers == sorted((o for o in everything if offers.is_active(o, self.now)),
                                     key=lambda o: o.issued_at)
        assert len(held.offers) <= LIMIT
        # Every type the segment triggers is now held over this instant, or there was no room for it.
        snapshot = self.store.read(PRINCIPAL, "u")
        assert snapshot is not None
        for offer_type in offers.triggered(snapshot.metrics):
            would_be = offers.offer_of(offer_type, 0, self.now)
            covered = any(o.offer_type == offer_type and o.issued_at < would_be.expires_at
                          and self.now < o.expires_at for o in everything)
            assert covered or not offers.fits(everything, would_be, LIMIT)
        self.known.update({o.id: o for o in everything})

    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        choices = [str(uuid.UUID(int=i)) for i in self.known] + ["nope", str(uuid.uuid4())]
        wanted = data.draw(st.sampled_from(choices))
        model = self.known.get(uuid.UUID(wanted).int) if wanted != "nope" else None
        if model is None or model.issued_at > self.now:
            expected: tuple[int, str] | None = (404, "Offer not found")
        elif model.claimed_at is not None:
            expected = (400, "Offer is no longer active")
        elif self.now >= model.expires_at:
            expected = (400, "Offer has expired")
        else:
            expected = None
        events_before = self.store.counts().events
        try:
            claimed = self.store.claim(PRINCIPAL, "u", wanted)
        except OfferError as refused:
            assert (refused.status, refused.message) == expected
            assert self.store.counts().events == events_before
            return
        assert expected is None and model is not None
        assert claimed == replace(model, claimed_at=self.now)
        self.known[claimed.id] = claimed
        page = self.store.timeline(PRINCIPAL, "u", 0, 10_000)
        assert page is not None
        written = [e for e in page[0] if e.event_type == "offer_claimed" and e.occurred_at == self.now
                   and e.points == model.points_value and e.category == "POINTS"]
        assert written, "no offer_claimed event with the offer's points"
        self.claims += 1

    @rule(offer_type=st.sampled_from(list(CATALOGUE)), issued=st.integers(-10, 10), length=st.integers(-2, 10),
          claimed=st.booleans())
    def place(self, offer_type: str, issued: int, length: int, claimed: bool) -> None:
        spec = OfferSpec(offer_type, issued_ago=-issued * DAY, expires_in=length * DAY,
                         claimed_at=self.now if claimed else None)
        candidate = spec.offer(0, self.now)
        fits = offers.fits(self._everything(), candidate, LIMIT)
        try:
            placed = self.store.put_offer(PRINCIPAL, "u", spec)
        except OfferConflict:
            assert not fits
            return
        assert fits and placed is not None
        self.known[placed.id] = placed

    @invariant()
    def never_more_than_the_cap_active(self) -> None:
        everything = self._everything()
        for instant in {self.now, *(o.issued_at for o in everything)}:
            assert sum(offers.is_active(o, instant) for o in everything) <= LIMIT

    @invariant()
    def the_model_matches_the_store(self) -> None:
        stored = {o.id: o for o in self._everything()}
        assert {i: o for i, o in self.known.items()} == {i: stored[i] for i in self.known}


OfferMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
TestOfferMachine = OfferMachine.TestCase


def test_an_offer_placed_on_another_users_id_is_refused():
    store = ProfileStore(Clock(frozen_at=START), FIELDS, MemoryStorage(), LIMIT)
    for name in ("a", "b"):
        store.upsert(PRINCIPAL, {"externalId": name})
    placed = store.put_offer(PRINCIPAL, "a", OfferSpec("vip_play"))
    assert placed is not None
    with pytest.raises(OfferConflict, match="is already an offer of externalId 'a'"):
        store.put_offer(PRINCIPAL, "b", OfferSpec("vip_play", id=placed.id))
    assert store.put_offer(PRINCIPAL, "nobody", OfferSpec("vip_play")) is None


def test_a_churned_user_who_claims_the_win_back_spin_is_active_again_with_its_points_earned():
    clock = Clock(frozen_at=START)
    store = ProfileStore(clock, FIELDS, MemoryStorage(), LIMIT)
    spin = {"externalId": "u", "category": "GAME_PLAY", "eventType": "spin", "points": 0}
    store.track(PRINCIPAL, [spin] * 5)
    clock.freeze(START + timedelta(days=31))
    held = store.offers(PRINCIPAL, "u")
    assert held is not None
    assert [o.offer_type for o in held.offers] == ["win_back_play", "return_bonus"]
    store.claim(PRINCIPAL, "u", str(uuid.UUID(int=held.offers[0].id)))
    snapshot = store.read(PRINCIPAL, "u")
    assert snapshot is not None
    assert (snapshot.metrics.lifecycleStage, snapshot.metrics.pointsEarned7d, snapshot.metrics.totalEvents) == (
        "active", 200, 6)
