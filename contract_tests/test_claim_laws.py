"""The claim laws that need no clock, so that they hold against staging too (the offer state machine
moves the mock's clock and is skipped where there is none).

Documented, so they always fail the run: a claim of an active offer succeeds and answers it `claimed`;
claiming it again is 400 "Offer is no longer active"; the list, which holds only active offers, no
longer holds it; and the claim puts one `offer_claimed` event carrying the offer's `pointsValue` on the
user's timeline. Inferred: a new user is offered something at once (the mock's welcome offers, issued
when the list is read), the claim's 200, and the event's `metadata.offerId`.
"""
from __future__ import annotations

from typing import Any

from .laws import answered, fresh_id, law, needs_writes
from .target import ApiClient, Target
from .test_offer_laws import CLAIM_EVENT, CLAIM_EVENT_RULE, NEVER_LISTED_AGAIN, NO_LONGER_ACTIVE, whole_timeline_of


def test_a_claim_succeeds_once_and_leaves_its_event(target: Target, api: ApiClient):
    """A new user's offers, each claimed, then at once again (a double click), then looked for in the
    list and on the timeline."""
    key = target.api_key
    needs_writes(target, key)
    external_id = fresh_id(target, "claim")
    answered(target, api.track({"externalId": external_id}, key), "a valid upsert is answered 200 with the profile")
    exchange = api.offers(external_id, key)
    offers = answered(target, exchange, "a user's offers are answered 200", "offers", inferred=True)
    law(target, bool(offers), "a new user is offered the welcome offers at once", exchange, "offers", offers,
        inferred=True)
    claimed: list[dict[str, Any]] = []
    for offer in offers:
        exchange = api.claim(external_id, offer["id"], key)
        law(target, 200 <= exchange.status < 300, "a claim of an active, unexpired offer of the user succeeds",
            exchange, 200, exchange.status)
        answer = answered(target, exchange, "a claim is answered 200 with the offer", "offer", inferred=True)
        state = (answer.get("id"), answer.get("status"), answer.get("claimedAt") is not None)
        law(target, state == (offer["id"], "claimed", True), "a claim answers the offer claimed, with claimedAt",
            exchange, (offer["id"], "claimed", True), state)
        claimed.append(offer)

        again = api.claim(external_id, offer["id"], key)
        message = again.body.get("message") if isinstance(again.body, dict) else None
        law(target, (again.status, message) == (400, NO_LONGER_ACTIVE),
            f'a claimed offer is no longer active: claiming it again is 400 "{NO_LONGER_ACTIVE}"', again,
            (400, NO_LONGER_ACTIVE), (again.status, message))

        exchange = api.offers(external_id, key)
        listed = [o["id"] for o in answered(target, exchange, "a user's offers are answered 200", "offers",
                                            inferred=True)]
        law(target, offer["id"] not in listed, NEVER_LISTED_AGAIN,
            exchange, f"no {offer['id']}", listed)

    events, exchange = whole_timeline_of(api, external_id, key)
    received = sorted((e.get("points"), (e.get("metadata") or {}).get("offerId"))
                      for e in events if e.get("eventType") == CLAIM_EVENT)
    expected = sorted((o["pointsValue"], o["id"]) for o in claimed)
    law(target, [points for points, _ in received] == [points for points, _ in expected],
        CLAIM_EVENT_RULE, exchange,
        [points for points, _ in expected], [points for points, _ in received])
    law(target, received == expected, f"an {CLAIM_EVENT} event names its offer in metadata.offerId", exchange,
        expected, received, inferred=True)
