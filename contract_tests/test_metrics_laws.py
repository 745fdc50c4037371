"""The metrics laws, as a Hypothesis state machine over the public API (and the mock's clock, where it has one).

Any sequence of upserts of a few users, events tracked one by one and in batches (GAME_PLAY, CAMPAIGN
naming a campaign or not, POINTS, CUSTOM; points 0, positive or negative; occurring now or days ago,
at and around the 7, 14 and 30-day edges) and moves of the clock leaves each user's profile as a model
computed from what was sent says (`metrics_model`, which restates the rules without the mock's code).
After every step each user is read with getUser and compared.

Documented, so they always fail the run: totalPlays is the number of GAME_PLAY events sent; plays7d and
plays30d count those clearly inside their window, and not those clearly outside (an event within a day
of an edge may go either way: the docs do not say how a window ends); pointsEarned30d sums the positive
points of events clearly inside the 30 days (a deduction may lower it or not); engagementTier follows
the documented thresholds (<5 casual, 5-15 regular, 15-50 power_user, >50 whale; at exactly 15 and 50
both neighbours pass); lifecycleStage is one whose documented criteria may hold, once some stage's
surely hold (the stages overlap, no order is documented, and a user may meet none: one last seen 7-14
days ago, or one first seen over 7 days ago with 3 events or fewer; the engaged and power_user criteria
take campaignsJoined and engagementScore from the answer). The docs say segments are "recomputed
periodically": these laws read right after writing, so they take a server's figures to be current when
read, as the mock's are (it recomputes them on every read).

Inferred, so they fail against the mock and warn elsewhere (each rule warns once per run): the
windows to the second (now - N days < occurredAt <= now), pointsEarned7d, the precedence of the
stages and the 7-14 day gap (active), the tier at exactly 15 and 50 (power_user), the score's
formula, winRate, campaignsJoined, totalEvents, and how upserts and events move firstSeenAt and
lastSeenAt. See `metrics_model` for the rules in full.

Time. Where the target has the mock's control API the clock is frozen (in 2021-2022, far from the
wall clock: a server that reads the wall clock instead is caught) and moved forward by the machine,
across and exactly onto the edges; it is put back as it was found at the end. A target without one
(a real server, or the mock with --no-control-api) keeps its own running clock: the machine takes
the server's now from the lastSeenAt of a user it has just created (an inferred rule; the local clock
if that answer is more than a day off) plus the time elapsed here, never moves it, sends events only
clear of the edges (at least 2 hours; "now" is a minute ago, or left to the server), and allows a few
seconds' slack where an instant is compared (firstSeenAt, lastSeenAt): no check rests on the instant
of a request.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from .laws import answered, fresh_id, law, law_settings, needs_writes
from .metrics_model import (
    CAMPAIGN,
    DAY,
    DOC_MARGIN,
    GAME_PLAY,
    HOUR,
    SentEvent,
    UserModel,
    campaign_named,
    documented_plays,
    documented_points,
    documented_stage_criteria,
    documented_stages,
    documented_tiers,
    exact_figures,
)
from .target import ApiClient, Exchange, Target
from .test_offer_laws import instant, mock_clock, rfc3339

# Rule texts: the names a failing run prints (and tests/mock_variants.py's BROKEN looks for).
TOTAL_PLAYS_RULE = "totalPlays is the number of GAME_PLAY events sent"
PLAYS_RULE = "plays{days}d counts the GAME_PLAY events of the last {days} days"
POINTS_RULE = ("pointsEarned30d holds the points earned in the last 30 days: at least those of the games won, at "
               "most those of every event")
TIER_RULE = ("engagementTier follows the documented thresholds of plays in 30 days: under 5 casual, 5-15 regular, "
             "15-50 power_user, over 50 whale")
STAGE_RULE = "lifecycleStage is a stage whose documented criteria the user meets"
WINDOW_RULE = "{name} counts {what} with now - {days} days < occurredAt <= now"
EXACT_RULES = {
    "totalEvents": "totalEvents is the number of events sent",
    "campaignsJoined": "campaignsJoined counts the distinct campaignSlugs of CAMPAIGN events (none: one unnamed)",
    "winRate": "winRate is the share of GAME_PLAY events with points > 0, to 4 places",
}
EXACT_TIER_RULE = ("engagementTier by the exact plays30d: > 50 whale, >= 15 power_user, >= 5 regular, else casual "
                   "(15 and 50 are power_user)")
SCORE_RULE = ("engagementScore is round(100 x (0.3 recency + 0.3 plays30d/30 + 0.2 pointsEarned30d/500 "
              "+ 0.2 campaignsJoined/3), 1), each factor at most 1, recency 1 - days unseen / 30")
EXACT_STAGE_RULE = ("lifecycleStage is the first of churned (unseen > 30 days), at_risk (>= 14 days), power_user, "
                    "engaged, new (first seen < 7 days ago, <= 3 events), else active")
SEEN_RULE = ("firstSeenAt and lastSeenAt span the upserts and the events' occurredAt; an upsert moves lastSeenAt "
             "to now")
TRACKED = "a tracked user is answered 200 by getUser"

# The frozen clock starts somewhere in 2021-2022, far from the wall clock.
START = int(datetime(2021, 1, 1, tzinfo=UTC).timestamp())
EDGE_DAYS = (7, 14, 30)
# Ages (seconds before now) of events: clear of the edges, at them and one second either side (frozen
# clock only), two hours either side, and any.
CLEAR_AGES = [0, HOUR, 2 * DAY, 5 * DAY, 10 * DAY, 20 * DAY, 27 * DAY, 33 * DAY, 45 * DAY]
EXACT_EDGES = [days * DAY + delta for days in EDGE_DAYS for delta in (-1, 0, 1)]
NEAR_EDGES = [days * DAY + delta for days in EDGE_DAYS for delta in (-2 * HOUR, 2 * HOUR)]
RUNNING_MARGIN = 2 * HOUR  # a running clock: events at least this far from an edge
RUNNING_NOW = 60  # a running clock: "now" is a minute ago, so that it is never in the server's future
RUNNING_SLACK = 5  # a running clock: seconds by which the server's now may differ from the estimate
# Clock moves (frozen clock): below, at and beyond the edges, and any up to 40 days.
MOVES = [HOUR, DAY, 6 * DAY, 7 * DAY - 1, 7 * DAY, 7 * DAY + 1, 14 * DAY, 16 * DAY, 23 * DAY, 30 * DAY,
         30 * DAY + 1, 31 * DAY]
CATEGORIES = [GAME_PLAY, CAMPAIGN, "POINTS", "CUSTOM"]
CAMPAIGN_METADATA = [{"campaignSlug": "spring"}, {"campaignSlug": "summer"}, {"campaignSlug": "autumn"}, {}]
POINTS = st.one_of(st.sampled_from([0, 10, 25, 100, -5, -50]), st.integers(-100, 600))
# Plays in 30 days that reach a tier's or a stage's threshold, or stop one short or one past it.
PLAY_TARGETS = [5, 15, 50, 51, 4, 6, 10, 14, 16, 29, 30, 31, 49]
MAX_USERS = 3


def clear_of_edges(age: int) -> bool:
    return all(abs(age - days * DAY) >= RUNNING_MARGIN for days in EDGE_DAYS)


def _instant_or_none(text: Any) -> int | None:
    try:
        return instant(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def test_profiles_follow_the_metrics_model(target: Target, api: ApiClient):
    """Up to 3 users, their upserts, events, batches and the clock's moves: after each step, every user whose
    figures may have moved is read and compared with the model, documented laws first."""
    needs_writes(target, target.api_key)
    key = target.api_key
    clock = mock_clock(target, api)
    offset = 0.0
    if clock is None:  # the server's running clock: its now, from a user created just now
        probe = fresh_id(target, "metrics-now")
        before = time.time()
        created = answered(target, api.track({"externalId": probe}, key),
                           "a valid upsert is answered 200 with the profile")
        after = time.time()
        seen = created.get("lastSeenAt")
        if isinstance(seen, str):
            offset = instant(seen) + 0.5 - (before + after) / 2
            offset = offset if abs(offset) <= DAY else 0.0
    slack = 0 if clock is not None else RUNNING_SLACK
    if clock is not None:
        ages = st.one_of(st.sampled_from([*CLEAR_AGES, *EXACT_EDGES, *NEAR_EDGES]), st.integers(0, 45 * DAY))
    else:
        ages = st.one_of(st.sampled_from([*CLEAR_AGES, *NEAR_EDGES]), st.integers(0, 45 * DAY).filter(clear_of_edges))
    warned: set[str] = set()

    def now() -> int:
        return clock.now if clock is not None else int(time.time() + offset)

    def event_body(external_id: str, category: str, points: int, age: int, metadata_index: int,
                   left_out: bool) -> tuple[dict[str, Any], SentEvent]:
        """A trackEvent body and the model's record of it; `left_out`: no occurredAt (age 0 only)."""
        at = now()
        body: dict[str, Any] = {"externalId": external_id, "category": category, "eventType": "metrics_law",
                                "points": points}
        if category == CAMPAIGN:
            body["metadata"] = CAMPAIGN_METADATA[metadata_index % len(CAMPAIGN_METADATA)]
        elif metadata_index == 0:  # a campaignSlug on another category names no campaign (inferred)
            body["metadata"] = {"campaignSlug": "spring"}
        if clock is None and age == 0 and not left_out:
            age = RUNNING_NOW
        if not (left_out and age == 0):
            body["occurredAt"] = rfc3339(at - age)
        return body, SentEvent(at - age, at, category, points, campaign_named(category, body.get("metadata")))

    class Metrics(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.users: list[UserModel] = []
            self.changed: list[UserModel] = []  # users whose figures may have moved since they were last read

        def _changes(self, *users: UserModel) -> None:
            self.changed += [user for user in users if user not in self.changed]

        def _new_user(self) -> UserModel:
            external_id = fresh_id(target, "metrics")
            at = now()
            answered(target, api.track({"externalId": external_id}, key),
                     "a valid upsert is answered 200 with the profile")
            user = UserModel(external_id, at)
            self.users.append(user)
            self._changes(user)
            return user

        def _send(self, sent: list[tuple[UserModel, dict[str, Any], SentEvent]], batch: bool) -> None:
            if batch:
                answered(target, api.track_events([body for _, body, _ in sent], key),
                         "a valid batch is answered 200 with its events", inferred=True)
            else:
                for _, body, _ in sent:
                    answered(target, api.track_event(body, key), "a valid event is answered 200 with the stored event",
                             inferred=True)
            for user in self.users:
                own = [event for owner, _, event in sent if owner is user]
                if own:
                    user.track(own)
                    self._changes(user)

        @initialize(start=st.integers(0, 2 * 365 * DAY), plays=st.sampled_from([5, 15, 51, 0, 4, 10, 30, 50]),
                    play_points=st.sampled_from([10, 0, 20]), category=st.sampled_from(CATEGORIES[1:] + CATEGORIES[:1]),
                    points=st.sampled_from([25, 0, -5, 400]))
        def first_user(self, start: int, plays: int, play_points: int, category: str, points: int) -> None:
            """A first user, tracked, with a batch of plays now and one other event."""
            if clock is not None:
                clock.freeze(START + start)
            user = self._new_user()
            sent = [(user, *event_body(user.external_id, GAME_PLAY, play_points, 0, 1, False)) for _ in range(plays)]
            sent.append((user, *event_body(user.external_id, category, points, 0, 0, False)))
            self._send(sent, batch=True)

        @precondition(lambda self: len(self.users) < MAX_USERS)
        @rule()
        def new_user(self) -> None:
            self._new_user()

        @rule(index=st.integers(0, MAX_USERS - 1))
        def upsert_again(self, index: int) -> None:
            user = self.users[index % len(self.users)]
            at = now()
            answered(target, api.track({"externalId": user.external_id, "displayName": "Metrics"}, key),
                     "a valid upsert is answered 200 with the profile")
            user.upsert(at)
            self._changes(user)

        @rule(index=st.integers(0, MAX_USERS - 1), category=st.sampled_from(CATEGORIES), points=POINTS, age=ages,
              metadata_index=st.integers(0, 3), left_out=st.booleans())
        def track_one(self, index: int, category: str, points: int, age: int, metadata_index: int,
                      left_out: bool) -> None:
            user = self.users[index % len(self.users)]
            self._send([(user, *event_body(user.external_id, category, points, age, metadata_index, left_out))],
                       batch=False)

        @rule(events=st.lists(st.tuples(st.integers(0, MAX_USERS - 1), st.sampled_from(CATEGORIES), POINTS, ages,
                                        st.integers(0, 3), st.booleans()), min_size=1, max_size=6))
        def track_batch(self, events: list[tuple[int, str, int, int, int, bool]]) -> None:
            sent = []
            for index, category, points, age, metadata_index, left_out in events:
                user = self.users[index % len(self.users)]
                sent.append((user, *event_body(user.external_id, category, points, age, metadata_index, left_out)))
            self._send(sent, batch=True)

        @rule(index=st.integers(0, MAX_USERS - 1), goal=st.sampled_from(PLAY_TARGETS),
              points=st.sampled_from([10, 0, 25]), age=st.sampled_from([0, 2 * DAY, 10 * DAY, 20 * DAY]))
        def play_up_to(self, index: int, goal: int, points: int, age: int) -> None:
            """Plays, in one batch, enough to bring the user's plays in 30 days to a threshold."""
            user = self.users[index % len(self.users)]
            missing = goal - exact_figures(user, now())["plays30d"]
            if missing > 0:
                self._send([(user, *event_body(user.external_id, GAME_PLAY, points, age, 1, False))
                            for _ in range(missing)], batch=True)

        @precondition(lambda self: clock is not None)
        @rule(seconds=st.one_of(st.sampled_from(MOVES), st.integers(1, 40 * DAY)))
        def move_clock(self, seconds: int) -> None:
            assert clock is not None
            clock.advance(seconds)
            self._changes(*self.users)

        @precondition(lambda self: clock is not None)
        @rule(index=st.integers(0, MAX_USERS - 1), last=st.booleans(), days=st.sampled_from(EDGE_DAYS),
              delta=st.sampled_from([-1, 0, 1]))
        def clock_to_an_edge(self, index: int, last: bool, days: int, delta: int) -> None:
            """The clock to the second a user was last (or first) seen 7, 14 or 30 days ago, or one either side."""
            assert clock is not None
            user = self.users[index % len(self.users)]
            seconds = (user.last_seen if last else user.first_seen) + days * DAY + delta - clock.now
            if seconds > 0:
                clock.advance(seconds)
                self._changes(*self.users)

        @invariant()
        def profiles_follow_the_model(self) -> None:
            """Every user whose figures may have moved (all of them after a move of the clock) read: first the
            documented laws for all of them, then the inferred ones."""
            at = now()
            read = []
            changed, self.changed = self.changed, []
            for user in changed:
                exchange = api.user(user.external_id, key)
                read.append((user, answered(target, exchange, TRACKED), exchange))
            for user, profile, exchange in read:
                check_documented(user, profile, exchange, at)
            for user, profile, exchange in read:
                check_inferred(user, profile, exchange, at)

    def check_documented(user: UserModel, profile: dict[str, Any], exchange: Exchange, at: int) -> None:
        where = f" ({user.describe(at)}; now {rfc3339(at)})"
        plays = sum(e.category == GAME_PLAY for e in user.events)
        law(target, profile.get("totalPlays") == plays, TOTAL_PLAYS_RULE + where, exchange, plays,
            profile.get("totalPlays"))
        margin = DOC_MARGIN + slack
        for days in (7, 30):
            low, high = documented_plays(user, at, days, margin)
            value = _number(profile.get(f"plays{days}d"))
            law(target, value is not None and low <= value <= high, PLAYS_RULE.format(days=days) + where, exchange,
                f"{low} to {high}" if low != high else low, profile.get(f"plays{days}d"))
        low, high = documented_points(user, at, 30, margin)
        value = _number(profile.get("pointsEarned30d"))
        law(target, value is not None and low <= value <= high, POINTS_RULE + where, exchange,
            f"{low} to {high}" if low != high else low, profile.get("pointsEarned30d"))
        tiers = documented_tiers(*documented_plays(user, at, 30, margin))
        law(target, profile.get("engagementTier") in tiers, TIER_RULE + where, exchange, sorted(tiers),
            profile.get("engagementTier"))
        criteria = documented_stage_criteria(user, at, profile.get("engagementScore"), profile.get("campaignsJoined"),
                                             margin)
        stages = documented_stages(criteria)
        law(target, stages is None or profile.get("lifecycleStage") in stages, STAGE_RULE + where, exchange,
            {"one of": sorted(stages or ()), "criteria met (None: either way)": criteria},
            profile.get("lifecycleStage"))

    def inferred(holds: bool, rule_text: str, where: str, exchange: Exchange, expected: Any, received: Any) -> None:
        """An inferred law, which warns at most once per rule (a server that decided otherwise breaks it often)."""
        if rule_text in warned:
            return
        if not holds and not target.inferred_fail:
            warned.add(rule_text)
        law(target, holds, rule_text + where, exchange, expected, received, inferred=True)

    def check_inferred(user: UserModel, profile: dict[str, Any], exchange: Exchange, at: int) -> None:
        where = f" ({user.describe(at)}; now {rfc3339(at)})"
        model = exact_figures(user, at)
        for name, what in (("plays", "GAME_PLAY events"),
                           ("pointsEarned", "the positive points of events of every category")):
            for days in (7, 30):
                field = f"{name}{days}d"
                inferred(profile.get(field) == model[field], WINDOW_RULE.format(name=field, what=what, days=days),
                         where, exchange, model[field], profile.get(field))
        for field, rule_text in EXACT_RULES.items():
            value = _number(profile.get(field))
            inferred(value is not None and abs(value - model[field]) < 5e-5, rule_text, where, exchange, model[field],
                     profile.get(field))
        inferred(profile.get("engagementTier") == model["engagementTier"], EXACT_TIER_RULE, where, exchange,
                 model["engagementTier"], profile.get("engagementTier"))
        score = _number(profile.get("engagementScore"))
        inferred(score is not None and abs(score - model["engagementScore"]) <= 0.1 + 1e-9, SCORE_RULE, where,
                 exchange, model["engagementScore"], profile.get("engagementScore"))
        inferred(profile.get("lifecycleStage") == model["lifecycleStage"], EXACT_STAGE_RULE, where, exchange,
                 model["lifecycleStage"], profile.get("lifecycleStage"))
        seen = [_instant_or_none(profile.get(field)) for field in ("firstSeenAt", "lastSeenAt")]
        expected = (model["firstSeenAt"], model["lastSeenAt"])
        inferred(all(s is not None and abs(s - e) <= slack for s, e in zip(seen, expected, strict=True)), SEEN_RULE,
                 where, exchange, tuple(rfc3339(e) for e in expected),
                 (profile.get("firstSeenAt"), profile.get("lastSeenAt")))

    # A rate-capped target (a server off this machine) gets shorter and fewer sequences: ~70 requests by default.
    capped = target.rate_limit is not None
    try:
        run_state_machine_as_test(Metrics, settings=law_settings(
            target, max(5, target.max_examples // (4 if capped else 2)), stateful_step_count=6 if capped else 15))
    finally:
        if clock is not None:
            clock.restore()
