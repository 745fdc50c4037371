"""The mock's notion of "now", which tests (and later the control API) can freeze and shift."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from functools import lru_cache

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Clock:
    """Real UTC time unless frozen; advancing moves a frozen clock or offsets a running one."""

    def __init__(self, frozen_at: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen = frozen_at
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        frozen = self._frozen
        if frozen is not None:
            return frozen
        return datetime.now(UTC) + self._offset

    def freeze(self, at: datetime) -> None:
        """Stop the clock at `at` (must be timezone-aware)."""
        if at.tzinfo is None:
            raise ValueError("a frozen time must carry a timezone")
        with self._lock:
            self._frozen = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move the clock by `delta`, frozen or not."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += delta
            else:
                self._offset += delta

    def resume(self) -> None:
        """Back to real time: unfrozen, no offset."""
        with self._lock:
            self._frozen = None
            self._offset = timedelta(0)

    def describe(self) -> dict[str, object]:
        """`{now, frozen, offsetSeconds}` as the control API reports it."""
        with self._lock:
            frozen, offset = self._frozen is not None, self._offset
        return {"now": format_instant(self.now()), "frozen": frozen, "offsetSeconds": offset.total_seconds()}


def format_instant(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a 'Z'."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=4096)
def format_timestamp(epoch_seconds: int) -> str:
    """RFC 3339 UTC with a 'Z' and whole seconds, as in the documented example (cached: most
    answers carry the current second)."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime(TIMESTAMP_FORMAT)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 timestamp ('Z' or an offset) as an aware datetime; ValueError otherwise."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no timezone")
    return moment
