"""The mock's notion of "now", which tests (and later the control API) can freeze and shift."""
from __future__ import annotations

import calendar
import re
import threading
from datetime import UTC, datetime, timedelta
from functools import lru_cache

# The instants the mock can hold and write: datetime's years 1-9999, less a day at each end so
# that a running clock moved to a bound still has room to tick.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


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
        """Stop the clock at `at` (timezone-aware, within EARLIEST-LATEST; ValueError otherwise)."""
        if at.tzinfo is None:
            raise ValueError("a frozen time must carry a timezone")
        with self._lock:
            self._frozen = _in_range(at)

    def advance(self, delta: timedelta) -> None:
        """Move the clock by `delta`, frozen or not; ValueError if it would leave EARLIEST-LATEST."""
        with self._lock:
            if self._frozen is not None:
                self._frozen = _in_range(self._frozen, delta)
            else:
                _in_range(datetime.now(UTC) + self._offset, delta)
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


def _in_range(moment: datetime, delta: timedelta = timedelta(0)) -> datetime:
    """`moment + delta` in UTC, if it lies within EARLIEST-LATEST; ValueError otherwise."""
    try:
        moved = moment.astimezone(UTC) + delta
    except OverflowError:
        moved = None
    if moved is None or not EARLIEST <= moved <= LATEST:
        raise ValueError(f"the mock's time must stay between {EARLIEST.date().isoformat()} and "
                         f"{LATEST.date().isoformat()} (UTC)")
    return moved


def format_instant(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a 'Z'."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@lru_cache(maxsize=4096)
def format_timestamp(epoch_seconds: int) -> str:
    """RFC 3339 UTC with a 'Z' and whole seconds, as in the documented example (cached: most
    answers carry the current second)."""
    # isoformat, not strftime: glibc's %Y writes the year 1 as "1", not "0001".
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat().replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """An RFC 3339 timestamp ('Z' or an offset) within EARLIEST-LATEST, in UTC; ValueError otherwise."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no timezone")
    return _in_range(moment)


@lru_cache(maxsize=4096)
def parse_timestamp(text: str) -> int:
    """Epoch seconds of an RFC 3339 timestamp (see parse_instant); cached, as stored ones repeat."""
    return int(parse_instant(text).timestamp())


# An RFC 3339 date-time (section 5.6; its `t`, `z` and a leap second included), whatever narrower
# form openapi.yaml's EventTime admits today: the spec and its `format` have checked the values.
_EVENT_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
                         r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))")


def parse_event_time(text: str) -> int:
    """Epoch seconds of an event's occurredAt, checked by the spec; the fraction is dropped (and a
    leap second is the next minute's first)."""
    match = _EVENT_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 time the spec admits")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    sign, offset_hours, offset_minutes = match.groups()[6:]
    offset = 0 if sign is None else (1 if sign == "+" else -1) * (int(offset_hours) * 3600 + int(offset_minutes) * 60)
    return calendar.timegm((year, month, day, hour, minute, second)) - offset
