"""Each user's events, kept in compact columns: a million of them take ~65 MB.

`Journey` holds one user's events sorted by occurredAt (ties in the order they were added), one
array per field: 16 bytes of id, 8 of time, 8 of points, 1 of category, 4 of eventType and 4 of
metadata (both codes into a `Tables` shared by every journey of a store), plus 12 of prefix sums.
Measured by bench/event_memory.py (tracemalloc, 1,000,000 events over 10,000 journeys, 20 event
types, 50 metadata objects, half the events without): 64.6 bytes per event, everything included.

Reads cost O(log n) (`window`) or O(limit) (`page`) whatever the journey's length: two bisections
into the prefix sums answer a window. An event older than the newest (a backfill) is inserted in
place (a memmove) and kept aside as pending: windows add the pending ones by hand, and every
`Journey.FOLD_AFTER` of them the prefix sums are rebuilt from the oldest, at C speed, on the write.

Nothing here locks: callers hold one lock over every journey and their `Tables`.
"""
from __future__ import annotations

import json
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import Any, Generic, TypeVar

from ..clock import format_timestamp
from .engine import CAMPAIGN, GAME_PLAY, campaign_of

POINTS_LIMIT = 2**31 - 1  # |points| bound: the sums of positive points then fit 64 bits for any length
ID_BYTES = 16

H = TypeVar("H", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Event:
    """One stored event, as `Journey.add` takes it and `Journey.page` gives it back."""

    id: int  # the UUID as a 128-bit integer
    occurred_at: int  # epoch seconds
    category: str
    event_type: str
    points: int
    metadata: bytes | None  # `pack_metadata` of the event's metadata: None for {}
    campaign: str | None  # engine.campaign_of(category, metadata); recomputed when read back


def pack(value: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as profiles and events are stored. (Not orjson: its bytes keep a 4 KiB
    buffer each, measured at 4,121 bytes for a two-tag object against 88 here; fine for an answer,
    ruinous for a stored profile.)"""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def unpack(value: bytes) -> dict[str, Any]:
    """The object `pack` packed. (The standard decoder: orjson would silently turn integers wider
    than 64 bits into floats.)"""
    result: dict[str, Any] = json.loads(value)
    return result


def pack_metadata(metadata: dict[str, Any]) -> bytes | None:
    """`pack`, None for {}: equal objects give equal bytes, which `Tables` then keeps once."""
    return pack(metadata) if metadata else None


def unpack_metadata(metadata: bytes | None) -> dict[str, Any]:
    """The object `pack_metadata` packed."""
    return unpack(metadata) if metadata is not None else {}


def packed_campaign(category: str, metadata: bytes | None) -> str | None:
    """`campaign_of` an event read back, its metadata still packed (only a CAMPAIGN event's is read)."""
    return campaign_of(category, unpack_metadata(metadata)) if category == CAMPAIGN else None


def event_fields(event: Event) -> dict[str, Any]:
    """What an event says, as answers and exports write it after whose it is."""
    return {"category": event.category, "eventType": event.event_type, "points": event.points,
            "occurredAt": format_timestamp(event.occurred_at), "metadata": unpack_metadata(event.metadata)}


class Table(Generic[H]):
    """Distinct values, each kept once and named by its index."""

    __slots__ = ("_codes", "_limit", "values")

    def __init__(self, *first: H, limit: int = 2**32) -> None:
        self.values: list[H] = list(first)
        self._codes = {value: code for code, value in enumerate(first)}
        self._limit = limit

    def code(self, value: H) -> int:
        """The index of `value`, added if new (ValueError if the table is full)."""
        code = self._codes.get(value)
        if code is None:
            if len(self.values) == self._limit:
                raise ValueError(f"more than {self._limit} distinct values: {value!r} is one too many")
            code = self._codes[value] = len(self.values)
            self.values.append(value)
        return code


class Tables:
    """The event types and metadata of a store's journeys; they grow with the distinct values seen."""

    __slots__ = ("event_types", "metadata")

    def __init__(self) -> None:
        self.event_types: Table[str] = Table()
        self.metadata: Table[bytes | None] = Table(None)  # code 0: no metadata


# One byte per event: up to 256 distinct categories per process (the spec's enum has four).
_CATEGORIES: Table[str] = Table(GAME_PLAY, limit=256)
_PLAY_MASK = bytes([1]) + bytes(255)  # bytes.translate of the category codes: 1 for GAME_PLAY


class Journey:
    """One user's events, oldest first (ties in the order added), with all-time counters."""

    __slots__ = ("_tables", "_ids", "_at", "_points", "_categories", "_types", "_metadata",
                 "_plays_upto", "_gains_upto", "_pending", "_plays", "_wins", "_campaigns")

    FOLD_AFTER = 64
    """Backfilled events kept aside before the prefix sums are rebuilt over them: a read scans at
    most this many, and a rebuild (~17 ms over 100,000 events) comes once per this many backfills."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables
        self._ids = bytearray()
        self._at = array("q")
        self._points = array("q")
        self._categories = bytearray()
        self._types = array("I")
        self._metadata = array("I")
        # Prefix sums over the settled events (all but the pending ones, in order):
        # _plays_upto[i] = GAME_PLAY events among the first i, _gains_upto[i] = their positive points.
        self._plays_upto = array("I", [0])
        self._gains_upto = array("q", [0])
        # Backfilled events not in the prefix sums yet, as (occurredAt, plays, gains), sorted.
        self._pending: list[tuple[int, int, int]] | None = None
        self._plays = 0
        self._wins = 0
        self._campaigns: set[str] | None = None  # an empty set costs 216 bytes; most users join none

    def add(self, event: Event) -> None:
        """Store `event` in occurredAt order, after any events of the same second."""
        # Written for speed (a batch of 100 events calls this 100 times): the tables' dicts are
        # read directly, the common case of a known value skipping a method call, and attributes
        # are read once. 1.3 µs an event against 1.6 µs (100,000 events over 1,000 journeys,
        # 5% backfilled), leaving every column, prefix sum and counter as before.
        points = event.points
        if not -POINTS_LIMIT <= points <= POINTS_LIMIT:
            raise ValueError(f"points {points} outside ±{POINTS_LIMIT}")
        tables = self._tables
        category = _CATEGORIES._codes.get(event.category)
        if category is None:
            category = _CATEGORIES.code(event.category)
        event_type = tables.event_types._codes.get(event.event_type)
        if event_type is None:
            event_type = tables.event_types.code(event.event_type)
        metadata = tables.metadata._codes.get(event.metadata)
        if metadata is None:
            metadata = tables.metadata.code(event.metadata)
        at, play, gain = event.occurred_at, int(category == 0), points if points > 0 else 0
        times = self._at
        if not times or at >= times[-1]:
            self._ids += event.id.to_bytes(ID_BYTES, "big")
            times.append(at)
            self._points.append(points)
            self._categories.append(category)
            self._types.append(event_type)
            self._metadata.append(metadata)
            # Later than every event, so it is the last settled one even with backfills pending.
            plays_upto, gains_upto = self._plays_upto, self._gains_upto
            plays_upto.append(plays_upto[-1] + play)
            gains_upto.append(gains_upto[-1] + gain)
        else:
            index = bisect_right(times, at)
            self._ids[index * ID_BYTES:index * ID_BYTES] = event.id.to_bytes(ID_BYTES, "big")
            times.insert(index, at)
            self._points.insert(index, points)
            self._categories.insert(index, category)
            self._types.insert(index, event_type)
            self._metadata.insert(index, metadata)
            self._pend(at, play, gain)
        if play:
            self._plays += 1
            self._wins += points > 0
        if event.campaign is not None:
            if self._campaigns is None:
                self._campaigns = set()
            self._campaigns.add(event.campaign)

    def _pend(self, at: int, play: int, gain: int) -> None:
        pending = self._pending or []
        insort(pending, (at, play, gain))
        if len(pending) < self.FOLD_AFTER:
            self._pending = pending
            return
        # Every event from the oldest pending one on is settled afresh; those before it already are.
        start = bisect_left(self._at, pending[0][0])
        del self._plays_upto[start + 1:], self._gains_upto[start + 1:]
        self._plays_upto.extend(accumulate(self._categories[start:].translate(_PLAY_MASK),
                                           initial=self._plays_upto.pop()))
        self._gains_upto.extend(accumulate(map(max, self._points[start:], repeat(0)), initial=self._gains_upto.pop()))
        self._pending = None

    def __len__(self) -> int:
        return len(self._at)

    @property
    def plays(self) -> int:
        """GAME_PLAY events."""
        return self._plays

    @property
    def wins(self) -> int:
        """GAME_PLAY events with points > 0."""
        return self._wins

    @property
    def campaigns(self) -> int:
        """Distinct campaign names."""
        return len(self._campaigns) if self._campaigns is not None else 0

    def window(self, since: int, until: int) -> tuple[int, int]:
        """(GAME_PLAY events, sum of positive points) of the events with since < occurredAt <= until."""
        if until <= since:
            return 0, 0
        (plays, gains), (plays_before, gains_before) = self._upto(until), self._upto(since)
        return plays - plays_before, gains - gains_before

    def _upto(self, instant: int) -> tuple[int, int]:
        """(GAME_PLAY events, sum of positive points) of the events with occurredAt <= instant."""
        settled, plays, gains = bisect_right(self._at, instant), 0, 0
        for at, play, gain in self._pending or ():
            if at > instant:
                break
            settled, plays, gains = settled - 1, plays + play, gains + gain
        return self._plays_upto[settled] + plays, self._gains_upto[settled] + gains

    def page(self, offset: int, limit: int) -> list[Event]:
        """`limit` events from `offset`, newest first (of one second's, the last added first)."""
        start = len(self._at) - 1 - offset
        return [self._event(index) for index in range(start, max(start - limit, -1), -1)]

    def __iter__(self) -> Iterator[Event]:
        """Every event, oldest first: the order that `add` restores."""
        return map(self._event, range(len(self._at)))

    def _event(self, index: int) -> Event:
        category = _CATEGORIES.values[self._categories[index]]
        metadata = self._tables.metadata.values[self._metadata[index]]
        return Event(int.from_bytes(self._ids[index * ID_BYTES:(index + 1) * ID_BYTES], "big"), self._at[index],
                     category, self._tables.event_types.values[self._types[index]], self._points[index], metadata,
                     packed_campaign(category, metadata))
