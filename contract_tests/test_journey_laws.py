"""The laws of users, events and timelines, as properties over the public API only.

What the docs state fails the run when broken: a tracked user reads back as answered, a timeline is
newest first, pages split it without gaps or repeats, the key decides the environment, and another
environment or partner never sees a user. Tracking events rests on inferred rules throughout (the
track-event and batch pages could not be read): the answers' shape, all-or-nothing batches, profiles
created by events, figures recomputed on read. Those laws fail against the mock and warn elsewhere,
and a law that builds on an event the target did not store stops there as skipped.
"""
from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import strategies as st

from .laws import answered, check_examples, environment_of, fresh_id, key_pair, law, needs_writes
from .schema import PROPERTIES, valid_bodies, valid_events
from .target import READS, ApiClient, Exchange, Target

MAX_LIMIT = 100  # documented: a timeline page holds at most 100 events
TOTAL_RULE = "a timeline's total is the number of the user's events"
USER_NOT_FOUND = "User not found"  # inferred: the message other GamifyHost pages give a 404 of a user
OFFER_NOT_FOUND = "Offer not found"  # documented: a claim of an offer that is not the user's
# What a profile keeps as given. Its figures, and how reads move its timestamps, are the docs' "recomputed
# periodically" (the mock recomputes them on every read).
STORED = ["id", "partnerId", "environment", *PROPERTIES]
# Distinct whole-second times, so that "newest first" orders a timeline completely: the docs do not say
# how events of the same second are ordered.
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
SECONDS = 10**9
# One broken field each: a batch holding such an event must be refused as a whole.
SPOILERS = [{"category": "NOT_A_CATEGORY"}, {"eventType": ""}, {"points": "ten"}, {"occurredAt": "yesterday"},
            {"externalId": ""}, {"metadata": ["not", "an", "object"]}]
_FRACTION = re.compile(r"\.[0-9]+")


def at_second(text: str) -> datetime:
    """An RFC 3339 time to the second (its fraction dropped), comparable across offsets."""
    return datetime.fromisoformat(_FRACTION.sub("", text))


def distinct_times(count: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.integers(0, SECONDS), min_size=count, max_size=count, unique=True).map(
        lambda offsets: [(EPOCH + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in offsets])


def tracked_user(target: Target, api: ApiClient, label: str) -> str:
    """A new user, made by the documented upsert, so that reading it rests on documented rules only."""
    external_id = fresh_id(target, label)
    answered(target, api.track({"externalId": external_id}, target.api_key),
             "a valid upsert is answered 200 with the profile")
    return external_id


def whole_timeline(target: Target, api: ApiClient, external_id: str) -> tuple[dict[str, Any], Exchange]:
    """A user's whole timeline (at most 100 events), which must be newest first."""
    exchange = api.timeline(external_id, target.api_key, limit=MAX_LIMIT)
    page = answered(target, exchange, "a user's timeline is answered 200")
    times = [at_second(event["occurredAt"]) for event in page["events"]]
    law(target, times == sorted(times, reverse=True), "a timeline is newest first by occurredAt",
        exchange, "occurredAt never rising", [event["occurredAt"] for event in page["events"]])
    if len(page["events"]) < MAX_LIMIT:
        law(target, page.get("total") == len(page["events"]), f"{TOTAL_RULE} (a page of {MAX_LIMIT} holds them all)",
            exchange, len(page["events"]), page.get("total"))
    return page, exchange


def check_counted(target: Target, api: ApiClient, external_id: str, total: int) -> None:
    """totalEvents of the profile is the timeline's total (inferred: the docs say figures are
    recomputed periodically, the mock recomputes them on every read)."""
    exchange = api.user(external_id, target.api_key)
    profile = answered(target, exchange, "a tracked user is answered 200 by getUser")
    law(target, profile.get("totalEvents") == total, "totalEvents is the number of events in the timeline",
        exchange, total, profile.get("totalEvents"), inferred=True)


def test_a_tracked_user_reads_back_as_answered(target: Target, api: ApiClient):
    """The spec's links from trackUser: getUser and getUserTimeline of the user just tracked."""
    needs_writes(target, target.api_key)
    def check(body: dict[str, Any]) -> None:
        external_id = fresh_id(target, "read")
        tracked = answered(target, api.track({"externalId": external_id, **body}, target.api_key),
                           "a valid upsert is answered 200 with the profile")
        exchange = api.user(external_id, target.api_key)
        read = answered(target, exchange, "a tracked user is answered 200 by getUser")
        kept = {name: tracked.get(name) for name in STORED}
        received = {name: read.get(name) for name in STORED}
        law(target, received == kept, "getUser answers the stored profile as the upsert answered it",
            exchange, kept, received)
        received = {name: read.get(name) for name in tracked}
        law(target, received == tracked, "getUser answers the timestamps and figures the upsert answered "
            "(recomputed on every read)", exchange, tracked, received, inferred=True)
        exchange = api.timeline(external_id, target.api_key)
        page = answered(target, exchange, "a user's timeline is answered 200")
        law(target, page.get("total") == 0, f"{TOTAL_RULE}: 0 for a user without events", exchange,
            0, page.get("total"))
        law(target, (page.get("events"), page.get("page")) == ([], 1),
            "a user without events has an empty timeline, page 1 by default", exchange,
            ([], 1), (page.get("events"), page.get("page")))

    check_examples(target, 1 / 5, check, body=valid_bodies)


def test_a_tracked_event_is_stored_as_sent(target: Target, api: ApiClient):
    """An event for an unknown user: the answer, the timeline and the new profile all hold it."""
    needs_writes(target, target.api_key)
    def check(body: dict[str, Any]) -> None:
        external_id = fresh_id(target, "event")
        exchange = api.track_event({"externalId": external_id, **body}, target.api_key)
        event = answered(target, exchange, "a valid event is answered 200 with the stored event", "event",
                         inferred=True)
        law(target, event.get("environment") == environment_of(target.api_key),
            "the key prefix decides the environment", exchange, environment_of(target.api_key),
            event.get("environment"))
        expected = {"externalId": external_id, "category": body["category"], "eventType": body["eventType"],
                    "points": body.get("points", 0), "metadata": body.get("metadata", {})}
        received = {name: event.get(name) for name in expected}
        law(target, received == expected, "a stored event holds what was sent (points 0 and metadata {} by default)",
            exchange, expected, received, inferred=True)
        if "occurredAt" in body:
            law(target, at_second(event["occurredAt"]) == at_second(body["occurredAt"]),
                "occurredAt is kept to the second", exchange, body["occurredAt"], event["occurredAt"], inferred=True)

        exchange = api.timeline(external_id, target.api_key)
        page = answered(target, exchange, "an event for an unknown user creates it, timeline and all", inferred=True)
        law(target, (page["total"], page["events"]) == (1, [event]), "the timeline holds the event as answered",
            exchange, (1, [event]), (page["total"], page["events"]), inferred=True)
        exchange = api.user(external_id, target.api_key)
        profile = answered(target, exchange, "an event for an unknown user creates its profile", inferred=True)
        seen = (profile.get("firstSeenAt"), profile.get("lastSeenAt"), profile.get("totalEvents"))
        law(target, seen == (event["occurredAt"], event["occurredAt"], 1),
            "a user created by an event is first and last seen at it, with 1 event", exchange,
            (event["occurredAt"], event["occurredAt"], 1), seen, inferred=True)

    check_examples(target, 1 / 5, check, body=valid_events)


def test_each_event_takes_its_place_in_the_timeline(target: Target, api: ApiClient):
    """Events tracked one by one, in any order of occurredAt (backfills included): after each, the
    timeline is newest first, so the event is first when it is the newest, and reads as answered."""
    needs_writes(target, target.api_key)
    def check(times: list[str], body: dict[str, Any]) -> None:
        external_id = tracked_user(target, api, "order")
        tracked: list[dict[str, Any]] = []
        for at in times:
            exchange = api.track_event({**body, "externalId": external_id, "occurredAt": at}, target.api_key)
            tracked.append(answered(target, exchange, "a valid event is answered 200 with the stored event", "event",
                                    inferred=True))
            page, exchange = whole_timeline(target, api, external_id)
            expected = sorted(tracked, key=lambda e: at_second(e["occurredAt"]), reverse=True)
            law(target, page["events"] == expected, "each event tracked is in the timeline as answered",
                exchange, expected, page["events"], inferred=True)

    check_examples(target, 1 / 10, check, times=st.integers(2, 4).flatmap(distinct_times), body=valid_events)


def test_batches_add_their_events_newest_first(target: Target, api: ApiClient):
    """Batches for two users, one after another: each adds its events to their owners' timelines."""
    needs_writes(target, target.api_key)
    def check(data: st.DataObject, sizes: list[int]) -> None:
        users = [tracked_user(target, api, "batch") for _ in range(2)]
        times = iter(data.draw(distinct_times(sum(sizes)), label="occurredAt"))
        stored: dict[str, list[dict[str, Any]]] = {user: [] for user in users}
        for size in sizes:
            batch = [{**data.draw(valid_events), "externalId": data.draw(st.sampled_from(users)),
                      "occurredAt": next(times)} for _ in range(size)]
            exchange = api.track_events(batch, target.api_key)
            answer = answered(target, exchange, "a valid batch is answered 200 with its events", inferred=True)
            events = answer.get("events") or []
            sent = [(e["externalId"], e["occurredAt"]) for e in batch]
            received = [(e.get("externalId"), e.get("occurredAt")) for e in events]
            law(target, (answer.get("tracked"), received) == (size, sent),
                "a batch answers how many it tracked and the stored events in the order sent", exchange,
                (size, sent), (answer.get("tracked"), received), inferred=True)
            for event in events:
                stored[event["externalId"]].append(event)
            for user in users:
                page, exchange = whole_timeline(target, api, user)
                expected = sorted(stored[user], key=lambda e: at_second(e["occurredAt"]), reverse=True)
                law(target, (page["total"], page["events"]) == (len(expected), expected),
                    "a batch of N events raises its user's timeline total by N, and each appears as answered",
                    exchange, (len(expected), expected), (page["total"], page["events"]), inferred=True)
                check_counted(target, api, user, page["total"])

    check_examples(target, 1 / 5, check, data=st.data(), sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3))


def test_a_batch_with_a_bad_event_stores_nothing(target: Target, api: ApiClient):
    """All or nothing: a known user's timeline stays as it was, and an unknown user stays unknown."""
    needs_writes(target, target.api_key)
    def check(good: list[dict[str, Any]], spoiler: dict[str, Any], index: int) -> None:
        known, unknown = tracked_user(target, api, "atomic"), fresh_id(target, "atomic")
        batch = [{**event, "externalId": (known, unknown)[i % 2]} for i, event in enumerate(good)]
        batch.insert(index % (len(batch) + 1), {**batch[0], **spoiler})
        exchange = api.track_events(batch, target.api_key)
        law(target, exchange.status == 400, f"a batch with a bad event ({spoiler}) is refused with 400",
            exchange, 400, exchange.status, inferred=True)
        page, _ = whole_timeline(target, api, known)
        law(target, page["total"] == 0, "a refused batch stores none of its events", exchange, 0, page["total"],
            inferred=True)
        after = api.user(unknown, target.api_key)
        law(target, after.status == 404, "a refused batch creates none of its users", after, 404, after.status,
            inferred=True)

    check_examples(target, 1 / 5, check, good=st.lists(valid_events, min_size=1, max_size=4),
                   spoiler=st.sampled_from(SPOILERS), index=st.integers(0, 4))


def test_pages_partition_the_timeline(target: Target, api: ApiClient):
    """Page p holds events (p-1)*limit+1 to p*limit of the whole timeline, newest first; a page past
    the end is empty (inferred: the docs do not say whether it is an empty page or an error)."""
    needs_writes(target, target.api_key)
    def check(data: st.DataObject, count: int, limit: int) -> None:
        external_id = tracked_user(target, api, "pages")
        if count:
            batch = [{**data.draw(valid_events), "externalId": external_id, "occurredAt": at}
                     for at in data.draw(distinct_times(count), label="occurredAt")]
            answered(target, api.track_events(batch, target.api_key), "a valid batch is answered 200 with its events",
                     inferred=True)
        whole = whole_timeline(target, api, external_id)[0]["events"]
        last_page = max(1, math.ceil(count / limit))
        for number in range(1, last_page + 2):
            exchange = api.timeline(external_id, target.api_key, page=number, limit=limit)
            past = number > last_page
            page = answered(target, exchange, "a timeline page is answered 200", inferred=past)
            law(target, page.get("total") == count, f"{TOTAL_RULE}, on every page ({count} sent)", exchange,
                count, page.get("total"), inferred=past)
            law(target, page.get("page") == number, "a timeline page answers its own number", exchange,
                number, page.get("page"), inferred=past)
            expected = whole[(number - 1) * limit:number * limit]
            law(target, page.get("events") == expected,
                f"page {number} of {limit} holds events {(number - 1) * limit + 1} to {number * limit} "
                "of the timeline: pages repeat no event and skip none",
                exchange, expected, page.get("events"), inferred=past)

    check_examples(target, 1 / 5, check, data=st.data(), count=st.integers(0, 25), limit=st.integers(1, 10))


def unseen_rule(other: str, owner: str, operation_id: str, why: str) -> str:
    return (f"{other[:8]}… must not see a user of {owner[:8]}… via {operation_id} ({why}), "
            "or the two keys share a partner and an environment")


def check_unseen(target: Target, api: ApiClient, external_id: str, owner: str, other: str, why: str) -> None:
    """Every read of `owner`'s user under `other`: never 200 (documented: the key's partner and environment
    scope everything), and 404 "User not found" (inferred: the docs give no error of these pages)."""
    for operation_id in READS:
        exchange = api.call(operation_id, other, path={"externalId": external_id})
        law(target, exchange.status != 200, unseen_rule(other, owner, operation_id, why), exchange, "not 200",
            exchange.status)
        check_user_not_found(target, operation_id, exchange)


def check_user_not_found(target: Target, operation_id: str, exchange: Exchange) -> None:
    """Inferred: a read of a user the key cannot see is 404 "User not found" (the docs give no error of
    these pages)."""
    message = exchange.body.get("message") if isinstance(exchange.body, dict) else None
    law(target, (exchange.status, message) == (404, USER_NOT_FOUND),
        f'a user the key cannot see is 404 "{USER_NOT_FOUND}" ({operation_id})', exchange,
        (404, USER_NOT_FOUND), (exchange.status, message), inferred=True)


def check_claim_refused(target: Target, api: ApiClient, external_id: str, offer_id: str, owner: str,
                        other: str, has_user: bool = False) -> None:
    """A claim under `other` of an offer of `owner`'s user: 404 (documented: the offer is not the user's,
    as the key sees the user), "Offer not found": documented when the key has a user of that externalId
    (`has_user`: the offer is not theirs), inferred when it has none (a server might say "User not found")."""
    exchange = api.claim(external_id, offer_id, other)
    law(target, exchange.status == 404, f"{other[:8]}… cannot claim an offer of {owner[:8]}…'s user: 404",
        exchange, 404, exchange.status)
    message = exchange.body.get("message") if isinstance(exchange.body, dict) else None
    rule = ("a claim of an offer that is not the user's" if has_user else "a claim for a user the key does not have")
    law(target, message == OFFER_NOT_FOUND, f'{rule} is 404 "{OFFER_NOT_FOUND}"', exchange, OFFER_NOT_FOUND,
        message, inferred=not has_user)


@pytest.mark.parametrize("key_index", [0, 1])
def test_other_keys_see_none_of_a_users_journey(target: Target, api: ApiClient, key_index: int):
    """Isolation by partner and environment on every operation: reads of a user under another key find
    nothing (getUser, getUserTimeline, getUserOffers), a claim of the user's offer under another key
    finds no offer, and events tracked under another key go to that key's own user. No clock is moved:
    the user's welcome offers come with the first read of its list (inferred), so this holds against
    any server. A key the run may not write with (a pk_live_ key off this machine without
    --allow-live) still reads; its claims and events are left out."""
    if not target.other_api_keys:
        pytest.skip("isolation needs a second key: pass --other-api-key (other environment or partner)")
    owner, other = key_pair(target, key_index)
    needs_writes(target, owner)
    external_id = fresh_id(target, "iso")
    mine = answered(target, api.track({"externalId": external_id, "displayName": "Owner"}, owner),
                    "a valid upsert is answered 200 with the profile")

    check_unseen(target, api, external_id, owner, other, "tracked")
    exchange = api.offers(external_id, owner)
    data = exchange.body.get("data") if exchange.status == 200 and isinstance(exchange.body, dict) else None
    offers = data.get("offers") if isinstance(data, dict) else None
    law(target, isinstance(offers, list) and bool(offers), "a new user is offered the welcome offers at once",
        exchange, "200 with welcome offers in data.offers", offers if offers else exchange.status, inferred=True)
    offer_ids = [o["id"] for o in offers if isinstance(o, dict) and isinstance(o.get("id"), str)] \
        if isinstance(offers, list) else []
    check_unseen(target, api, external_id, owner, other, "with offers")
    answered(target, api.track_event({"externalId": external_id, "category": "GAME_PLAY", "eventType": "mine"},
                                     owner), "a valid event is answered 200 with the stored event", inferred=True)
    check_unseen(target, api, external_id, owner, other, "with an event")
    writes = target.may_write(other)
    if writes:
        for offer_id in offer_ids:
            check_claim_refused(target, api, external_id, offer_id, owner, other)
        theirs = {"externalId": external_id, "category": "CUSTOM", "eventType": "theirs"}
        answered(target, api.track_event(theirs, other), "a valid event is answered 200 with the stored event",
                 inferred=True)
        answered(target, api.track_events([theirs, theirs], other), "a valid batch is answered 200 with its events",
                 inferred=True)
        for offer_id in offer_ids:  # now the key has a user of that externalId, its own
            check_claim_refused(target, api, external_id, offer_id, owner, other, has_user=True)
    exchange = api.timeline(external_id, owner)
    page = answered(target, exchange, "a user's timeline is answered 200")
    law(target, [e["eventType"] for e in page["events"]] == ["mine"],
        "events tracked or offers claimed under one key never show under another", exchange, ["mine"],
        [e["eventType"] for e in page["events"]])
    if not writes:
        return
    exchange = api.user(external_id, other)
    their_profile = answered(target, exchange, "an event for an unknown user creates its profile", inferred=True)
    law(target, their_profile.get("id") != mine["id"] and their_profile.get("displayName") != "Owner",
        "the other key's events make its own user, with no trace of the owner's", exchange,
        f"an id other than {mine['id']}", their_profile.get("id"))
