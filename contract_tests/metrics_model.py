"""A user's figures, stage and tier, computed from what the contract suite sent: the metrics laws' model.

It restates the rules on its own (it must not import the mock's engine: the suite judges real servers),
in two strengths:

Documented (the overview page; a breach always fails the run):
- totalPlays counts GAME_PLAY events; plays7d and plays30d those of the last 7 and 30 days, and
  pointsEarned30d holds the points earned in the last 30 days (the score's "Monetary" factor): at
  least those of the games won, at most the positive points of every event (which categories earn
  points is not documented).
  How the windows end is not documented (to the second, or by calendar day?), so an event within
  `DOC_MARGIN` of a window's edge may count or not: the documented law is a range.
  Whether a negative points value (a deduction) lowers the sum is not documented either: the range
  allows both.
- Tiers by plays in 30 days: fewer than 5 casual, 5-15 regular, 15-50 power_user, more than 50 whale.
  The ranges share 15 and 50: there both neighbouring tiers pass.
- Stages: new (first seen within 7 days, 3 or fewer events), active (seen within 7 days, more than 3
  events), engaged (10+ plays in 30 days, at least 1 campaign joined), power_user (30+ plays in 30 days,
  engagement score 70+), at_risk (last seen 14-30 days ago), churned (last seen more than 30 days ago).
  They overlap, and no order was recovered: the stage answered must be one whose criteria may hold.
  A user may also meet none (last seen 7-14 days ago; or first seen over 7 days ago with 3 events or
  fewer, seen since): so the documented law binds only when some stage's criteria surely hold. The
  score and the campaigns joined of the engaged and power_user criteria are taken from the answer (how
  they are computed is not documented); "first seen" and "last seen" may follow the upserts, the
  events or both, and "last seen" may be the latest request (`seen_ages`).

Inferred (the mock's decisions, restated; a breach fails against the mock and warns elsewhere):
- Windows: now - N days < occurredAt <= now; pointsEarned counts positive points only, of any category.
- totalEvents counts every event; winRate = GAME_PLAY events with points > 0 / totalPlays, to 4
  places (0 without plays); campaignsJoined counts the distinct campaignSlugs of CAMPAIGN events, all
  time (a CAMPAIGN event without one is one unnamed campaign).
- Score: R = max(0, 1 - days since last seen / 30) (0 without events), F = min(plays30d / 30, 1),
  M = min(pointsEarned30d / 500, 1), B = min(campaignsJoined / 3, 1);
  score = round(100 x (0.3 R + 0.3 F + 0.2 M + 0.2 B), 1).
- Stage, first match: churned (last seen > 30 days ago), at_risk (>= 14 days), power_user, engaged,
  new (first seen < 7 days ago, <= 3 events), else active (which takes both gaps).
- Tier: > 50 whale, >= 15 power_user, >= 5 regular, else casual (15 and 50 are power_user).
- Seen times: an upsert moves lastSeenAt to now (never back); events widen firstSeenAt and lastSeenAt
  to cover their occurredAt.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

DAY = 86400
HOUR = 3600
GAME_PLAY = "GAME_PLAY"
CAMPAIGN = "CAMPAIGN"
# Documented tiers as closed ranges of plays in 30 days (15 and 50 in two of them, as the docs have it).
TIER_RANGES = {"casual": (0, 4), "regular": (5, 15), "power_user": (15, 50), "whale": (51, None)}
DOC_MARGIN = DAY  # how near a window's edge an event's count is left open by the documented laws

Tri = bool | None  # True: surely; False: surely not; None: the docs leave it open


@dataclass(frozen=True)
class SentEvent:
    """An event as sent: when it happened (occurredAt, or the now it was sent at when left out), when it
    was sent, its category and points, and the campaign it names (CAMPAIGN only; "" the unnamed one)."""

    at: int
    sent: int
    category: str
    points: int
    campaign: str | None = None


def campaign_named(category: str, metadata: dict[str, Any] | None) -> str | None:
    """The campaign an event names (inferred): a CAMPAIGN event's campaignSlug, "" without one."""
    if category != CAMPAIGN:
        return None
    slug = (metadata or {}).get("campaignSlug")
    return slug if isinstance(slug, str) else ""


@dataclass
class UserModel:
    """What the suite did to one user: created by an upsert at `created`, upserted last at `upserted`, and
    the events sent; `first_seen` and `last_seen` follow the inferred rules."""

    external_id: str
    created: int
    events: list[SentEvent] = field(default_factory=list, init=False)
    upserted: int = field(init=False)
    first_seen: int = field(init=False)
    last_seen: int = field(init=False)

    def __post_init__(self) -> None:
        self.upserted = self.first_seen = self.last_seen = self.created

    def upsert(self, now: int) -> None:
        self.upserted = max(self.upserted, now)
        self.last_seen = max(self.last_seen, now)

    def track(self, events: list[SentEvent]) -> None:
        """Events stored together (one request): the seen times widen to cover them."""
        if not events:
            return
        self.events += events
        self.first_seen = min(self.first_seen, *(e.at for e in events))
        self.last_seen = max(self.last_seen, *(e.at for e in events))

    def describe(self, now: int) -> str:
        """The events for a failure message: how many of each (age in seconds, category, points)."""
        counted = Counter((now - e.at, e.category, e.points, e.campaign) for e in self.events)
        parts = [f"{n} x {category} {points:+d} pts {age}s ago" + (f" campaign {campaign!r}" if campaign is not None
                                                                      else "")
                 for (age, category, points, campaign), n in sorted(counted.items(), key=lambda kv: kv[0][0])]
        return (f"{self.external_id}: created {now - self.created}s ago, last upsert {now - self.upserted}s ago, "
                f"{len(self.events)} events: {'; '.join(parts[:40])}{' ...' if len(parts) > 40 else ''}")


# --- documented -------------------------------------------------------------------------------------


def within(age_lo: int, age_hi: int, days: int, margin: int) -> Tri:
    """Whether an age known to lie in [age_lo, age_hi] is "within the last `days` days", as the docs say it:
    surely when it is `margin` inside, surely not when `margin` outside; a future time is left open."""
    limit = days * DAY
    if age_lo < 0:
        return None
    if age_hi <= limit - margin:
        return True
    if age_lo >= limit + margin:
        return False
    return None


def between(age_lo: int, age_hi: int, low_days: int, high_days: int, margin: int) -> Tri:
    """Whether the age is "low-high days ago" (at_risk's 14-30 days), with `margin` of doubt at each end."""
    low, high = low_days * DAY, high_days * DAY
    if age_lo >= low + margin and age_hi <= high - margin:
        return True
    if age_hi <= low - margin or age_lo >= high + margin:
        return False
    return None


def over(age_lo: int, age_hi: int, days: int, margin: int) -> Tri:
    """Whether the age is "more than `days` days"."""
    if age_lo >= days * DAY + margin:
        return True
    if age_hi <= days * DAY - margin:
        return False
    return None


def at_least(value_lo: int, value_hi: int, threshold: int) -> Tri:
    if value_lo >= threshold:
        return True
    return False if value_hi < threshold else None


def both(*parts: Tri) -> Tri:
    if any(part is False for part in parts):
        return False
    return True if all(part is True for part in parts) else None


def documented_plays(user: UserModel, now: int, days: int, margin: int = DOC_MARGIN) -> tuple[int, int]:
    """(fewest, most) GAME_PLAY events the last `days` days may hold, as documented."""
    counted = [within(now - e.at, now - e.at, days, margin) for e in user.events if e.category == GAME_PLAY]
    sure = sum(c is True for c in counted)
    return sure, sure + sum(c is None for c in counted)


def documented_points(user: UserModel, now: int, days: int, margin: int = DOC_MARGIN) -> tuple[int, int]:
    """(least, most) points earned in the last `days` days, as documented ("points earned"): at least the
    positive points of GAME_PLAY events surely inside (a won game surely earns), at most the positive points
    of any event that may be inside (which other categories earn is our reading); a deduction that may be
    inside may lower the least."""
    least = most = 0
    for event in user.events:
        inside = within(now - event.at, now - event.at, days, margin)
        if inside is False:
            continue
        if event.points > 0:
            most += event.points
            least += event.points if inside and event.category == GAME_PLAY else 0
        else:
            least += event.points
    return least, most


def documented_tiers(plays_lo: int, plays_hi: int) -> set[str]:
    """The tiers whose documented range of plays in 30 days meets [plays_lo, plays_hi]."""
    return {tier for tier, (low, high) in TIER_RANGES.items()
            if plays_hi >= low and (high is None or plays_lo <= high)}


def seen_ages(user: UserModel, now: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((least, most) age of first seen, (least, most) age of last seen) in seconds, over the readings the
    docs allow: first seen is the first upsert, the earliest event, or the earlier of the two; last seen
    the latest upsert or event time, the latest event time alone (a server that counts only events as
    activity), or the latest request (an event sent now about the past)."""
    firsts, lasts = [user.created], [user.upserted]
    if user.events:
        earliest, latest = min(e.at for e in user.events), max(e.at for e in user.events)
        firsts += [earliest, min(user.created, earliest)]
        lasts += [latest, max(user.upserted, latest), max(user.upserted, *(e.sent for e in user.events))]
    return (now - max(firsts), now - min(firsts)), (now - max(lasts), now - min(lasts))


def documented_stage_criteria(user: UserModel, now: int, score: Any, campaigns: Any,
                              margin: int = DOC_MARGIN) -> dict[str, Tri]:
    """Whether each stage's documented criteria hold; `score` and `campaigns` are the answer's."""
    (first_lo, first_hi), (last_lo, last_hi) = seen_ages(user, now)
    plays_lo, plays_hi = documented_plays(user, now, 30, margin)
    total = len(user.events)
    number = (int, float)
    scored = (score >= 70) if isinstance(score, number) and not isinstance(score, bool) else None
    joined = (campaigns >= 1) if isinstance(campaigns, number) and not isinstance(campaigns, bool) else None
    return {
        "new": both(within(first_lo, first_hi, 7, margin), total <= 3),
        "active": both(within(last_lo, last_hi, 7, margin), total > 3),
        "engaged": both(at_least(plays_lo, plays_hi, 10), joined),
        "power_user": both(at_least(plays_lo, plays_hi, 30), scored),
        "at_risk": between(last_lo, last_hi, 14, 30, margin),
        "churned": over(last_lo, last_hi, 30, margin),
    }


def documented_stages(criteria: dict[str, Tri]) -> set[str] | None:
    """The stages an answer may give: those whose criteria may hold, once some stage's surely hold; None
    (any stage) when none surely does: the user may meet no stage (the 7-14 day gap), which is inferred."""
    if not any(met is True for met in criteria.values()):
        return None
    return {stage for stage, met in criteria.items() if met is not False}


# --- inferred (the mock's rules, restated) -------------------------------------------------------------


def tier_of(plays30d: int) -> str:
    return "whale" if plays30d > 50 else "power_user" if plays30d >= 15 else "regular" if plays30d >= 5 else "casual"


def exact_figures(user: UserModel, now: int) -> dict[str, Any]:
    """Every figure of the profile at `now` by the inferred rules, named as the API has them."""
    def window(days: int) -> tuple[int, int]:
        inside = [e for e in user.events if now - days * DAY < e.at <= now]
        return sum(e.category == GAME_PLAY for e in inside), sum(max(e.points, 0) for e in inside)

    plays = [e for e in user.events if e.category == GAME_PLAY]
    plays7d, earned7d = window(7)
    plays30d, earned30d = window(30)
    campaigns = len({e.campaign for e in user.events if e.campaign is not None})
    total = len(user.events)
    idle = max(0, now - user.last_seen)
    recency = max(0.0, 1 - idle / DAY / 30) if total else 0.0
    score = round(100 * (0.3 * recency + 0.3 * min(plays30d / 30, 1) + 0.2 * min(earned30d / 500, 1)
                         + 0.2 * min(campaigns / 3, 1)), 1)
    if idle > 30 * DAY:
        stage = "churned"
    elif idle >= 14 * DAY:
        stage = "at_risk"
    elif plays30d >= 30 and score >= 70:
        stage = "power_user"
    elif plays30d >= 10 and campaigns >= 1:
        stage = "engaged"
    elif now - user.first_seen < 7 * DAY and total <= 3:
        stage = "new"
    else:
        stage = "active"
    return {"lifecycleStage": stage, "engagementTier": tier_of(plays30d), "engagementScore": score,
            "totalPlays": len(plays), "plays7d": plays7d, "plays30d": plays30d, "pointsEarned7d": earned7d,
            "pointsEarned30d": earned30d, "campaignsJoined": campaigns,
            "winRate": round(sum(e.points > 0 for e in plays) / len(plays), 4) if plays else 0.0,
            "totalEvents": total, "firstSeenAt": user.first_seen, "lastSeenAt": user.last_seen}
