"""The journey engine: a profile's metrics, stage, tier and recommendations from its events at an instant.

Pure: no Flask, no clock (`now` is an argument, epoch seconds) and no storage (the events come as a
`History`). Documented (the overview page): the stage and tier criteria, the score's factors and weights
(Recency 30%, Frequency 30%, Monetary 20%, Breadth 20%) and its 0-100 scale. Inferred, decided here:

- Windows: plays7d/plays30d count GAME_PLAY events, pointsEarned7d/30d sum the positive points of any
  event, with now - N days < occurredAt <= now; events after now count in all-time totals only.
- A win is a GAME_PLAY event with points > 0; winRate = wins / totalPlays, round(x, 4), 0 with no plays.
- Only CAMPAIGN events name a campaign (`campaign_of`); campaignsJoined counts distinct names, all-time.
- Score: R = max(0, 1 - daysSinceLastSeen / 30) (0 with no events), F = min(plays30d / 30, 1),
  M = min(pointsEarned30d / 500, 1), B = min(campaignsJoined / 3, 1);
  score = round(100 * (0.3R + 0.3F + 0.2M + 0.2B), 1).
- Stage, first match wins: churned (last seen > 30 days ago), at_risk (>= 14 days), power_user,
  engaged, new (first seen < 7 days ago, or later than now, and <= 3 events), else active (which
  takes the docs' two gaps: last seen 7-14 days ago, and first seen over 7 days ago with <= 3 events).
- Tier by plays30d: > 50 whale, >= 15 power_user, >= 5 regular, else casual (15 and 50 are power_user).
- Recommendations: the `RULES` table, from stage and tier only.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NamedTuple, Protocol

DAY = 86400
GAME_PLAY = "GAME_PLAY"
CAMPAIGN = "CAMPAIGN"
STAGES = ("new", "active", "engaged", "power_user", "at_risk", "churned")
TIERS = ("casual", "regular", "power_user", "whale")


def campaign_of(category: str, metadata: dict[str, Any] | None) -> str | None:
    """The campaign an event names: metadata's string `campaignSlug` for a CAMPAIGN event, else ""
    (the unnamed campaign); None for any other category."""
    if category != CAMPAIGN:
        return None
    slug = (metadata or {}).get("campaignSlug")
    return slug if isinstance(slug, str) else ""


class History(Protocol):
    """What the engine reads of a user's events (`events.Journey` is one)."""

    def __len__(self) -> int:
        """All events."""

    @property
    def plays(self) -> int:
        """GAME_PLAY events, all-time."""

    @property
    def wins(self) -> int:
        """GAME_PLAY events with points > 0, all-time."""

    @property
    def campaigns(self) -> int:
        """Distinct campaign names, all-time."""

    def window(self, since: int, until: int) -> tuple[int, int]:
        """(GAME_PLAY events, sum of positive points) over since < occurredAt <= until."""


@dataclass(frozen=True, slots=True)
class Metrics:
    """The derived profile fields, named and ordered as the API has them."""

    lifecycleStage: str
    engagementTier: str
    engagementScore: float
    totalPlays: int
    plays7d: int
    plays30d: int
    pointsEarned7d: int
    pointsEarned30d: int
    campaignsJoined: int
    winRate: float
    totalEvents: int

    def as_fields(self) -> dict[str, Any]:
        """The fields in API order, for the profile's JSON. A whole score or rate is written as an
        integer (`0`, not `0.0`), as the documented examples (and JavaScript's numbers) write it."""
        return {name: js_number(getattr(self, name)) for name in _METRIC_NAMES}


def js_number(value: Any) -> Any:
    """A whole float as an integer (`0`, not `0.0`), as the documented examples write numbers."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


_METRIC_NAMES = tuple(field.name for field in fields(Metrics))


def metrics(events: History, first_seen: int, last_seen: int, now: int) -> Metrics:
    """The profile's metrics at `now`; first_seen and last_seen are the profile's (events included)."""
    total, plays, campaigns = len(events), events.plays, events.campaigns
    plays7d, earned7d = events.window(now - 7 * DAY, now)
    plays30d, earned30d = events.window(now - 30 * DAY, now)
    idle = max(0, now - last_seen)
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
    elif now - first_seen < 7 * DAY and total <= 3:
        stage = "new"
    else:
        stage = "active"
    tier = "whale" if plays30d > 50 else "power_user" if plays30d >= 15 else "regular" if plays30d >= 5 else "casual"
    return Metrics(stage, tier, score, plays, plays7d, plays30d, earned7d, earned30d, campaigns,
                   round(events.wins / plays, 4) if plays else 0.0, total)


class Rule(NamedTuple):
    """One recommendation, given when the profile's `field` ("lifecycleStage" or "engagementTier") is `value`."""

    field: str
    value: str
    priority: str
    name: str
    reason: str


RULES: tuple[Rule, ...] = (
    Rule("lifecycleStage", "new", "high", "Welcome Free Spin",
         "A free spin with a guaranteed prize makes a good first game."),
    Rule("lifecycleStage", "new", "medium", "Welcome Bonus", "Bonus points help a new player get started."),
    Rule("lifecycleStage", "churned", "high", "Win-Back Free Spin",
         "Away for more than 30 days: a high-value free spin to bring them back."),
    Rule("lifecycleStage", "churned", "medium", "Return Bonus", "Bonus points reward coming back."),
    Rule("lifecycleStage", "at_risk", "high", "Retention Play",
         "Away for 14 to 30 days: a guaranteed win before they drift off."),
    Rule("lifecycleStage", "power_user", "medium", "Double Points", "Double points on the next game for a top player."),
    Rule("lifecycleStage", "engaged", "medium", "Daily Free Spin", "Keeps a regular player coming back every day."),
    Rule("lifecycleStage", "active", "medium", "Daily Free Spin", "Turns recent visits into a daily habit."),
    Rule("engagementTier", "whale", "high", "VIP Play", "Over 50 plays in 30 days: an exclusive high-stakes game."),
    Rule("engagementTier", "power_user", "medium", "Double Points", "Double points on the next game for a top player."),
    Rule("engagementTier", "regular", "low", "Daily Free Spin", "Keeps a regular player coming back every day."),
)
"""The recommendation rules, all inferred: the docs say only that recommendations follow the profile.
Names and triggers follow the documented offer types (welcome_free_play, welcome_bonus, win_back_play,
return_bonus, retention_play, vip_play, multiplier_bonus, daily_free_spin). Every stage has a rule, so
every profile gets at least one; the casual tier adds none."""

_RANK = {"high": 0, "medium": 1, "low": 2}


def recommendations(stage: str, tier: str) -> list[dict[str, str]]:
    """The rules matching `stage` and `tier`: high priority first, stage rules before tier rules within
    a priority, and each name once (at its highest priority)."""
    wanted = {("lifecycleStage", stage), ("engagementTier", tier)}
    matched = sorted((rule for rule in RULES if (rule.field, rule.value) in wanted),
                     key=lambda rule: _RANK[rule.priority])
    given: set[str] = set()
    result = []
    for rule in matched:
        if rule.name not in given:
            given.add(rule.name)
            result.append({"priority": rule.priority, "name": rule.name, "reason": rule.reason})
    return result
