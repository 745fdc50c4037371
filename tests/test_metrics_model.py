"""The contract suite's metrics model (`contract_tests/metrics_model.py`): its documented ranges and
stages at their edges, and its restatement of the inferred rules, which must agree with the mock's
engine on any history (the suite may not import the engine; this test may)."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract_tests.metrics_model import (
    CAMPAIGN,
    DAY,
    GAME_PLAY,
    HOUR,
    SentEvent,
    UserModel,
    between,
    campaign_named,
    documented_plays,
    documented_points,
    documented_stage_criteria,
    documented_stages,
    documented_tiers,
    exact_figures,
    over,
    within,
)
from mock_server.journeys import engine
from mock_server.journeys.events import Event, Journey, Tables, pack_metadata

T0 = 1_609_459_200  # 2021-01-01T00:00:00Z


def user_with(*events: tuple[int, str, int], created: int = T0, sent: int | None = None,
              campaign: str | None = None) -> UserModel:
    """A user created at `created`, with events given as (at, category, points), sent at `sent` (default:
    when they happened)."""
    user = UserModel("u", created)
    user.track([SentEvent(at, at if sent is None else sent, category, points,
                          campaign if category == CAMPAIGN else None) for at, category, points in events])
    return user


def test_within_is_sure_only_a_margin_away_from_the_edge():
    assert within(0, 0, 7, DAY) is True
    assert within(6 * DAY, 6 * DAY, 7, DAY) is True
    assert within(6 * DAY + 1, 6 * DAY + 1, 7, DAY) is None
    assert within(7 * DAY, 7 * DAY, 7, DAY) is None
    assert within(8 * DAY - 1, 8 * DAY - 1, 7, DAY) is None
    assert within(8 * DAY, 8 * DAY, 7, DAY) is False
    assert within(-1, 0, 7, DAY) is None  # a time after now: left open
    assert within(DAY, 20 * DAY, 7, DAY) is None  # a range across the edge


def test_between_and_over_leave_their_edges_open():
    assert between(15 * DAY, 29 * DAY, 14, 30, DAY) is True
    assert between(14 * DAY, 14 * DAY, 14, 30, DAY) is None
    assert between(13 * DAY, 13 * DAY, 14, 30, DAY) is False
    assert between(31 * DAY, 31 * DAY, 14, 30, DAY) is False
    assert over(31 * DAY, 40 * DAY, 30, DAY) is True
    assert over(30 * DAY + 1, 30 * DAY + 1, 30, DAY) is None
    assert over(29 * DAY, 29 * DAY, 30, DAY) is False


def test_documented_plays_and_points_are_ranges_over_the_events_near_an_edge():
    now = T0 + 40 * DAY
    user = user_with((now, GAME_PLAY, 10), (now - 30 * DAY, GAME_PLAY, 20), (now - 35 * DAY, GAME_PLAY, 40),
                     (now - DAY, CAMPAIGN, 5), (now - 2 * DAY, "POINTS", -7), (now - 30 * DAY + HOUR, "CUSTOM", -3))
    assert documented_plays(user, now, 30) == (1, 2)
    assert documented_plays(user, now, 7) == (1, 1)
    # At least the games won surely inside: 10 (the CAMPAIGN 5 may not earn); at most every event maybe
    # inside: 10 + 5 + 20; deductions that may count: -7 and -3.
    assert documented_points(user, now, 30) == (10 - 7 - 3, 10 + 5 + 20)


@pytest.mark.parametrize("plays, tiers", [
    ((0, 0), {"casual"}), ((4, 4), {"casual"}), ((5, 5), {"regular"}), ((14, 14), {"regular"}),
    ((15, 15), {"regular", "power_user"}), ((16, 49), {"power_user"}), ((50, 50), {"power_user"}),
    ((51, 51), {"whale"}), ((4, 5), {"casual", "regular"}), ((50, 51), {"power_user", "whale"}),
])
def test_documented_tiers_share_15_and_50(plays, tiers):
    assert documented_tiers(*plays) == tiers


def test_a_new_user_with_few_events_is_new_and_one_with_more_is_active():
    now = T0 + HOUR
    few = user_with((now, "CUSTOM", 0), created=T0)
    criteria = documented_stage_criteria(few, now, score=31, campaigns=0)
    assert criteria == {"new": True, "active": False, "engaged": False, "power_user": False, "at_risk": False,
                        "churned": False}
    assert documented_stages(criteria) == {"new"}
    many = user_with(*[(now, GAME_PLAY, 10)] * 5, created=T0)
    assert documented_stages(documented_stage_criteria(many, now, score=40, campaigns=0)) == {"active"}


def test_overlapping_stages_all_pass_and_the_answer_decides_score_and_campaigns():
    now = T0 + DAY
    user = user_with(*[(now, GAME_PLAY, 20)] * 30, created=T0)
    assert documented_stages(documented_stage_criteria(user, now, score=70, campaigns=1)) == {
        "active", "engaged", "power_user"}
    assert documented_stages(documented_stage_criteria(user, now, score=69.9, campaigns=0)) == {"active"}
    assert documented_stages(documented_stage_criteria(user, now, score=None, campaigns=None)) == {
        "active", "engaged", "power_user"}


def test_a_user_in_a_hole_of_the_documented_stages_may_get_any_stage():
    # Last seen 10 days ago with more than 3 events: the 7-14 day gap.
    user = user_with(*[(T0, "CUSTOM", 0)] * 4, created=T0)
    assert documented_stages(documented_stage_criteria(user, T0 + 10 * DAY, score=20, campaigns=0)) is None
    # First seen 10 days ago, 3 events or fewer, seen today: neither new nor active.
    user = user_with((T0 + 10 * DAY, "CUSTOM", 0), created=T0)
    assert documented_stages(documented_stage_criteria(user, T0 + 10 * DAY, score=20, campaigns=0)) is None


def test_away_for_weeks_is_at_risk_then_churned():
    user = user_with(*[(T0, GAME_PLAY, 10)] * 4, created=T0)
    assert documented_stages(documented_stage_criteria(user, T0 + 20 * DAY, 10, 0)) == {"at_risk"}
    assert documented_stages(documented_stage_criteria(user, T0 + 14 * DAY, 10, 0)) is None  # at the edge
    assert documented_stages(documented_stage_criteria(user, T0 + 32 * DAY, 0, 0)) == {"churned"}


def test_an_event_sent_now_about_the_past_leaves_last_seen_open():
    """Last seen is the event's time, or the request's: 19 days ago or now."""
    now = T0 + 20 * DAY
    user = user_with((T0 + DAY, "CUSTOM", 0), created=T0, sent=now)
    criteria = documented_stage_criteria(user, now, score=0, campaigns=0)
    assert criteria["at_risk"] is None and criteria["active"] is False
    assert documented_stages(criteria) is None


def test_exact_windows_end_to_the_second():
    now = T0 + 40 * DAY
    user = user_with((now - 7 * DAY, GAME_PLAY, 5), (now - 7 * DAY + 1, GAME_PLAY, 5), (now - 30 * DAY, GAME_PLAY, 7),
                     (now - 30 * DAY + 1, CAMPAIGN, 9), (now, "POINTS", -4))
    figures = exact_figures(user, now)
    assert (figures["plays7d"], figures["plays30d"], figures["pointsEarned7d"], figures["pointsEarned30d"]) == (
        1, 2, 5, 5 + 5 + 9)
    assert (figures["totalPlays"], figures["totalEvents"], figures["winRate"]) == (3, 5, 1)


def test_campaigns_are_named_by_campaign_events_only():
    assert campaign_named(CAMPAIGN, {"campaignSlug": "spring"}) == "spring"
    assert campaign_named(CAMPAIGN, {}) == ""
    assert campaign_named(CAMPAIGN, None) == ""
    assert campaign_named(GAME_PLAY, {"campaignSlug": "spring"}) is None


def test_exact_tiers_put_15_and_50_in_power_user():
    for plays, tier in ((4, "casual"), (5, "regular"), (14, "regular"), (15, "power_user"), (50, "power_user"),
                        (51, "whale")):
        assert exact_figures(user_with(*[(T0, GAME_PLAY, 0)] * plays), T0)["engagementTier"] == tier


def test_a_backfilled_event_widens_first_seen_and_an_upsert_moves_last_seen():
    user = UserModel("u", T0 + 10 * DAY)
    user.track([SentEvent(T0, T0 + 10 * DAY, "CUSTOM", 0)])
    assert (user.first_seen, user.last_seen) == (T0, T0 + 10 * DAY)
    user.upsert(T0 + 12 * DAY)
    assert (user.first_seen, user.last_seen) == (T0, T0 + 12 * DAY)


events = st.lists(st.tuples(st.integers(-2 * DAY, 45 * DAY), st.sampled_from([GAME_PLAY, CAMPAIGN, "POINTS", "CUSTOM"]),
                            st.integers(-100, 600), st.sampled_from([None, {}, {"campaignSlug": "a"},
                                                                     {"campaignSlug": "b"}])), max_size=60)


@settings(max_examples=300, deadline=None)
@given(events=events, created_ago=st.integers(0, 45 * DAY), upserted_ago=st.integers(0, 45 * DAY))
def test_the_restated_rules_agree_with_the_mocks_engine(events, created_ago, upserted_ago):
    """Any history, read at a now after every request: every figure as the engine computes it."""
    now = T0 + 50 * DAY
    user = UserModel("u", now - max(created_ago, upserted_ago))
    user.upsert(now - upserted_ago)
    journey = Journey(Tables())
    for ago, category, points, metadata in events:
        at = now - ago
        user.track([SentEvent(at, now, category, points, campaign_named(category, metadata))])
        journey.add(Event(uuid.uuid4().int, at, category, "e", points, pack_metadata(metadata or {}),
                          engine.campaign_of(category, metadata)))
    expected = engine.metrics(journey, user.first_seen, user.last_seen, now)
    figures = exact_figures(user, now)
    assert {name: figures[name] for name in engine.Metrics.__dataclass_fields__} == {
        name: getattr(expected, name) for name in engine.Metrics.__dataclass_fields__}
