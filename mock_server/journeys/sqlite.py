"""Profiles and events in an SQLite database (`--state FILE`): the store of record, safe from a crash.

Every write outside a transaction is committed before `put` or `add_events` returns, in WAL mode,
so a profile or event answered 200 survives kill -9 or an out-of-memory kill. With `sync="normal"`
(the default) a commit is written to the operating system but not forced to the disk: a power cut
may lose the last commits. `sync="full"` forces each commit to the disk (measured here: 31 µs against
100 µs per read-and-write of a profile).

Reads are served from a copy in memory, loaded from the file at start: reading each profile
back from SQLite on every request cost about 0.79x the in-memory throughput, against 0.96x with
the copy (the one mock that holds the file's lock is its only writer).

The tables are meant to be read by people too (`sqlite3 FILE`): columns carry the API's field
names, ids are UUID text, times are RFC 3339 text and tags/metadata are JSON text. Events keep
their order of arrival in `seq`: `SELECT * FROM events ORDER BY seq`; offers their order of issue.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from ..clock import format_timestamp, parse_timestamp
from .events import Event, Journey, packed_campaign
from .memory import MemoryStorage
from .offers import Offer
from .storage import Profile, ProfileFields, Space, uuid_text

# Schema 2 added the events table, schema 3 the offers table. An older file is a newer one with
# those tables empty: it is upgraded in place at open. The number still had to change: an older
# mock would open a newer file without a word, serve its profiles without their events or offers,
# and its reset would leave them behind, to come back with the next profile of the same externalId.
SCHEMA_VERSION = "3"
UPGRADES_FROM = ("1", "2")
SQLITE_HEADER = b"SQLite format 3\x00"
SYNC_MODES = ("normal", "full")
BUSY_TIMEOUT_MS = 5000  # another process (the sqlite3 shell, say) may hold the write lock briefly
# Each (partnerId, environment) with profiles, in the order it got its first one, and that
# profile's key: the key exports carry, as the memory store keeps the first key of a space.
SPACES = ("WITH spaces AS (SELECT g.partnerId, g.environment, g.first, f.apiKey FROM (SELECT partnerId, "
          "environment, min(rowid) AS first FROM profiles GROUP BY partnerId, environment) AS g "
          "JOIN profiles AS f ON f.rowid = g.first)")
# No index on the event id: uuid4 does not repeat, and nothing looks an event up by it.
EVENT_COLUMNS = ("id", "partnerId", "environment", "externalId", "category", "eventType", "points", "occurredAt",
                 "metadata")
ADD_EVENTS = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
# Each user's events together (the index's order), oldest first, ties in the order they came: the
# journey's own order, so each event is appended, never inserted as a backfill (RFC 3339 text with
# whole seconds and four-digit years sorts as time does; SQLite sorts each user's events apart).
# 100,000 events tracked newest first loaded in 16.5 s in arrival order, 0.7 s in this one.
OFFER_COLUMNS = ("id", "partnerId", "environment", "externalId", "offerType", "gameType", "title", "description",
                 "pointsValue", "issuedAt", "expiresAt", "claimedAt", "metadata")
# A claim rewrites its offer in place (the id is unique), keeping its seq: the order offers were issued.
PUT_OFFER = (f"INSERT INTO offers ({', '.join(OFFER_COLUMNS)}) VALUES ({', '.join('?' * len(OFFER_COLUMNS))}) "
             "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in OFFER_COLUMNS[4:]))
LOAD_OFFERS = f"SELECT {', '.join(OFFER_COLUMNS)} FROM offers ORDER BY seq"
LOAD_EVENTS = ("SELECT partnerId, environment, externalId, id, occurredAt, category, eventType, points, metadata "
               "FROM events ORDER BY partnerId, environment, externalId, occurredAt, seq")


class StateFileError(ValueError):
    """A state file that cannot be used; the message names the file and what to do."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteStorage:
    """The storage interface over one SQLite file; one connection per process, opened lazily.

    SQLite connections must not cross a fork, and the server forks its worker after the app
    is built (and has loaded fixtures): the connection is closed before any fork and opened
    again on first use, in whichever process that is.

    One mock at a time: the file is locked (flock) from the first open to close(), so a second
    mock given the same file is refused at start rather than interleaving its writes. The lock
    crosses the fork with its descriptor, so the worker holds it from its first instant. The
    sqlite3 shell takes no such lock and can read alongside.
    """

    def __init__(self, path: str | Path, fields: ProfileFields, sync: str = "normal") -> None:
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {', '.join(SYNC_MODES)}")
        self.path = Path(path)
        self._fields = fields
        self._sync = sync
        self._connection: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._pid = 0
        data = [*fields.text, *fields.merged]
        self._columns = ["partnerId", "environment", "externalId", "id", "apiKey", "firstSeenAt", "lastSeenAt", *data]
        listed = ", ".join(map(_quote, self._columns))
        self._prefixed = ", ".join("p." + column for column in ["id", "firstSeenAt", "lastSeenAt", *map(_quote, data)])
        # id and apiKey are the profile's from its creation; everything after them follows the write.
        updates = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in self._columns[5:])
        # An upsert, not INSERT OR REPLACE: the row keeps its rowid, which orders the load at start.
        self._put_sql = (f"INSERT INTO profiles ({listed}) VALUES ({', '.join('?' * len(self._columns))}) "
                         f"ON CONFLICT (partnerId, environment, externalId) DO UPDATE SET {updates}")
        self._memory = MemoryStorage()
        # Inside transaction(): the profiles it replaced, to put back if it fails, and the events
        # (a journey cannot take events back) and offers it added, for the copy once it commits.
        # None outside.
        self._undo: list[tuple[Space, str, Profile | None]] | None = None
        self._added: list[tuple[Space, str, Sequence[Event]]] | None = None
        self._placed: list[tuple[Space, str, Offer]] | None = None  # and the offers it stored
        self._load(self._db())  # and fail at start, not on the first request, if the file is unusable

    # -- the connection ----------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            # A connection inherited through a fork is left alone, not closed: closing it here
            # would drop this process's locks on the file. The flock, inherited, is kept.
            self._connection = None
            locked_here = self._lock_fd is None
            if locked_here:
                self._lock_fd = self._lock()
            try:
                self._connection = self._open()
            except BaseException:
                if locked_here:
                    self._unlock()
                raise
            self._pid = os.getpid()
        return self._connection

    def _lock(self) -> int:
        """Lock the file for this mock alone (the kernel drops the lock when the process dies)."""
        self._check_file()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateFileError(f"{self.path}: cannot open it: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateFileError(f"{self.path}: in use by another gamifyhost-mock; give each mock "
                                 "its own --state file") from None
        return fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _check_file(self) -> None:
        if self.path.is_dir():
            raise StateFileError(f"{self.path}: is a folder; --state needs a file")
        if self.path.exists() and self.path.stat().st_size:
            with self.path.open("rb") as fh:
                if fh.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                    raise StateFileError(
                        f"{self.path}: not an SQLite database. --state keeps an SQLite file now; to bring "
                        f"in a JSON export, start with --fixtures {self.path} --state NEW_FILE")

    def _open(self) -> sqlite3.Connection:
        # isolation_level=None: each statement commits by itself unless inside an explicit BEGIN.
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA synchronous = {self._sync.upper()}")
            self._create(connection)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, sqlite3.Error):
                raise StateFileError(f"{self.path}: cannot use it as the state database: {exc}") from None
            raise
        return connection

    def _create(self, db: sqlite3.Connection) -> None:
        data = [*self._fields.text, *self._fields.merged]
        with self._atomic(db):
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            version = db.execute("SELECT value FROM meta WHERE key = 'schemaVersion'").fetchone()
            if version is not None and version[0] not in (SCHEMA_VERSION, *UPGRADES_FROM):
                raise StateFileError(f"{self.path}: written by a version of gamifyhost-mock with state schema "
                                     f"{version[0]}; this one reads schema {SCHEMA_VERSION}")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schemaVersion', ?)", (SCHEMA_VERSION,))
            db.execute(
                "CREATE TABLE IF NOT EXISTS profiles (partnerId TEXT NOT NULL, environment TEXT NOT NULL, "
                "externalId TEXT NOT NULL, id TEXT NOT NULL UNIQUE, apiKey TEXT NOT NULL, firstSeenAt TEXT NOT NULL, "
                "lastSeenAt TEXT NOT NULL, "
                + "".join(f"{_quote(name)} TEXT, " for name in data)
                + "PRIMARY KEY (partnerId, environment, externalId))")
            # A field the spec gained since the file was made becomes a column, empty so far.
            present = {row[1] for row in db.execute("PRAGMA table_info(profiles)")}
            for name in data:
                if name not in present:
                    db.execute(f"ALTER TABLE profiles ADD COLUMN {_quote(name)} TEXT")
            # seq aliases the rowid, so that even VACUUM keeps the order events came in.
            db.execute(
                "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, "
                "partnerId TEXT NOT NULL, environment TEXT NOT NULL, externalId TEXT NOT NULL, category TEXT NOT NULL, "
                "eventType TEXT NOT NULL, points INTEGER NOT NULL, occurredAt TEXT NOT NULL, metadata TEXT)")
            # It orders the load and finds a partner's events for a reset; it costs ~3 µs of the ~22 µs
            # of server CPU per event tracked over HTTP (batches of 100 over 10 users).
            db.execute("CREATE INDEX IF NOT EXISTS events_by_user ON events (partnerId, environment, externalId)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS offers (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
                "partnerId TEXT NOT NULL, environment TEXT NOT NULL, externalId TEXT NOT NULL, "
                "offerType TEXT NOT NULL, gameType TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL, "
                "pointsValue INTEGER NOT NULL, issuedAt TEXT NOT NULL, expiresAt TEXT NOT NULL, claimedAt TEXT, "
                "metadata TEXT)")

    @contextmanager
    def _atomic(self, db: sqlite3.Connection) -> Iterator[None]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if db.in_transaction:  # some errors (a full disk, say) have rolled it back already
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- the storage interface ---------------------------------------------------------------
    # Reads come from the copy in memory, loaded once from the file; every write goes to the
    # file first and reaches the copy only once SQLite has taken it.

    def get(self, space: Space, external_id: str) -> Profile | None:
        return self._memory.get(space, external_id)

    def put(self, space: Space, api_key: str, profile: Profile) -> None:
        # One statement, committed by itself outside transaction(): the write is durable when
        # this returns.
        self._db().execute(self._put_sql, (
            *space, profile.external_id, uuid_text(profile.id), api_key,
            format_timestamp(profile.first_seen), format_timestamp(profile.last_seen), *profile.text,
            *(None if value is None else value.decode("utf-8") for value in profile.merged)))
        if self._undo is not None:
            self._undo.append((space, profile.external_id, self._memory.get(space, profile.external_id)))
        self._memory.put(space, api_key, profile)

    def journey(self, space: Space, external_id: str) -> Journey | None:
        return self._memory.journey(space, external_id)

    def add_events(self, space: Space, external_id: str, events: Sequence[Event]) -> None:
        # One executemany, committed by itself outside transaction(). Inside, the copy gets the
        # events only once the transaction has committed: reads before that do not see them.
        with self._writing() as db:
            db.executemany(ADD_EVENTS, [
                (uuid_text(e.id), *space, external_id, e.category, e.event_type, e.points,
                 format_timestamp(e.occurred_at), None if e.metadata is None else e.metadata.decode("utf-8"))
                for e in events])
        if self._added is not None:
            self._added.append((space, external_id, events))
        else:
            self._memory.add_events(space, external_id, events)

    def offers(self, space: Space, external_id: str) -> Sequence[Offer]:
        return self._memory.offers(space, external_id)

    def put_offer(self, space: Space, external_id: str, offer: Offer) -> None:
        # As add_events: committed by itself outside transaction(), in the copy once committed inside.
        with self._writing() as db:
            db.execute(PUT_OFFER, (
                uuid_text(offer.id), *space, external_id, offer.offer_type, offer.game_type, offer.title,
                offer.description, offer.points_value, format_timestamp(offer.issued_at),
                format_timestamp(offer.expires_at),
                None if offer.claimed_at is None else format_timestamp(offer.claimed_at),
                None if offer.metadata is None else offer.metadata.decode("utf-8")))
        if self._placed is not None:
            self._placed.append((space, external_id, offer))
        else:
            self._memory.put_offer(space, external_id, offer)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._undo, self._added, self._placed = [], [], []
        try:
            with self._atomic(self._db()):
                yield
        except BaseException:
            for space, external_id, previous in reversed(self._undo):  # as the file was rolled back
                self._memory.restore(space, external_id, previous)
            raise
        else:
            for space, external_id, events in self._added:
                self._memory.add_events(space, external_id, events)
            for space, external_id, offer in self._placed:
                self._memory.put_offer(space, external_id, offer)
        finally:
            self._undo = self._added = self._placed = None

    def owners(self, ids: Collection[int]) -> dict[int, tuple[Space, str]]:
        return self._memory.owners(ids)

    def page(self, offset: int, limit: int, partner_id: str | None, environment: str | None,
             external_id: str | None) -> tuple[list[tuple[Space, Profile]], int]:
        return self._memory.page(offset, limit, partner_id, environment, external_id)

    def items(self) -> Iterator[tuple[Space, str, Profile]]:
        return self._memory.items()

    def spaces(self) -> dict[Space, str]:
        return self._memory.spaces()

    def remove(self, partner_id: str | None, environment: str | None) -> int:
        where, values = self._filters(partner_id, environment)
        with self._writing() as db:
            for table in ("profiles", "events", "offers"):
                db.execute(f"DELETE FROM {table} {where}", values)
        return self._memory.remove(partner_id, environment)

    def count(self) -> int:
        return self._memory.count()

    def before_fork(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None

    def close(self) -> None:
        """Close this process's connection (the last one to close folds the WAL into the file)
        and release the file to other mocks."""
        if self._pid == os.getpid():
            if self._connection is not None:
                self._connection.close()
            self._unlock()
        self._connection = None

    # -- helpers -----------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The connection, for writes that go together: in transaction()'s, or else in one of their own."""
        db = self._db()
        if self._undo is not None:
            yield db
        else:
            with self._atomic(db):
                yield db

    @staticmethod
    def _filters(partner_id: str | None, environment: str | None) -> tuple[str, tuple[str, ...]]:
        given = [(column, value) for column, value in (("partnerId", partner_id), ("environment", environment))
                 if value is not None]
        if not given:
            return "", ()
        return "WHERE " + " AND ".join(f"{column} = ?" for column, _ in given), tuple(v for _, v in given)

    def _load(self, db: sqlite3.Connection) -> None:
        """Fill the copy in memory from the file: spaces in the order they got their first
        profile, each with that profile's key, then profiles in the order they were created,
        then each profile's events."""
        rows = db.execute(f"{SPACES} SELECT p.partnerId, p.environment, s.apiKey, p.externalId, {self._prefixed} "
                          "FROM profiles AS p JOIN spaces AS s USING (partnerId, environment) "
                          "ORDER BY s.first, p.rowid")
        for row in rows:
            self._memory.put((row[0], row[1]), row[2], self._profile(row[3], row[4:]))
        for (partner_id, environment, external_id), found in groupby(db.execute(LOAD_EVENTS), itemgetter(0, 1, 2)):
            space = (partner_id, environment)
            # The mock leaves no events without their profile, but a hand edit with sqlite3 may:
            # such events stay in the file, out of sight.
            if self._memory.get(space, external_id) is not None:
                self._memory.add_events(space, external_id, [_event(*row[3:]) for row in found])
        for row in db.execute(LOAD_OFFERS):
            space = (row[1], row[2])
            if self._memory.get(space, row[3]) is not None:  # as events: a hand-orphaned offer stays out of sight
                self._memory.put_offer(space, row[3], _offer(row))

    def _profile(self, external_id: str, row: tuple[Any, ...]) -> Profile:
        texts = len(self._fields.text)
        return Profile(uuid.UUID(row[0]).int, external_id, parse_timestamp(row[1]), parse_timestamp(row[2]),
                       tuple(row[3:3 + texts]),
                       tuple(None if value is None else value.encode("utf-8") for value in row[3 + texts:]))


def _offer(row: tuple[Any, ...]) -> Offer:
    """An offer as the offers table holds it (a row in OFFER_COLUMNS order)."""
    claimed_at, metadata = row[11], row[12]
    return Offer(uuid.UUID(row[0]).int, row[4], row[5], row[6], row[7], row[8], parse_timestamp(row[9]),
                 parse_timestamp(row[10]), None if claimed_at is None else parse_timestamp(claimed_at),
                 None if metadata is None else metadata.encode("utf-8"))


def _event(event_id: str, occurred_at: str, category: str, event_type: str, points: int,
           metadata: str | None) -> Event:
    """An event as the events table holds it; its campaign, which the table does not, recomputed."""
    packed = None if metadata is None else metadata.encode("utf-8")
    return Event(int(event_id.replace("-", ""), 16), parse_timestamp(occurred_at), category, event_type, points, packed,
                 packed_campaign(category, packed))
