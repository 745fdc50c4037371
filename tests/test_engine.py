"""The journey engine: every rule at its boundaries, then a model-based test against brute force.

The unit tests feed `metrics` plain figures through `Figures`. The state machine at the end adds
random events to a `Journey` (in order, backfilled, same-second, in the future), moves the clock
both ways and onto the 7/14/30-day edges, and requires every figure, page and the iteration order
to equal a recomputation from a plain list of events, written from the design rules alone.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mock_server.journeys.engine import DAY, STAGES, TIERS, Metrics, campaign_of, metrics, recommendations
from mock_server.journeys.events import Event, Journey, Tables, pack_metadata

NOW = 1_736_937_000  # 2025-01-15T10:30:00Z
FIELD_ORDER = ["lifecycleStage", "engagementTier", "engagementScore", "totalPlays", "plays7d", "plays30d",
               "pointsEarned7d", "pointsEarned30d", "campaignsJoined", "winRate", "totalEvents"]


@dataclass
class Figures:
    """A history given by its figures; `week` and `month` answer the 7- and 30-day windows."""

    total: int = 0
    plays: int = 0
    wins: int = 0
    campaigns: int = 0
    week: tuple[int, int] = (0, 0)
    month: tuple[int, int] = (0, 0)

    def __len__(self) -> int:
        return self.total

    def window(self, since: int, until: int) -> tuple[int, int]:
        assert until == NOW
        return {7 * DAY: self.week, 30 * DAY: self.month}[until - since]


def active(plays30d: int = 0, campaigns: int = 0, earned30d: int = 0, total: int = 100) -> Figures:
    """A user with `total` events, the 30-day figures given."""
    return Figures(total=total, plays=plays30d, campaigns=campaigns, month=(plays30d, earned30d))


def stage(history: Figures, idle: int = 0, age: int = 100 * DAY) -> str:
    """The stage of a user last seen `idle` seconds and first seen `age` seconds before NOW."""
    return metrics(history, NOW - age, NOW - idle, NOW).lifecycleStage


# --- the figures without events, and the field order


def test_a_profile_without_events_scores_zero_and_is_new_and_casual():
    assert metrics(Figures(), NOW, NOW, NOW).as_fields() == {
        "lifecycleStage": "new", "engagementTier": "casual", "engagementScore": 0.0, "totalPlays": 0, "plays7d": 0,
        "plays30d": 0, "pointsEarned7d": 0, "pointsEarned30d": 0, "campaignsJoined": 0, "winRate": 0.0,
        "totalEvents": 0}


def test_fields_come_in_api_order():
    assert list(metrics(Figures(), NOW, NOW, NOW).as_fields()) == FIELD_ORDER
    assert [name for name in Metrics.__dataclass_fields__] == FIELD_ORDER


# --- the score


@pytest.mark.parametrize(("history", "idle", "expected"), [
    # R = 1 (seen now), F = 12/30 = 0.4, M = 450/500 = 0.9, B = 2/3:
    # 100 * (0.3 + 0.12 + 0.18 + 0.1333) = 73.33 -> 73.3
    (active(plays30d=12, earned30d=450, campaigns=2), 0, 73.3),
    # R = 1 - 15/30 = 0.5, F = M = B = 1 (capped): 100 * (0.15 + 0.3 + 0.2 + 0.2) = 85.0
    (active(plays30d=40, earned30d=1000, campaigns=5), 15 * DAY, 85.0),
    # R = 1 - 12h/30d = 1 - 0.5/30 = 0.98333, nothing else: 100 * 0.3 * 0.98333 = 29.5
    (active(), 12 * 3600, 29.5),
    # R = 0 past 30 days (never negative); M = 100/500 = 0.2: 100 * 0.2 * 0.2 = 4.0
    (active(earned30d=100), 45 * DAY, 4.0),
    # R = 1 (seen now), F = 3/30 = 0.1, B = 1/3: 100 * (0.3 + 0.03 + 0.0667) = 39.67 -> 39.7
    (active(plays30d=3, campaigns=1), 0, 39.7),
])
def test_score_by_hand(history: Figures, idle: int, expected: float):
    assert metrics(history, NOW - 100 * DAY, NOW - idle, NOW).engagementScore == expected


def test_score_recency_is_full_when_last_seen_is_after_now():
    """The clock was set back: the user counts as seen just now, 100 * 0.3 = 30.0."""
    assert metrics(active(), NOW - DAY, NOW + DAY, NOW).engagementScore == 30.0


def test_score_is_zero_without_events_even_if_seen_just_now():
    assert metrics(Figures(), NOW - DAY, NOW, NOW).engagementScore == 0.0


# --- the stage: precedence and boundaries


def test_churned_past_30_days_at_risk_from_14():
    assert stage(active(), idle=30 * DAY + 1) == "churned"
    assert stage(active(), idle=30 * DAY) == "at_risk"
    assert stage(active(), idle=14 * DAY) == "at_risk"
    assert stage(active(), idle=14 * DAY - 1) == "active"


def test_the_7_to_14_day_gap_is_active():
    assert stage(active(), idle=7 * DAY) == "active"
    assert stage(active(), idle=10 * DAY) == "active"


def test_absence_beats_activity():
    """Figures no real history has (30-day plays while unseen for a month) still show the order."""
    busy = active(plays30d=60, earned30d=1000, campaigns=3)
    assert stage(busy, idle=31 * DAY) == "churned"
    assert stage(busy, idle=20 * DAY) == "at_risk"


def test_power_user_needs_30_plays_and_a_score_of_70():
    # R = 1, F = 1, M = 249/500 = 0.498: 100 * (0.3 + 0.3 + 0.0996) = 69.96, rounded to 70.0
    assert metrics(active(plays30d=30, earned30d=249), NOW - 100 * DAY, NOW, NOW).engagementScore == 70.0
    assert stage(active(plays30d=30, earned30d=249)) == "power_user"
    # M = 245/500 = 0.49: 100 * (0.6 + 0.098) = 69.8
    assert stage(active(plays30d=30, earned30d=245)) == "active"
    # 29 plays, everything else full: 100 * (0.3 + 0.29 + 0.2 + 0.2) = 99.0, still one play short
    assert stage(active(plays30d=29, earned30d=500, campaigns=3)) == "engaged"


def test_power_user_beats_engaged_and_engaged_beats_new():
    assert stage(active(plays30d=30, earned30d=500, campaigns=3)) == "power_user"
    assert stage(active(plays30d=10, campaigns=1, total=3), age=DAY) == "engaged"  # not a real history


def test_engaged_needs_10_plays_and_a_campaign():
    assert stage(active(plays30d=10, campaigns=1)) == "engaged"
    assert stage(active(plays30d=9, campaigns=1)) == "active"
    assert stage(active(plays30d=10, campaigns=0)) == "active"


def test_new_is_first_seen_under_7_days_with_at_most_3_events():
    assert stage(active(total=3), age=7 * DAY - 1) == "new"
    assert stage(active(total=3), age=7 * DAY) == "active"
    assert stage(active(total=4), age=DAY) == "active"
    assert stage(active(total=0), age=0) == "new"
    assert stage(active(total=1), age=-DAY, idle=-DAY) == "new"  # first seen after now (clock set back)


# --- the tier


@pytest.mark.parametrize(("plays30d", "tier"), [
    (0, "casual"), (4, "casual"), (5, "regular"), (14, "regular"), (15, "power_user"), (50, "power_user"),
    (51, "whale"),
])
def test_tier_by_30_day_plays(plays30d: int, tier: str):
    assert metrics(active(plays30d=plays30d), NOW, NOW, NOW).engagementTier == tier


# --- win rate and campaigns


@pytest.mark.parametrize(("plays", "wins", "rate"), [
    (0, 0, 0.0), (5, 0, 0.0), (3, 1, 0.3333), (3, 2, 0.6667), (8, 1, 0.125), (7, 7, 1.0), (30000, 1, 0.0),
])
def test_win_rate_rounds_to_4_decimals(plays: int, wins: int, rate: float):
    assert metrics(Figures(total=plays, plays=plays, wins=wins), NOW, NOW, NOW).winRate == rate


@pytest.mark.parametrize(("category", "metadata", "campaign"), [
    ("CAMPAIGN", {"campaignSlug": "summer-cup"}, "summer-cup"),
    ("CAMPAIGN", {"campaignSlug": 7}, ""),
    ("CAMPAIGN", {"other": "x"}, ""),
    ("CAMPAIGN", None, ""),
    ("GAME_PLAY", {"campaignSlug": "summer-cup"}, None),
    ("POINTS", None, None),
])
def test_campaign_of(category: str, metadata: dict[str, Any] | None, campaign: str | None):
    assert campaign_of(category, metadata) == campaign


# --- windows over a real journey


def event(at: int, category: str = "GAME_PLAY", points: int = 10, metadata: dict[str, Any] | None = None,
          ident: int = 0) -> Event:
    return Event(ident, at, category, "spin", points, pack_metadata(metadata or {}), campaign_of(category, metadata))


def test_window_edges():
    """now - 7 days is out of the 7-day window and in the 30-day one; now is in; later is in totals only."""
    journey = Journey(Tables())
    for at, points in [(NOW - 30 * DAY, 1), (NOW - 30 * DAY + 1, 2), (NOW - 7 * DAY, 4), (NOW - 7 * DAY + 1, 8),
                       (NOW, 16), (NOW + 1, 32)]:
        journey.add(event(at, points=points))
    found = metrics(journey, NOW - 30 * DAY, NOW + 1, NOW)
    assert (found.plays7d, found.pointsEarned7d) == (2, 8 + 16)
    assert (found.plays30d, found.pointsEarned30d) == (4, 2 + 4 + 8 + 16)
    assert (found.totalPlays, found.totalEvents, found.winRate) == (6, 6, 1.0)


def test_windows_count_plays_only_but_points_of_every_category():
    journey = Journey(Tables())
    journey.add(event(NOW - DAY, "GAME_PLAY", points=0))
    journey.add(event(NOW - DAY, "GAME_PLAY", points=-5))
    journey.add(event(NOW - DAY, "POINTS", points=100))
    journey.add(event(NOW - DAY, "POINTS", points=-100))
    journey.add(event(NOW - DAY, "CAMPAIGN", points=7, metadata={"campaignSlug": "a"}))
    found = metrics(journey, NOW - DAY, NOW - DAY, NOW)
    assert (found.plays7d, found.pointsEarned7d, found.totalPlays, found.winRate, found.campaignsJoined) == \
        (2, 107, 2, 0.0, 1)


# --- recommendations


def test_every_stage_and_tier_gets_recommendations_in_priority_order():
    rank = {"high": 0, "medium": 1, "low": 2}
    for stage_name, tier in itertools.product(STAGES, TIERS):
        found = recommendations(stage_name, tier)
        assert found, (stage_name, tier)
        assert found == recommendations(stage_name, tier)
        assert all(list(item) == ["priority", "name", "reason"] and item["reason"] for item in found)
        assert [rank[item["priority"]] for item in found] == sorted(rank[item["priority"]] for item in found)
        assert len({item["name"] for item in found}) == len(found)


def names(stage_name: str, tier: str) -> list[tuple[str, str]]:
    return [(item["priority"], item["name"]) for item in recommendations(stage_name, tier)]


def test_recommendations_follow_the_offer_types():
    assert names("new", "casual") == [("high", "Welcome Free Spin"), ("medium", "Welcome Bonus")]
    assert names("churned", "regular") == [("high", "Win-Back Free Spin"), ("medium", "Return Bonus"),
                                           ("low", "Daily Free Spin")]
    assert names("at_risk", "whale") == [("high", "Retention Play"), ("high", "VIP Play")]
    assert names("power_user", "whale") == [("high", "VIP Play"), ("medium", "Double Points")]


def test_a_name_both_rules_give_comes_once_at_its_higher_priority():
    assert names("power_user", "power_user") == [("medium", "Double Points")]
    assert names("active", "regular") == [("medium", "Daily Free Spin")]


def test_the_spec_example_is_what_the_engine_gives():
    """openapi.yaml's getUser example: an engaged, regular user."""
    assert recommendations("engaged", "regular") == [
        {"priority": "medium", "name": "Daily Free Spin", "reason": "Keeps a regular player coming back every day."}]


# --- the model-based test


@dataclass(frozen=True)
class Tracked:
    """An event as the model keeps it: the raw metadata object and the order it was added in."""

    event: Event
    metadata: dict[str, Any]
    seq: int


def model_figures(events: list[Tracked], first_seen: int, last_seen: int, now: int) -> dict[str, Any]:
    """Every metric, from the design rules, by scanning the list."""
    def within(item: Tracked, days: int) -> bool:
        return now - days * DAY < item.event.occurred_at <= now

    plays = [item for item in events if item.event.category == "GAME_PLAY"]
    wins = [item for item in plays if item.event.points > 0]
    campaigns = set()
    for item in events:
        if item.event.category == "CAMPAIGN":
            slug = item.metadata.get("campaignSlug")
            campaigns.add(slug if isinstance(slug, str) else "")
    plays7d = sum(within(item, 7) for item in plays)
    plays30d = sum(within(item, 30) for item in plays)
    earned7d = sum(max(item.event.points, 0) for item in events if within(item, 7))
    earned30d = sum(max(item.event.points, 0) for item in events if within(item, 30))
    days = max(0, now - last_seen) / DAY
    recency = 0 if not events else max(0, 1 - days / 30)
    score = round(100 * (0.3 * recency + 0.3 * min(plays30d / 30, 1) + 0.2 * min(earned30d / 500, 1)
                         + 0.2 * min(len(campaigns) / 3, 1)), 1)
    if days > 30:
        stage_name = "churned"
    elif days >= 14:
        stage_name = "at_risk"
    elif plays30d >= 30 and score >= 70:
        stage_name = "power_user"
    elif plays30d >= 10 and len(campaigns) >= 1:
        stage_name = "engaged"
    elif (first_seen > now or 0 <= now - first_seen < 7 * DAY) and len(events) <= 3:
        stage_name = "new"
    else:
        stage_name = "active"
    if plays30d > 50:
        tier = "whale"
    elif plays30d >= 15:
        tier = "power_user"
    elif plays30d >= 5:
        tier = "regular"
    else:
        tier = "casual"
    return {"lifecycleStage": stage_name, "engagementTier": tier, "engagementScore": score,
            "totalPlays": len(plays), "plays7d": plays7d, "plays30d": plays30d, "pointsEarned7d": earned7d,
            "pointsEarned30d": earned30d, "campaignsJoined": len(campaigns),
            "winRate": round(len(wins) / len(plays), 4) if plays else 0, "totalEvents": len(events)}


class FoldEarly(Journey):
    """A journey that folds its backfills into the prefix sums after two, so that tests see many folds."""

    __slots__ = ()
    FOLD_AFTER = 2


EDGES = [7 * DAY, 14 * DAY, 30 * DAY]
OFFSETS = st.sampled_from([0, 1, -1, *(-edge for edge in EDGES), *(1 - edge for edge in EDGES),
                           -30 * DAY - 1, DAY]) | st.integers(-40 * DAY, 2 * DAY)
MOVES = st.sampled_from([0, 1, -1, *EDGES, *(-edge for edge in EDGES), 3600, -3600]) | st.integers(-20 * DAY, 20 * DAY)
CATEGORIES = st.sampled_from(["GAME_PLAY", "GAME_PLAY", "CAMPAIGN", "POINTS", "CUSTOM"])
POINTS = st.sampled_from([0, 1, -1, 50, 500]) | st.integers(-100, 600)
METADATA = st.sampled_from([{}, {"campaignSlug": "summer-cup"}, {"campaignSlug": "winter"}, {"campaignSlug": 3},
                            {"gameType": "NEON_WHEEL"}, {"campaignSlug": "ü-cup", "round": 2}])
IDS = st.integers(0, 2**128 - 1)


class JourneyMachine(RuleBasedStateMachine):
    """A profile's events and clock, against the brute-force model."""

    def __init__(self) -> None:
        super().__init__()
        self.journey: Journey = Journey(Tables())
        self.events: list[Tracked] = []
        self.now = NOW
        self.first_seen: int | None = None
        self.last_seen: int | None = None

    @initialize(kind=st.sampled_from([Journey, FoldEarly]), created_by_upsert=st.booleans())
    def start(self, kind: type[Journey], created_by_upsert: bool) -> None:
        self.journey = kind(Tables())
        if created_by_upsert:
            self.upsert()

    def add(self, ident: int, at: int, category: str, points: int, metadata: dict[str, Any]) -> None:
        event_ = Event(ident, at, category, f"type-{points % 3}", points, pack_metadata(metadata),
                       campaign_of(category, metadata))
        self.journey.add(event_)
        self.events.append(Tracked(event_, metadata, len(self.events)))
        self.first_seen = at if self.first_seen is None else min(self.first_seen, at)
        self.last_seen = at if self.last_seen is None else max(self.last_seen, at)

    @rule(ident=IDS, offset=OFFSETS, category=CATEGORIES, points=POINTS, metadata=METADATA)
    def track(self, ident: int, offset: int, category: str, points: int, metadata: dict[str, Any]) -> None:
        self.add(ident, self.now + offset, category, points, metadata)

    @precondition(lambda self: self.events)
    @rule(ident=IDS, pick=st.integers(0), after=st.sampled_from([0, 0, 1, 3600]), category=CATEGORIES,
          points=POINTS, metadata=METADATA)
    def track_near_another(self, ident: int, pick: int, after: int, category: str, points: int,
                           metadata: dict[str, Any]) -> None:
        """Same second as an existing event (a tie), or just after it."""
        at = self.events[pick % len(self.events)].event.occurred_at + after
        self.add(ident, at, category, points, metadata)

    @rule(slug=st.sampled_from(["summer-cup", "winter", "ü-cup"]), offset=st.sampled_from([0, -DAY, -7 * DAY]))
    def join_campaign(self, slug: str, offset: int) -> None:
        """A CAMPAIGN event naming its campaign: with a burst of plays, this makes a user engaged."""
        self.add(len(self.events), self.now + offset, "CAMPAIGN", 0, {"campaignSlug": slug})

    @rule(count=st.sampled_from([5, 10, 15, 30, 50, 51]) | st.integers(1, 60), start=OFFSETS,
          step=st.sampled_from([0, 1, 600, DAY // 4]), points=POINTS, first_ident=IDS)
    def burst(self, count: int, start: int, step: int, points: int, first_ident: int) -> None:
        """Many plays at once: enough to reach every tier and the power_user stage."""
        for index in range(count):
            self.add((first_ident + index) % 2**128, self.now + start + index * step, "GAME_PLAY", points, {})

    @rule()
    def upsert(self) -> None:
        """POST /users: creates the profile seen now, or moves lastSeenAt to now (never back)."""
        self.first_seen = self.now if self.first_seen is None else self.first_seen
        self.last_seen = self.now if self.last_seen is None else max(self.last_seen, self.now)

    @rule(delta=MOVES)
    def move_clock(self, delta: int) -> None:
        self.now += delta

    @precondition(lambda self: self.last_seen is not None)
    @rule(anchor=st.sampled_from(["first_seen", "last_seen", "event"]), pick=st.integers(0),
          days=st.sampled_from([7, 14, 30]), nudge=st.sampled_from([-1, 0, 1]))
    def clock_to_edge(self, anchor: str, pick: int, days: int, nudge: int) -> None:
        """The clock exactly N days (give or take a second) after a seen time or an event."""
        if anchor == "event" and self.events:
            base = self.events[pick % len(self.events)].event.occurred_at
        else:
            base = self.first_seen if anchor == "first_seen" else self.last_seen
        assert base is not None
        self.now = base + days * DAY + nudge

    @precondition(lambda self: self.events)
    @rule(offset=st.integers(0, 80), limit=st.integers(0, 30))
    def page(self, offset: int, limit: int) -> None:
        assert self.journey.page(offset, limit) == self.newest_first()[offset:offset + limit]

    def newest_first(self) -> list[Event]:
        ordered = sorted(self.events, key=lambda item: (item.event.occurred_at, item.seq), reverse=True)
        return [item.event for item in ordered]

    @invariant()
    def figures_match(self) -> None:
        if self.first_seen is None or self.last_seen is None:
            return
        found = metrics(self.journey, self.first_seen, self.last_seen, self.now).as_fields()
        assert found == model_figures(self.events, self.first_seen, self.last_seen, self.now)
        assert list(found) == FIELD_ORDER

    @invariant()
    def order_matches(self) -> None:
        newest = self.newest_first()
        assert self.journey.page(0, len(newest) + 1) == newest
        assert list(self.journey) == newest[::-1]
        assert len(self.journey) == len(newest)


JourneyMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)
TestJourneyAgainstModel = JourneyMachine.TestCase
