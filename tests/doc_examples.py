"""The documented request and profile shape of Track / Enrich User, as test data."""

DOC_REQUEST = {
    "externalId": "user_12345",
    "displayName": "Jane Doe",
    "email": "jane@example.com",
    "country": "NG",
    "device": "mobile",
    "source": "referral",
    "tags": {"plan": "premium", "cohort": "2025-Q1"},
    "metadata": {"signupDate": "2025-01-15"},
}
DOC_KEY = "pk_live_your_public_key"
DOC_PROFILE_KEYS = [
    "id", "partnerId", "externalId", "environment", "displayName", "email", "phone", "country",
    "device", "source", "firstSeenAt", "lastSeenAt", "lifecycleStage", "engagementTier",
    "engagementScore", "totalPlays", "plays7d", "plays30d", "pointsEarned7d", "pointsEarned30d",
    "campaignsJoined", "winRate", "totalEvents", "tags", "metadata",
]
