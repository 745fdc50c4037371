"""The mock with N profiles already stored, on its production server, for the benchmark.

Run: python bench/preloaded.py PORT THREADS N. Prints `rss-bytes-per-profile <n>` (the growth
of this process's resident memory while the profiles were stored, over N) before serving.
"""
from __future__ import annotations

import gc
import sys

from mock_server import create_app
from mock_server.journeys.profiles import LoadItem
from mock_server.server import serve
from mock_server.state import EXTENSION

COUNTRIES = ["NG", "GH", "KE", "US", "GB", "DE", "FR", "BR", "IN", "JP"]
DEVICES = ["mobile", "desktop", "tablet"]
SOURCES = ["organic", "referral", "facebook_ads", "google_ads"]
BATCH = 2_000


def rss() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))


def body(i: int) -> dict:
    """A profile as full as the benchmark's upserts: every text field, two tags, some metadata."""
    return {"externalId": f"pre-{i:07d}", "displayName": f"Preloaded User {i}",
            "email": f"user{i}@example.com", "phone": f"+234{i:010d}", "country": COUNTRIES[i % 10],
            "device": DEVICES[i % 3], "source": SOURCES[i % 4],
            "tags": {"plan": "premium" if i % 3 else "free", "cohort": f"2025-Q{i % 4 + 1}"},
            "metadata": {"signupDate": f"2025-{i % 12 + 1:02d}-{i % 28 + 1:02d}"}}


def main() -> None:
    port, threads, count = map(int, sys.argv[1:4])
    app = create_app()
    mock = app.extensions[EXTENSION]
    principal = mock.authenticator.authenticate("pk_test_bench")
    gc.collect()
    before = rss()
    for start in range(0, count, BATCH):  # small batches: RSS should measure profiles, not garbage
        mock.store.load([LoadItem(principal, body(i)) for i in range(start, min(count, start + BATCH))])
    gc.collect()
    print(f"rss-bytes-per-profile {(rss() - before) / max(count, 1):.1f}", flush=True)
    serve(app, "127.0.0.1", port, threads=threads)  # as `gamifyhost-mock serve` runs it


if __name__ == "__main__":
    main()
