"""Memory per stored event: N events over U journeys, measured with tracemalloc.

Run: python bench/event_memory.py [N [U]] (default 1,000,000 over 10,000). Prints
`bytes-per-event <n>`: what the journeys and their shared tables hold once every event is added,
over N. The data is realistic: five categories, 20 event types, metadata drawn from 50 small
objects and absent from half the events, times increasing as a live feed sends them.
"""
from __future__ import annotations

import gc
import random
import sys
import tracemalloc
import uuid

from mock_server.journeys.engine import campaign_of
from mock_server.journeys.events import Event, Journey, Tables, pack_metadata

CATEGORIES = ["GAME_PLAY", "GAME_PLAY", "CAMPAIGN", "POINTS", "CUSTOM", "REFERRAL"]
EVENT_TYPES = [f"event_type_{i}" for i in range(20)]
METADATA = [{"gameType": game, "round": i} for i, game in enumerate(["NEON_WHEEL", "COSMIC_SLOTS"] * 20)] + \
           [{"campaignSlug": f"campaign-{i}"} for i in range(10)]
START = 1_735_689_600  # 2025-01-01T00:00:00Z


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    rng = random.Random(9)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tables = Tables()
    journeys = [Journey(tables) for _ in range(users)]
    for i in range(count):
        category = rng.choice(CATEGORIES)
        metadata = rng.choice(METADATA) if rng.random() < 0.5 else {}
        journeys[i % users].add(Event(uuid.uuid4().int, START + i * 3, category, rng.choice(EVENT_TYPES),
                                      rng.randrange(-10, 200), pack_metadata(metadata),
                                      campaign_of(category, metadata)))
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"bytes-per-event {used / max(count, 1):.1f}")


if __name__ == "__main__":
    main()
