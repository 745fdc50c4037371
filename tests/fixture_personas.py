"""The users of fixtures/journeys.yaml and the (lifecycleStage, engagementTier) each is meant to show."""
from __future__ import annotations

ACME_TEST_KEY = "pk_test_4e1baec9e705789eebc174f4eabc875a"
PERSONAS = {
    "stage-new": ("new", "casual"),
    "stage-active": ("active", "regular"),
    "stage-engaged": ("engaged", "regular"),
    "stage-power-user": ("power_user", "power_user"),
    "stage-at-risk": ("at_risk", "regular"),
    "stage-churned": ("churned", "casual"),
    "tier-casual": ("active", "casual"),
    "tier-regular": ("active", "regular"),
    "tier-power-user": ("active", "power_user"),
    "tier-whale": ("power_user", "whale"),
}
