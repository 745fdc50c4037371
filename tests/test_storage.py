"""The two stores behind the storage interface behave as one.

A Hypothesis state machine drives the journey rules over the memory store and over the SQLite
store side by side, reopening the SQLite file now and then as a restart would, and requires
the same answers from both at every step, and from the SQLite file reopened after every step.
Ids are random per store, so they are compared by the profile or event they belong to.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mock_server.auth import Principal
from mock_server.clock import Clock, format_timestamp
from mock_server.journeys.memory import MemoryStorage
from mock_server.journeys.offers import OfferError, OfferSpec
from mock_server.journeys.profiles import LoadConflict, LoadItem, OfferConflict, ProfileStore, Restore
from mock_server.journeys.sqlite import SqliteStorage
from mock_server.journeys.storage import Profile, ProfileFields, uuid_text
from mock_server.spec import load_contract
from mock_server.state import offer_limit

FIELDS = ProfileFields(("displayName", "email", "phone", "country", "device", "source"), ("tags", "metadata"))
OFFER_LIMIT = offer_limit(load_contract())
PRINCIPALS = [Principal("partner-a", "TEST", "pk_test_a"), Principal("partner-a", "LIVE", "pk_live_a"),
              Principal("partner-b", "TEST", "pk_test_b")]
EXTERNAL_IDS = st.sampled_from(["u1", "u2", "u3", "ü-4", "😀"])
TEXT = st.text(max_size=8)
BODIES = st.fixed_dictionaries({"externalId": EXTERNAL_IDS}, optional={
    "displayName": TEXT, "email": TEXT, "country": st.sampled_from(["NG", "GB"]),
    "tags": st.dictionaries(st.sampled_from(["plan", "cohort"]), TEXT, max_size=2),
    "metadata": st.dictionaries(st.sampled_from(["a", "b"]), st.integers() | TEXT | st.none(), max_size=2),
})
START = datetime(2025, 1, 15, tzinfo=UTC)
# Backfilled up to 40 days (past the 30-day window) or a day ahead of the start; the clock moves too.
EVENT_TIMES = st.integers(-40 * 86400, 86400).map(lambda offset: format_timestamp(int(START.timestamp()) + offset))
EVENTS = st.fixed_dictionaries({
    "externalId": EXTERNAL_IDS,
    "category": st.sampled_from(["GAME_PLAY", "CAMPAIGN", "POINTS", "CUSTOM"]),
    "eventType": st.sampled_from(["spin", "campaign_joined", "bonus"]),
}, optional={
    "points": st.integers(-5, 100),
    "occurredAt": EVENT_TIMES,
    "metadata": st.dictionaries(st.sampled_from(["campaignSlug", "a"]),
                                st.sampled_from(["summer", "winter"]) | st.integers() | TEXT, max_size=2),
})
BATCHES = st.lists(EVENTS, min_size=1, max_size=6)  # several users in one batch, some of them new
FILTERS = st.tuples(st.sampled_from([None, "partner-a", "partner-b"]), st.sampled_from([None, "TEST", "LIVE"]))


def same_ids(value: Any, names: dict[Any, str]) -> Any:
    """`value` with every id (of a profile, event or offer, also as a claim event's `offerId`, also
    in stored metadata) replaced by the order in which it first appeared."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, bytes):
        value = json.loads(value)
    if isinstance(value, dict):
        return {k: names.setdefault(uuid.UUID(str(v)).int if k == "offerId" else v, f"id-{len(names)}")
                if k in ("id", "offerId") else same_ids(v, names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [same_ids(v, names) for v in value]
    return value


def contents(store: ProfileStore) -> Any:
    """What a store holds as its reads give it: every profile, with its figures now and its events."""
    storage = store._storage
    return (store.export(), len(store), store.page(0, 1000),
            [list(storage.journey(space, profile.external_id) or ()) for space, _, profile in storage.items()])


@contextmanager
def failing_after(storage: SqliteStorage, rows: int) -> Iterator[None]:
    """Fail the SQLite store's write of row number `rows` + 1 (a profile, event or offer), as a full disk would."""
    db = storage._db()
    db.execute("CREATE TEMP TABLE countdown (rows INTEGER)")
    db.execute("INSERT INTO countdown VALUES (?)", (rows,))
    for table, change in (("profiles", "INSERT"), ("profiles", "UPDATE"), ("events", "INSERT"), ("offers", "INSERT"),
                          ("offers", "UPDATE")):
        db.execute(f"CREATE TEMP TRIGGER fail_{table}_{change} BEFORE {change} ON main.{table} BEGIN "
                   "UPDATE countdown SET rows = rows - 1; "
                   "SELECT RAISE(ABORT, 'disk full') WHERE (SELECT rows FROM countdown) < 0; END")
    try:
        yield
    finally:
        db.execute("DROP TABLE temp.countdown")  # its triggers go with it


class BothStores(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        self.clock = Clock(frozen_at=START)
        self.memory = ProfileStore(self.clock, FIELDS, MemoryStorage(), OFFER_LIMIT)
        self.sqlite_storage, self.sqlite = self._open_sqlite()
        self.memory_ids: dict[Any, str] = {}
        self.sqlite_ids: dict[Any, str] = {}

    def _open_sqlite(self) -> tuple[SqliteStorage, ProfileStore]:
        storage = SqliteStorage(self.folder / "state.db", FIELDS)
        return storage, ProfileStore(self.clock, FIELDS, storage, OFFER_LIMIT)

    def both(self, call: Any, sqlite: ProfileStore | None = None) -> None:
        outcomes = []
        for store, names in ((self.memory, self.memory_ids), (sqlite or self.sqlite, self.sqlite_ids)):
            try:
                outcomes.append(("ok", same_ids(call(store), names)))
            except LoadConflict as exc:
                outcomes.append(("conflict", (exc.index, str(exc).split(" id ")[0])))
            except OfferError as exc:
                outcomes.append(("refused", (exc.status, exc.message)))
        assert outcomes[0] == outcomes[1]

    @rule(principal=st.sampled_from(PRINCIPALS), body=BODIES)
    def upsert(self, principal: Principal, body: dict[str, Any]) -> None:
        self.both(lambda store: store.upsert(principal, body))

    @rule(items=st.lists(st.tuples(st.sampled_from(PRINCIPALS), BODIES, st.booleans()), max_size=4))
    def load(self, items: list[tuple[Principal, dict[str, Any], bool]]) -> None:
        # Restored ids are chosen per profile name, the same in both stores, so clashes match too.
        def run(store: ProfileStore) -> Any:
            return store.load([LoadItem(p, b, Restore(str(uuid.uuid5(uuid.NAMESPACE_URL, b["externalId"]))
                                                      if restore else None)) for p, b, restore in items])
        self.both(run)

    @rule(principal=st.sampled_from(PRINCIPALS), bodies=BATCHES)
    def track(self, principal: Principal, bodies: list[dict[str, Any]]) -> None:
        self.both(lambda store: store.track(principal, bodies))

    @rule(principal=st.sampled_from(PRINCIPALS), bodies=BATCHES, data=st.data())
    def track_fails_midway(self, principal: Principal, bodies: list[dict[str, Any]], data: st.DataObject) -> None:
        """A batch whose write fails partway (each event is a row, so it fails): the SQLite store
        keeps nothing of it, and so still agrees with the memory store, which never got it."""
        before = contents(self.sqlite)
        rows = data.draw(st.integers(0, len(bodies) - 1), label="rows")
        with failing_after(self.sqlite_storage, rows), pytest.raises(sqlite3.IntegrityError, match="disk full"):
            self.sqlite.track(principal, bodies)
        assert contents(self.sqlite) == before

    @rule(principal=st.sampled_from(PRINCIPALS), external_id=EXTERNAL_IDS)
    def offers(self, principal: Principal, external_id: str) -> None:
        self.both(lambda store: store.offers(principal, external_id))

    @staticmethod
    def _claim(store: ProfileStore, principal: Principal, external_id: str, pick: int) -> Any:
        """Claim the user's offer number `pick` (in issue order; ids differ between the stores)."""
        listing = store.offer_listing(principal.space, external_id)
        held = listing.offers if listing is not None else []
        return store.claim(principal, external_id, uuid_text(held[pick % len(held)].id) if held else "none")

    @rule(principal=st.sampled_from(PRINCIPALS), external_id=EXTERNAL_IDS, pick=st.integers(0, 5))
    def claim(self, principal: Principal, external_id: str, pick: int) -> None:
        self.both(lambda store: self._claim(store, principal, external_id, pick))

    @rule(principal=st.sampled_from(PRINCIPALS), external_id=EXTERNAL_IDS, pick=st.integers(0, 5),
          rows=st.integers(0, 1))
    def claim_fails_midway(self, principal: Principal, external_id: str, pick: int, rows: int) -> None:
        """A claim writes the offer, maybe the profile (seen now), and the event (two rows at least):
        failing the first or second keeps none of them."""
        before = contents(self.sqlite)
        with failing_after(self.sqlite_storage, rows), pytest.raises((OfferError, sqlite3.IntegrityError)):
            self._claim(self.sqlite, principal, external_id, pick)
        assert contents(self.sqlite) == before

    @rule(principal=st.sampled_from(PRINCIPALS), external_id=EXTERNAL_IDS,
          offer_type=st.sampled_from(["vip_play", "daily_free_spin"]), days=st.integers(-3, 3))
    def place_offer(self, principal: Principal, external_id: str, offer_type: str, days: int) -> None:
        def run(store: ProfileStore) -> Any:
            try:
                return store.put_offer(principal, external_id, OfferSpec(offer_type, issued_ago=days * 86400))
            except OfferConflict as exc:
                return ("conflict", str(exc))
        self.both(run)

    @rule(seconds=st.integers(-3600, 86400))
    def move_clock(self, seconds: int) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    @rule(filters=FILTERS)
    def remove(self, filters: tuple[str | None, str | None]) -> None:
        self.both(lambda store: store.remove(*filters))

    @rule(filters=FILTERS, external_id=st.none() | EXTERNAL_IDS, offset=st.integers(0, 4), limit=st.integers(1, 4))
    def page(self, filters: tuple[str | None, str | None], external_id: str | None, offset: int, limit: int) -> None:
        self.both(lambda store: store.page(offset, limit, *filters, external_id))

    @rule()
    def restart(self) -> None:
        self.sqlite.close()
        self.sqlite_storage, self.sqlite = self._open_sqlite()

    @invariant()
    def contents_agree(self) -> None:
        self.both(contents)

    @invariant()
    def the_file_holds_what_the_copy_does(self) -> None:
        """A store reopened on the file agrees, while the running one goes on with its copy in memory."""
        self.sqlite.close()  # let go of the file; it takes it back on its next write
        _, reopened = self._open_sqlite()
        try:
            self.both(contents, reopened)
        finally:
            reopened.close()

    def teardown(self) -> None:
        self.sqlite.close()
        shutil.rmtree(self.folder, ignore_errors=True)


TestBothStores = BothStores.TestCase
TestBothStores.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)


class FailingWrites(MemoryStorage):
    """A memory store whose writes fail, as a full disk would fail the SQLite store's."""

    def put(self, space: Any, api_key: str, profile: Any) -> None:
        raise OSError("disk full")


def test_a_write_that_fails_leaves_the_stored_profile_as_it_was():
    storage = FailingWrites()
    MemoryStorage.put(storage, ("partner-a", "TEST"), "pk_test_a", Profile(1, "u1", 100, 100, ("Old",) + (None,) * 5,
                                                                            (b'{"plan":"free"}', None)))
    store = ProfileStore(Clock(frozen_at=datetime(2025, 1, 15, tzinfo=UTC)), FIELDS, storage, OFFER_LIMIT)
    with pytest.raises(OSError, match="disk full"):
        store.upsert(PRINCIPALS[0], {"externalId": "u1", "displayName": "New", "tags": {"plan": "paid"}})
    assert storage.get(("partner-a", "TEST"), "u1") == Profile(1, "u1", 100, 100, ("Old",) + (None,) * 5,
                                                               (b'{"plan":"free"}', None))
