"""Pushing fixture profiles into any server through its public POST /v1/user-journeys/users.

Upserts are idempotent, so seeding twice is safe and a retried request does no harm: 5xx
answers and connection errors are retried with exponential backoff (urllib3's Retry). The
first request alone is not retried when it cannot connect: nothing is listening there.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from .auth import ENVIRONMENTS
from .fixtures import where
from .unreachable import connect_failure

TRACK_PATH = "/v1/user-journeys/users"


@dataclass(frozen=True)
class SeedEntry:
    """One profile to send: where it came from, the key to send it with, and the body."""

    origin: str
    api_key: str
    body: dict[str, Any]


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
    """The first request was answered 404: --base-url does not name the API's root."""

    def __init__(self, base_url: str, url: str) -> None:
        super().__init__(f"{url} answered 404: is {base_url} the API's root URL (without {TRACK_PATH})? "
                         "Nothing was stored")


def _retrying_session(retry: Retry) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def environment_of(api_key: str) -> str:
    return ENVIRONMENTS[api_key.split("_")[1]]


def entries_from(documents: list[tuple[str, Any]], overrides: dict[str, str]) -> tuple[list[SeedEntry], int]:
    """The entries to send, with keys replaced per environment when overrides are given.

    Returns the entries and how many were skipped (their environment has no override).
    """
    entries, skipped = [], 0
    for source, document in documents:
        for index, item in enumerate(document["profiles"]):
            key = item["apiKey"]
            if overrides:
                key = overrides.get(environment_of(key))
                if key is None:
                    skipped += 1
                    continue
            entries.append(SeedEntry(where(source, document, index), key, item["profile"]))
    return entries, skipped


class Seeder:
    """Sends entries concurrently, one pooled and retrying session per thread."""

    def __init__(self, base_url: str, retries: int = 3, backoff: float = 0.5, timeout: float = 30) -> None:
        self._base_url = base_url
        self._url = base_url.rstrip("/") + TRACK_PATH
        self._retry = Retry(total=retries, backoff_factor=backoff, status_forcelist=(500, 502, 503, 504),
                            allowed_methods=None, raise_on_status=False)
        # For the first request: a refused connection is final at once, not after the backoff
        # (10.6 s measured for the 10 entries of edge-cases.yaml, ending in 10 failure lines).
        self._probe = _retrying_session(self._retry.new(connect=0))
        self._timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = _retrying_session(self._retry)
        return session

    def send(self, entry: SeedEntry, first: bool = False) -> tuple[str, str]:
        """('created' | 'updated' | 'failed', detail) for one entry.

        Raises Stopped when this is the `first` request and it cannot connect (Unreachable) or
        is answered 404 (NotTheApi): every entry would meet the same.
        """
        try:
            response = (self._probe if first else self._session()).post(
                self._url, json=entry.body, timeout=self._timeout, headers={"X-API-Key": entry.api_key})
        except requests.RequestException as exc:
            why = connect_failure(exc) if first else None
            if why is not None:
                raise Unreachable(self._base_url, why) from None
            return "failed", f"{type(exc).__name__}: {exc}"
        if first and response.status_code == 404:
            raise NotTheApi(self._base_url, self._url)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict) or "data" not in payload:
            message = payload.get("message") if isinstance(payload, dict) else response.text[:200]
            return "failed", f"{response.status_code} {message}"
        data = payload["data"]
        # The API has no "created" flag; a profile first seen when last seen was just made.
        return ("created" if data.get("firstSeenAt") == data.get("lastSeenAt") else "updated"), ""

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
