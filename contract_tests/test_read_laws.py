"""Read-only laws on existing users: the `--user` ids, or the one user the run creates (`read_users`).

These laws write nothing, so they run with --skip-writes too, on users the caller names (against
staging, say). The one request that could write is a claim under another key, which must find no
offer; it is sent only under keys the run may write with, in its own test. For each user:

- Timeline (documented): read page by page at any limit it is newest first, its `total` is the same
  on every page and is the number of events read, no event comes twice, and the pages hold the same
  events as a read at the largest page; a `limit` above 100 never brings more than 100 events (the
  mock refuses it with 400, which is inferred: a server that clamps keeps the contract).
- Offers (documented): at most 3, each `active`, unclaimed, the user's own and not expired at the
  read. The time of the read is the mock's own clock where the target has the control API, else this
  machine's clock less `SKEW` seconds, so that a server whose clock is behind is not blamed.
- Profile (inferred: figures are "recomputed periodically"): `totalEvents` is the timeline's total.
- Isolation: under every other key each read of the user (getUser, getUserTimeline, getUserOffers)
  shows none of it (documented): a 404, "User not found" (inferred), or, should that key have a user of
  the same externalId, its own user, none of whose id, events or offers are the owner's. A claim of each
  listed offer under another key is 404 (documented), "Offer not found".

The users must not change while the run reads them: a page read while events arrive can repeat an
event that an earlier page held.
"""
from __future__ import annotations

import math
import time
from typing import Any

import pytest
from hypothesis import strategies as st

from .laws import answered, check_examples, environment_of, law, needs_writes
from .schema import MAX_ACTIVE_OFFERS
from .target import READS, ApiClient, Exchange, Target
from .test_journey_laws import (
    MAX_LIMIT,
    TOTAL_RULE,
    at_second,
    check_claim_refused,
    check_counted,
    check_user_not_found,
    unseen_rule,
)
from .test_offer_laws import instant, mock_clock, rfc3339

# A read at a drawn limit takes at most this many pages (the smallest limit drawn is the total over
# this: against staging's 5 requests a second, a read takes 2 s at most), and a whole read at the
# largest page at most REFERENCE_PAGES: of a user with more events, that many pages of the newest.
MAX_PAGES = 10
REFERENCE_PAGES = 50
# Seconds a server's clock may be behind this machine's: an offer listed that expired less than this
# long ago by this machine's clock is not blamed on the server (offers live for days).
SKEW = 300
ABOVE_MAX_LIMIT = st.integers(MAX_LIMIT + 1, 1000)
TOO_MANY = f"a timeline page never holds more than {MAX_LIMIT} events, whatever the limit asked"


def who(target: Target) -> str:
    """How the users read came to be, for a rule's text."""
    return "named with --user" if target.users else "created by this run"


def read_pages(target: Target, api: ApiClient, user: str, limit: int,
               max_pages: int) -> tuple[list[tuple[Exchange, dict[str, Any]]], bool]:
    """Pages 1, 2, … of the user's timeline at `limit` until one is short or the events reach the total
    (at most `max_pages`), each answered 200 (documented) and at most `limit` long; and whether the read
    reached the end."""
    pages: list[tuple[Exchange, dict[str, Any]]] = []
    for number in range(1, max_pages + 1):
        exchange = api.timeline(user, target.api_key, page=number, limit=limit)
        page = answered(target, exchange, "a timeline page is answered 200")
        events = page.get("events") if isinstance(page.get("events"), list) else []
        law(target, len(events) <= limit, f"a timeline page holds at most the limit asked ({limit})", exchange,
            f"at most {limit}", len(events))
        pages.append((exchange, page))
        total = page.get("total")
        if len(events) < limit or (isinstance(total, int) and number * limit >= total):
            return pages, True
    return pages, False


def check_read(target: Target, user: str, limit: int, pages: list[tuple[Exchange, dict[str, Any]]],
               complete: bool) -> list[dict[str, Any]]:
    """The laws of a read page by page: one total on every page, which is the number of events read
    (when the read reached the end), no event twice, newest first across the pages. The events read."""
    first, last = pages[0][1], pages[-1][0]
    events = [event for _, page in pages for event in page.get("events") or []]
    where = f"{user}, read page by page at limit {limit}"
    for exchange, page in pages[1:]:
        law(target, page.get("total") == first.get("total"), f"{TOTAL_RULE}: the same on every page ({where})",
            exchange, first.get("total"), page.get("total"))
    ids = [event.get("id") for event in events]
    twice = sorted({event_id for event_id in ids if ids.count(event_id) > 1}, key=str)
    law(target, not twice, f"pages repeat no event ({where})", last, "each id once", twice)
    if complete:
        law(target, first.get("total") == len(events), f"{TOTAL_RULE}: as many as the pages hold ({where})", last,
            len(events), first.get("total"))
    times = [at_second(event["occurredAt"]) for event in events]
    law(target, times == sorted(times, reverse=True), f"a timeline is newest first by occurredAt, across its pages "
        f"({where})", last, "occurredAt never rising", [event["occurredAt"] for event in events])
    return events


def test_a_users_timeline_read_page_by_page_holds_every_event_once(target: Target, api: ApiClient,
                                                                   read_users: list[str]):
    """First at the largest page, then at drawn limits (such that a read takes at most MAX_PAGES pages):
    the pages hold the same events, each once, newest first, with one total that counts them."""
    timelines = {}
    for user in read_users:
        pages, complete = read_pages(target, api, user, MAX_LIMIT, REFERENCE_PAGES)
        timelines[user] = check_read(target, user, MAX_LIMIT, pages, complete), complete

    def check(data: st.DataObject) -> None:
        user = data.draw(st.sampled_from(read_users), label="user")
        whole, complete = timelines[user]
        count = len(whole) if complete else MAX_LIMIT * REFERENCE_PAGES
        limit = data.draw(st.integers(min(MAX_LIMIT, max(1, math.ceil(count / MAX_PAGES))), MAX_LIMIT), label="limit")
        pages, reached = read_pages(target, api, user, limit, MAX_PAGES)
        events = check_read(target, user, limit, pages, reached)
        if reached and complete:
            read, expected = [e.get("id") for e in events], [e.get("id") for e in whole]
            law(target, sorted(read, key=str) == sorted(expected, key=str), "the pages together hold every event "
                f"of the timeline exactly once ({user}, at limit {limit} as at {MAX_LIMIT})", pages[-1][0],
                expected, read)

    check_examples(target, 1 / 4, check, data=st.data())


def test_a_limit_above_100_is_never_exceeded(target: Target, api: ApiClient, read_users: list[str]):
    """Documented: a page holds at most 100 events. Inferred (the mock): a larger limit is refused with 400.
    The user the run creates has more than 100 events, so that a server honouring the limit shows it."""
    totals = {user: answered(target, api.timeline(user, target.api_key, limit=1), "a user's timeline is answered "
                             "200").get("total") for user in read_users}

    def check(user: str, limit: int, number: int) -> None:
        exchange = api.timeline(user, target.api_key, page=number, limit=limit)
        page = exchange.body.get("data") if exchange.status == 200 and isinstance(exchange.body, dict) else None
        events = page.get("events") if isinstance(page, dict) else None
        if isinstance(events, list):
            law(target, len(events) <= MAX_LIMIT, f"{TOO_MANY} (limit={limit}, page {number}, {user} has "
                f"{totals[user]} events)", exchange, f"at most {MAX_LIMIT} events", len(events))
        law(target, exchange.status == 400, f"a limit above {MAX_LIMIT} is refused with 400", exchange, 400,
            exchange.status, inferred=True)

    check_examples(target, 1 / 5, check, user=st.sampled_from(read_users), limit=ABOVE_MAX_LIMIT,
                   number=st.integers(1, 3))


def earliest_now(target: Target, api: ApiClient) -> tuple[int, str]:
    """An instant the target's clock has passed by the time this returns: the mock's own clock where
    the target has its control API, else this machine's clock less SKEW seconds."""
    clock = mock_clock(target, api)
    if clock is not None:
        return clock.now, "the mock's clock"
    return int(time.time()) - SKEW, f"this machine's clock less {SKEW} s for skew"


def test_a_users_offers_are_at_most_3_active_unclaimed_and_their_own(target: Target, api: ApiClient,
                                                                     read_users: list[str]):
    """Documented: at most 3 offers, each active, unclaimed, the user's own and unexpired when read."""
    for user in read_users:
        earliest, clock = earliest_now(target, api)
        exchange = api.offers(user, target.api_key)
        listed = answered(target, exchange, "a user's offers are answered 200", "offers", inferred=True)
        law(target, len(listed) <= MAX_ACTIVE_OFFERS, f"a user has at most {MAX_ACTIVE_OFFERS} active offers at "
            f"a time ({user})", exchange, f"at most {MAX_ACTIVE_OFFERS} offers", len(listed))
        for offer in listed:
            state = (offer.get("externalId"), offer.get("status"), offer.get("claimedAt"))
            law(target, state == (user, "active", None), "a user's list holds only their own active offers, "
                "unclaimed", exchange, (user, "active", None), state)
            law(target, instant(offer["expiresAt"]) > earliest, "a user's list holds only offers that have not "
                f"expired (read after {rfc3339(earliest)} by {clock})", exchange,
                f"expiresAt after {rfc3339(earliest)}", offer["expiresAt"])


def test_a_users_total_events_is_their_timelines_total(target: Target, api: ApiClient, read_users: list[str]):
    """Inferred: the docs' figures are "recomputed periodically"; the mock recomputes them on every read."""
    for user in read_users:
        exchange = api.timeline(user, target.api_key, limit=1)
        total = answered(target, exchange, "a user's timeline is answered 200").get("total")
        check_counted(target, api, user, total)


def owned(target: Target, api: ApiClient, user: str) -> dict[str, set[Any]]:
    """What the main key's user is, per read: its profile id, the ids of its newest events, of its offers."""
    profile = answered(target, api.user(user, target.api_key), "a user of the key is answered 200 by getUser")
    page = answered(target, api.timeline(user, target.api_key, limit=MAX_LIMIT), "a user's timeline is answered 200")
    offers = answered(target, api.offers(user, target.api_key), "a user's offers are answered 200", "offers",
                      inferred=True)
    return {"getUser": {profile.get("id")}, "getUserTimeline": {e.get("id") for e in page.get("events") or []},
            "getUserOffers": {o.get("id") for o in offers}}


def ids_in(operation_id: str, data: Any) -> set[Any]:
    """The ids an answer of `operation_id` shows: the profile's, the events', the offers'."""
    if not isinstance(data, dict):
        return set()
    if operation_id == "getUser":
        return {data.get("id")}
    items = data.get("events" if operation_id == "getUserTimeline" else "offers")
    return {item.get("id") for item in items if isinstance(item, dict)} if isinstance(items, list) else set()


def test_other_keys_see_none_of_a_users_reads(target: Target, api: ApiClient, read_users: list[str]):
    if not target.other_api_keys:
        pytest.skip("isolation needs a second key: pass --other-api-key (other environment or partner)")
    owner = target.api_key
    for user in read_users:
        mine = owned(target, api, user)
        for other in target.other_api_keys:
            for operation_id in READS:
                exchange = api.call(operation_id, other, path={"externalId": user})
                data = exchange.body.get("data") if isinstance(exchange.body, dict) else None
                shown = ids_in(operation_id, data) & mine[operation_id] if exchange.status == 200 else set()
                law(target, not shown, unseen_rule(other, owner, operation_id, f"{user}, {who(target)}"), exchange,
                    "not 200, or the other key's own user", sorted(shown, key=str))
                if exchange.status == 200 and operation_id == "getUser" and isinstance(data, dict):
                    law(target, data.get("environment") == environment_of(other),
                        "the key prefix decides the environment", exchange, environment_of(other),
                        data.get("environment"))
                if exchange.status != 200:
                    check_user_not_found(target, operation_id, exchange)


def test_other_keys_cannot_claim_a_users_offers(target: Target, api: ApiClient, read_users: list[str]):
    """Under each other key the run may write with (the others are left out: a claim is a write); a
    claim that found the offer would claim it. Only on users the run created: where isolation is broken,
    such a claim would claim a real user's offer (the same law holds for the run's own users in the
    journey laws' isolation)."""
    if not target.other_api_keys:
        pytest.skip("isolation needs a second key: pass --other-api-key (other environment or partner)")
    read_users = [user for user in read_users if user.startswith(target.prefix)]
    if not read_users:
        pytest.skip("a claim under another key could claim a --user's real offer: only the run's own users are tried")
    claimants = [other for other in target.other_api_keys if target.may_write(other)]
    needs_writes(target, *(claimants or target.other_api_keys))
    for user in read_users:
        listed = answered(target, api.offers(user, target.api_key), "a user's offers are answered 200", "offers",
                          inferred=True)
        for other in claimants:
            has_user = api.user(user, other).status == 200
            for offer in listed:
                check_claim_refused(target, api, user, offer["id"], target.api_key, other, has_user)
