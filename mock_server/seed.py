"""Pushing fixture profiles and their events into any server through its public API.

Each profile goes to POST /v1/user-journeys/users, then its events to POST /v1/user-journeys/track
in batches of at most 100. A profile of nothing but an externalId, with events, is not upserted:
its events create it, so that it is seen when they happened (an upsert would make it seen at seed
time, and an at_risk user active). Offers are not sent: the public API cannot place them (only
the mock's own control API and --fixtures can); each entry counts the offers it leaves out.

Upserts are idempotent and a batch is stored whole or not at all, so 5xx answers and failed
connections are retried with exponential backoff (urllib3's Retry). A batch is not resent after
an error later than its sending (a read error): the server may have stored it, and events are
not upserts. The first request alone is not retried when it cannot connect: nothing is
listening there.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from .auth import ENVIRONMENTS
from .fixtures import track_body, where
from .spec import load_contract
from .unreachable import connect_failure

TRACK_PATH = "/v1/user-journeys/users"
EVENTS_PATH = "/v1/user-journeys/track"
# Events per POST /track: the most the spec lets a batch hold.
BATCH: int = load_contract().resolve("#/components/schemas/TrackEventsRequest")["properties"]["events"]["maxItems"]


@dataclass(frozen=True)
class SeedEntry:
    """One profile to send: where it came from, the key to send it with, the body, its events
    as trackEvent bodies (times absolute), and how many offers of it are left out (not sent)."""

    origin: str
    api_key: str
    body: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    offers_left_out: int = 0

    @property
    def upserted(self) -> bool:
        """Whether the profile goes to POST /users: not when its events alone can create it."""
        return not self.events or len(self.body) > 1


class _Failed(Exception):
    """One entry could not be stored (whole); the message says why."""


@dataclass
class SeedReport:
    """What happened to each entry."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


class Stopped(Exception):
    """The first request showed that no entry could be stored: the run stops there."""


class Unreachable(Stopped):
    """The first request could not connect to the server at all; nothing was sent."""

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(f"cannot reach {base_url} ({reason}); nothing was sent")


class NotTheApi(Stopped):
    """The first entry's first POST was answered 404: --base-url does not name the API's root."""

    def __init__(self, base_url: str, path: str) -> None:
        super().__init__(f"{base_url.rstrip('/')}{path} answered 404: is {base_url} the API's root URL "
                         f"(without /v1/user-journeys)? Nothing was stored")


def _retrying_session(retry: Retry) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def environment_of(api_key: str) -> str:
    return ENVIRONMENTS[api_key.split("_")[1]]


def entries_from(documents: list[tuple[str, Any]], overrides: dict[str, str],
                 now: int | None = None) -> tuple[list[SeedEntry], int]:
    """The entries to send, with keys replaced per environment when overrides are given, and event
    times counted back from `now` (epoch seconds; default: real time, the target's clock).

    Returns the entries and how many were skipped (their environment has no override).
    """
    now = int(time.time()) if now is None else now
    entries, skipped = [], 0
    for source, document in documents:
        for index, item in enumerate(document["profiles"]):
            key = item["apiKey"]
            if overrides:
                key = overrides.get(environment_of(key))
                if key is None:
                    skipped += 1
                    continue
            external_id = item["profile"]["externalId"]
            entries.append(SeedEntry(where(source, document, index), key, item["profile"],
                                     [track_body(external_id, event, now) for event in item.get("events", ())],
                                     len(item.get("offers", ()))))
    return entries, skipped


class Seeder:
    """Sends entries concurrently, one pooled and retrying session per thread."""

    def __init__(self, base_url: str, retries: int = 3, backoff: float = 0.5, timeout: float = 30) -> None:
        self._base_url = base_url
        self._root = base_url.rstrip("/")
        self._retry = Retry(total=retries, backoff_factor=backoff, status_forcelist=(500, 502, 503, 504),
                            allowed_methods=None, raise_on_status=False)
        # For the first request: a refused connection is final at once, not after the backoff
        # (10.6 s measured for the 10 entries of edge-cases.yaml, ending in 10 failure lines).
        self._probe = _retrying_session(self._retry.new(connect=0))
        self._timeout = timeout
        self._local = threading.local()

    def _session(self, events: bool) -> requests.Session:
        """This thread's session for profiles, or for event batches (not resent once sent)."""
        sessions = getattr(self._local, "sessions", None)
        if sessions is None:
            sessions = self._local.sessions = {}
        if events not in sessions:
            sessions[events] = _retrying_session(self._retry.new(read=0, other=0) if events else self._retry)
        session: requests.Session = sessions[events]
        return session

    def send(self, entry: SeedEntry, first: bool = False) -> tuple[str, str]:
        """('created' | 'updated' | 'failed', detail) for one entry: its profile, then its events.

        Raises Stopped when this is the `first` entry and its first request cannot connect
        (Unreachable), or its first POST is answered 404 (NotTheApi): every entry would meet the same.
        """
        try:
            outcome = self._upsert(entry, first) if entry.upserted else self._look_up(entry, first)
            for start in range(0, len(entry.events), BATCH):
                self._track(entry, start, first and not entry.upserted and start == 0)
        except _Failed as exc:
            return "failed", str(exc)
        return outcome, ""

    def _upsert(self, entry: SeedEntry, first: bool) -> str:
        data = self._data(self._exchange("POST", TRACK_PATH, entry, entry.body, first), TRACK_PATH, first)
        # The API has no "created" flag; a profile first seen when last seen was just made.
        return "created" if data.get("firstSeenAt") == data.get("lastSeenAt") else "updated"

    def _look_up(self, entry: SeedEntry, first: bool) -> str:
        """Whether the profile its events will create is new: GET /users/{externalId} answers 404."""
        path = f"{TRACK_PATH}/{quote(entry.body['externalId'], safe='')}"
        response = self._exchange("GET", path, entry, None, first)
        if response.status_code == 404:  # a wrong root URL shows at the first POST, to /track
            return "created"
        self._data(response, path, False)
        return "updated"

    def _track(self, entry: SeedEntry, start: int, first: bool) -> None:
        batch = entry.events[start:start + BATCH]
        response = self._exchange("POST", EVENTS_PATH, entry, {"events": batch}, False)
        self._data(response, EVENTS_PATH, first, f"events {start + 1}-{start + len(batch)}: ")

    def _exchange(self, method: str, path: str, entry: SeedEntry, body: Any, probe: bool) -> requests.Response:
        """One request with the entry's key; Unreachable if it is the `probe` and cannot connect."""
        session = self._probe if probe else self._session(path == EVENTS_PATH)
        try:
            return session.request(method, self._root + path, json=body, timeout=self._timeout,
                                   headers={"X-API-Key": entry.api_key})
        except requests.RequestException as exc:
            why = connect_failure(exc) if probe else None
            if why is not None:
                raise Unreachable(self._base_url, why) from None
            raise _Failed(f"{type(exc).__name__}: {exc}") from None

    def _data(self, response: requests.Response, path: str, first: bool, what: str = "") -> dict[str, Any]:
        """The answer's `data`; NotTheApi for a 404 to the `first` POST, _Failed for any other refusal."""
        if first and response.status_code == 404:
            raise NotTheApi(self._base_url, path)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            message = payload.get("message") if isinstance(payload, dict) else response.text[:200]
            raise _Failed(f"{what}{response.status_code} {message}")
        data: dict[str, Any] = payload["data"]
        return data

    def run(self, entries: list[SeedEntry], concurrency: int, progress: bool) -> SeedReport:
        """Send the first entry alone (Stopped if that shows nothing can be stored), then the rest concurrently."""
        report = SeedReport()
        with ThreadPoolExecutor(max_workers=concurrency) as pool, \
                tqdm(total=len(entries), unit="profile", disable=not progress, desc="seeding") as bar:

            def record(entry: SeedEntry, outcome: str, detail: str) -> None:
                if outcome == "failed":
                    report.failures.append((entry.origin, detail))
                else:
                    setattr(report, outcome, getattr(report, outcome) + 1)
                bar.update()

            if entries:
                record(entries[0], *self.send(entries[0], first=True))
            futures = {pool.submit(self.send, entry): entry for entry in entries[1:]}
            for future in as_completed(futures):
                record(futures[future], *future.result())
        return report
