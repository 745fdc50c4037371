"""A partner's app: the calls it makes to the GamifyHost User Journeys API."""
from __future__ import annotations

from typing import Any

import requests

USERS = "/v1/user-journeys/users"


class GamifyHostUnavailable(Exception):
    """GamifyHost answered 5xx: the app keeps the sign-up and tries again later."""


class Loyalty:
    """The app's loyalty features, backed by GamifyHost."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = api_key

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.session.request(method, self.base_url + path, json=body, timeout=10)
        if response.status_code >= 500:
            raise GamifyHostUnavailable(response.json()["message"])
        response.raise_for_status()
        data: dict[str, Any] = response.json()["data"]
        return data

    def sign_up(self, user_id: str, name: str, country: str) -> dict[str, Any]:
        return self._call("POST", USERS, {"externalId": user_id, "displayName": name, "country": country})

    def record_spin(self, user_id: str, points: int) -> None:
        self._call("POST", "/v1/user-journeys/events",
                   {"externalId": user_id, "category": "GAME_PLAY", "eventType": "spin_the_wheel", "points": points})

    def stage(self, user_id: str) -> str:
        stage: str = self._call("GET", f"{USERS}/{user_id}")["lifecycleStage"]
        return stage

    def offer_types(self, user_id: str) -> list[str]:
        return [offer["offerType"] for offer in self._call("GET", f"{USERS}/{user_id}/offers")["offers"]]

    def points_this_week(self, user_id: str) -> int:
        points: int = self._call("GET", f"{USERS}/{user_id}")["pointsEarned7d"]
        return points
