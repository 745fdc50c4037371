"""`events.Journey` on its own: order, backfills, pending sums and their folding, ids, shared tables."""
from __future__ import annotations

import uuid

import pytest

from mock_server.journeys.engine import campaign_of
from mock_server.journeys.events import POINTS_LIMIT, Event, Journey, Table, Tables, pack_metadata, unpack_metadata

T = 1_736_937_000  # 2025-01-15T10:30:00Z


def play(at: int, ident: int = 0, points: int = 10, category: str = "GAME_PLAY",
         metadata: dict[str, object] | None = None) -> Event:
    return Event(ident, at, category, "spin", points, pack_metadata(metadata or {}), campaign_of(category, metadata))


def times(journey: Journey) -> list[tuple[int, int]]:
    """(occurredAt, id) oldest first."""
    return [(event.occurred_at, event.id) for event in journey]


def test_backfills_and_ties_keep_time_order_then_insertion_order():
    journey = Journey(Tables())
    for ident, at in enumerate([T, T + 10, T - 5, T, T + 10, T - 100, T + 20, T]):
        journey.add(play(at, ident))
    assert times(journey) == [(T - 100, 5), (T - 5, 2), (T, 0), (T, 3), (T, 7), (T + 10, 1), (T + 10, 4),
                              (T + 20, 6)]
    assert [event.id for event in journey.page(0, 4)] == [6, 4, 1, 7]
    assert [event.id for event in journey.page(4, 10)] == [3, 0, 2, 5]
    assert len(journey) == 8


def test_pages_past_the_end_or_empty():
    journey = Journey(Tables())
    assert journey.page(0, 20) == []
    assert len(journey) == 0
    journey.add(play(T))
    assert journey.page(1, 20) == [] and journey.page(0, 0) == []
    assert journey.page(0, 20) == [play(T)]


def brute_window(events: list[Event], since: int, until: int) -> tuple[int, int]:
    inside = [event for event in events if since < event.occurred_at <= until]
    return (sum(event.category == "GAME_PLAY" for event in inside), sum(max(event.points, 0) for event in inside))


@pytest.mark.parametrize("fold_after", [Journey.FOLD_AFTER, 1, 3])
def test_windows_stay_right_through_backfills_and_folds(fold_after: int):
    """Backfills land in the pending list, and every `fold_after` of them in the prefix sums again."""
    class Folding(Journey):
        __slots__ = ()
        FOLD_AFTER = fold_after

    journey, added = Folding(Tables()), []
    for index in range(300):
        # every third event is late: up to 40 days back; points and categories vary
        at = T + index * 3600 - (index % 3 == 0) * (index * 7919 % (40 * 86400))
        event = play(at, index, points=index % 7 - 2, category="POINTS" if index % 5 == 0 else "GAME_PLAY")
        journey.add(event)
        added.append(event)
        for since, until in [(at - 7 * 86400, at), (T - 86400, T + 150 * 3600), (at, at), (at + 1, at - 1)]:
            assert journey.window(since, until) == (brute_window(added, since, until) if since < until else (0, 0))
    assert times(journey) == sorted(times(journey), key=lambda pair: pair[0])


def test_counters_count_plays_wins_and_distinct_campaigns():
    journey = Journey(Tables())
    journey.add(play(T, points=5))
    journey.add(play(T, points=0))
    journey.add(play(T, points=-3))
    journey.add(play(T - 10, points=9))  # a backfill counts all the same
    journey.add(play(T, category="POINTS", points=100))
    for metadata in ({"campaignSlug": "a"}, {"campaignSlug": "a", "x": 1}, {"campaignSlug": 3}, {},
                     {"campaignSlug": "b"}):
        journey.add(play(T, category="CAMPAIGN", metadata=metadata))
    assert (len(journey), journey.plays, journey.wins, journey.campaigns) == (10, 4, 2, 3)  # a, "" and b


def test_ids_round_trip_as_uuid_integers():
    journey = Journey(Tables())
    idents = [0, 1, 2**128 - 1, uuid.UUID("a1b2c3d4-e5f6-7890-abcd-ef1234567890").int]
    for ident in idents:
        journey.add(play(T, ident))
    journey.add(play(T - 1, 2**127))  # a backfill moves the ids' bytes too
    assert [event.id for event in journey] == [2**127, *idents]


def test_events_read_back_equal_what_was_added():
    journey = Journey(Tables())
    added = [play(T, 1, category="CAMPAIGN", metadata={"campaignSlug": "ü-cup", "round": 2}),
             play(T + 1, 2, category="CAMPAIGN"), play(T + 2, 3, metadata={"gameType": "NEON_WHEEL"}),
             Event(4, T + 3, "CUSTOM", "level_up", -7, None, None)]
    for event in added:
        journey.add(event)
    assert list(journey) == added
    assert [event.campaign for event in journey] == ["ü-cup", "", None, None]


def test_tables_keep_each_metadata_and_event_type_once_across_journeys():
    tables = Tables()
    first, second = Journey(tables), Journey(tables)
    for journey in (first, second):
        for index in range(50):
            journey.add(play(T + index, metadata={"gameType": "NEON_WHEEL", "n": index % 2}))
    assert len(tables.metadata.values) == 3  # none, n=0 and n=1
    assert len(tables.event_types.values) == 1
    assert next(iter(first)).metadata is next(iter(second)).metadata


def test_metadata_packs_compactly_and_empty_is_none():
    assert pack_metadata({}) is None
    assert pack_metadata({"slug": "ü", "n": [1, 2]}) == '{"slug":"ü","n":[1,2]}'.encode()
    assert unpack_metadata(None) == {}
    assert unpack_metadata(pack_metadata({"slug": "ü"})) == {"slug": "ü"}


def test_points_beyond_32_bits_are_refused_and_change_nothing():
    journey = Journey(Tables())
    journey.add(play(T, points=POINTS_LIMIT))
    journey.add(play(T, points=-POINTS_LIMIT))
    with pytest.raises(ValueError, match="outside"):
        journey.add(play(T, points=POINTS_LIMIT + 1))
    assert len(journey) == 2 and journey.window(T - 1, T) == (2, POINTS_LIMIT)


def test_a_full_table_refuses_new_values_only():
    table = Table("GAME_PLAY", limit=2)
    assert table.code("CAMPAIGN") == 1
    with pytest.raises(ValueError, match="more than 2"):
        table.code("POINTS")
    assert (table.code("GAME_PLAY"), table.code("CAMPAIGN"), table.values) == (0, 1, ["GAME_PLAY", "CAMPAIGN"])
