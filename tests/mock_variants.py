"""Variants of the mock for testing the contract suite itself (`--app mock_variants:NAME`).

Each broken variant breaks exactly one rule of the contract; the suite must fail on it.

Loaded with `-p mock_variants`, this module is also a pytest plugin for those runs: see
pytest_ignore_collect.
"""
from __future__ import annotations

import atexit
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue

from contract_tests.schema import MAX_ACTIVE_OFFERS
from mock_server import create_app
from mock_server.auth import Principal
from mock_server.errors import ApiError
from mock_server.journeys.events import Event
from mock_server.journeys.offers import NO_LONGER_ACTIVE, OFFER_CLAIMED, Offer, OfferError
from mock_server.journeys.profiles import HeldOffers

Change = Callable[[dict[str, Any], bool, dict[str, Any]], None]
TRACK_USER_ENDPOINT = "api.trackUser"


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """The laws alone: the Schemathesis conformance tests (test_conformance.py) are not collected.

    A variant run stops at its first failure (-x). A variant that breaks a law fails in its law test within
    a second; in the kit's order only after some 5 s of conformance tests that pass (9.7-12.7 s a run), and
    with the laws first still after Schemathesis built every operation's coverage cases as it collected them
    (about 1.2 s of the 3 s a run takes). Nothing else changes: the laws run in the kit's order, each until the
    first failure. Each of these variants is found by a law (which one: the report of issue 12's suite time);
    second_claim_succeeds, whose rule the stateful conformance test names too, by the claim law, which draws
    nothing at random. The variants in CONFORMANCE_RULES run the whole kit in its own order.
    """
    return True if collection_path.name == "test_conformance.py" else None


def _state(app: Flask):
    return app.extensions["gamifyhost_mock"]


def _changing_profiles(change: Change) -> Flask:
    """The mock, with `change(profile, created, body)` applied to every upsert's answer."""
    app = create_app()
    view = app.view_functions[TRACK_USER_ENDPOINT]
    seen: set[tuple[str, str, str]] = set()

    def changed_view(**path: str) -> ResponseReturnValue:
        answer = cast(Response, view(**path)).get_json()
        profile = answer["data"]
        key = (profile["partnerId"], profile["environment"], profile["externalId"])
        created = key not in seen
        seen.add(key)
        change(profile, created, request.get_json())
        return app.json.response(answer)

    app.view_functions[TRACK_USER_ENDPOINT] = changed_view
    return app


def _changing_answers(app: Flask, operation_id: str, change: Callable[[dict[str, Any]], None]) -> Flask:
    """`app`, with `change(data)` applied to the data of every 200 answer of one operation."""
    view = app.view_functions[f"api.{operation_id}"]

    def changed_view(**path: str) -> ResponseReturnValue:
        answer = cast(Response, view(**path)).get_json()
        change(answer["data"])
        return app.json.response(answer)

    app.view_functions[f"api.{operation_id}"] = changed_view
    return app


def new_id_on_update() -> Flask:
    def change(profile, created, body):
        if not created:
            profile["id"] = str(uuid.uuid4())
    return _changing_profiles(change)


def first_seen_moves() -> Flask:
    def change(profile, created, body):
        profile["firstSeenAt"] = profile["lastSeenAt"]
    return _changing_profiles(change)


def tags_replaced() -> Flask:
    def change(profile, created, body):
        if "tags" in body:
            profile["tags"] = dict(body["tags"])
    return _changing_profiles(change)


def missing_win_rate() -> Flask:
    def change(profile, created, body):
        del profile["winRate"]
    return _changing_profiles(change)


def crash_on_long_external_id() -> Flask:
    def change(profile, created, body):
        if len(body["externalId"]) > 100:
            raise RuntimeError("externalId column too short")
    return _changing_profiles(change)


def missing_key_accepted() -> Flask:
    app = create_app()
    authenticator = _state(app).authenticator
    authenticate = authenticator.authenticate
    authenticator.authenticate = lambda header: (
        Principal("anonymous", "TEST", "") if not header else authenticate(header))
    return app


def test_key_writes_live() -> Flask:
    app = create_app()
    authenticator = _state(app).authenticator
    authenticate = authenticator.authenticate

    def wrong_environment(header):
        principal = authenticate(header)
        return Principal(principal.partner_id, "LIVE", principal.api_key)

    authenticator.authenticate = wrong_environment
    return app


class _IgnoringDevice:
    """A validator that lets any device value through."""

    def __init__(self, validator) -> None:
        self._validator = validator

    def iter_errors(self, instance):
        return (e for e in self._validator.iter_errors(instance) if list(e.absolute_path)[:1] != ["device"])


def any_device_accepted() -> Flask:
    app = create_app()
    operations = _state(app).operations
    operations["trackUser"] = replace(operations["trackUser"], body=_IgnoringDevice(operations["trackUser"].body))
    return app


def timeline_oldest_first() -> Flask:
    return _changing_answers(create_app(), "getUserTimeline", lambda data: data["events"].reverse())


def event_without_occurred_at() -> Flask:
    return _changing_answers(create_app(), "trackEvent", lambda data: data["event"].pop("occurredAt"))


def batch_keeps_good_events() -> Flask:
    """A batch refused for a bad event still stores the events that keep the rules."""
    app = create_app()
    state = _state(app)
    view = app.view_functions["api.trackEvents"]
    one_event = state.operations["trackEvent"].body

    def keeping_view(**path: str) -> ResponseReturnValue:
        try:
            return cast(Response, view(**path))
        except ApiError as refused:
            body = request.get_json(silent=True)
            events = body.get("events") if refused.status == 400 and isinstance(body, dict) else None
            good = [e for e in events if isinstance(e, dict) and not any(one_event.iter_errors(e))] \
                if isinstance(events, list) else []
            if good:
                state.store.track(state.authenticator.authenticate(request.headers.get("X-API-Key")), good)
            raise

    app.view_functions["api.trackEvents"] = keeping_view
    return app


def get_user_ignores_environment() -> Flask:
    """getUser reads the partner's TEST users whatever the key's environment."""
    app = create_app()
    store = _state(app).store
    read = store.read
    store.read = lambda principal, external_id: read(
        Principal(principal.partner_id, "TEST", principal.api_key), external_id)
    return app


class _ClampingLimit:
    """The timeline's query parameters, with a limit below 1 taken as 1 rather than refused."""

    def __init__(self, parameters) -> None:
        self._parameters = parameters

    def __bool__(self) -> bool:
        return True

    def read(self, raw):
        limit = raw.get("limit")
        if limit is not None and limit.lstrip("-").isdigit() and int(limit) < 1:
            raw = {**raw.to_dict(), "limit": "1"}
        return self._parameters.read(raw)


def limit_clamped() -> Flask:
    """Breaks only an inferred rule (the lower bound of limit): a lenient run warns, a strict one fails."""
    app = create_app()
    operations = _state(app).operations
    timeline = operations["getUserTimeline"]
    operations["getUserTimeline"] = replace(timeline, query_params=_ClampingLimit(timeline.query_params))
    return app


def fourth_active_offer() -> Flask:
    """Issues offers up to four active at a time, not the documented three."""
    app = create_app()
    _state(app).store._offer_limit += 1
    return app


def second_claim_succeeds() -> Flask:
    """A claim of an offer claimed already answers 200 with the offer, as it was claimed the first time."""
    app = create_app()
    store = _state(app).store
    claim = store.claim

    def claiming_again(principal: Principal, external_id: str, offer_id: str) -> Offer:
        try:
            return claim(principal, external_id, offer_id)
        except OfferError as refused:
            if refused.message != NO_LONGER_ACTIVE:
                raise
            listing = store.offer_listing(principal.space, external_id)
            return next(o for o in (listing.offers if listing else ()) if uuid.UUID(int=o.id) == uuid.UUID(offer_id))

    store.claim = claiming_again
    return app


def total_off_by_one() -> Flask:
    """The timeline's total counts one event more than the user has."""
    return _changing_answers(create_app(), "getUserTimeline", lambda data: data.update(total=data["total"] + 1))


def _in_test(principal: Principal) -> Principal:
    """The same partner's TEST environment, whatever the key's."""
    return Principal(principal.partner_id, "TEST", principal.api_key)


def live_key_sees_test_timeline() -> Flask:
    """getUserTimeline reads the partner's TEST users whatever the key's environment."""
    app = create_app()
    store = _state(app).store
    timeline = store.timeline
    store.timeline = lambda principal, external_id, offset, limit: timeline(
        _in_test(principal), external_id, offset, limit)
    return app


def no_offer_claimed_event() -> Flask:
    """A claim stores the offer claimed, but writes no offer_claimed event on the timeline."""
    app = create_app()
    storage = _state(app).store._storage
    add_events = storage.add_events
    storage.add_events = lambda space, external_id, events: add_events(
        space, external_id, [event for event in events if event.event_type != OFFER_CLAIMED])
    return app


def claimed_offer_stays_listed() -> Flask:
    """A claimed offer stays in its user's list until it expires, shown active and unclaimed."""
    app = create_app()
    store = _state(app).store
    held_offers = store.offers

    def listing_claimed(principal: Principal, external_id: str) -> HeldOffers | None:
        held = held_offers(principal, external_id)
        every = store.offer_listing(principal.space, external_id)
        if held is None or every is None:
            return held
        claimed = [replace(offer, claimed_at=None) for offer in every.offers
                   if offer.claimed_at is not None and held.now < offer.expires_at]
        return HeldOffers([*held.offers, *claimed], held.now)

    store.offers = listing_claimed
    return app


def offers_ignore_environment() -> Flask:
    """getUserOffers and claimOffer act on the partner's TEST users whatever the key's environment."""
    app = create_app()
    store = _state(app).store
    held_offers, claim = store.offers, store.claim
    store.offers = lambda principal, external_id: held_offers(_in_test(principal), external_id)
    store.claim = lambda principal, external_id, offer_id: claim(_in_test(principal), external_id, offer_id)
    return app


def claim_ignores_environment() -> Flask:
    """claimOffer alone acts on the partner's TEST users whatever the key's environment: a LIVE key
    cannot see a TEST user, yet claims its offers."""
    app = create_app()
    store = _state(app).store
    claim = store.claim
    store.claim = lambda principal, external_id, offer_id: claim(_in_test(principal), external_id, offer_id)
    return app


def _changing_metrics(change: Callable[[Any, list[Event], int], Any]) -> Flask:
    """The mock, with every profile's figures (getUser, upserts, the offers' segments) replaced by
    `change(metrics, events, now)`: the engine's `Metrics` as computed, the user's events, the mock's now."""
    app = create_app()
    store = _state(app).store
    snapshot = store._snapshot

    def changed(space: Any, profile: Any, now: int, fresh: Any = None) -> Any:
        taken = snapshot(space, profile, now, fresh)
        events = list(store._storage.journey(space, profile.external_id) or ())
        return replace(taken, metrics=change(taken.metrics, events, now))

    store._snapshot = changed
    return app


def stage_ignores_clock() -> Flask:
    """lifecycleStage is computed at the wall clock's now, not at the mock's (frozen or moved) clock."""
    app = create_app()
    store = _state(app).store
    snapshot = store._snapshot

    def wall_clock_stage(space: Any, profile: Any, now: int, fresh: Any = None) -> Any:
        taken = snapshot(space, profile, now, fresh)
        wall = snapshot(space, profile, int(time.time()))
        return replace(taken, metrics=replace(taken.metrics, lifecycleStage=wall.metrics.lifecycleStage))

    store._snapshot = wall_clock_stage
    return app


def tier_threshold_moved() -> Flask:
    """The regular tier starts at 6 plays in 30 days, not at the documented 5."""
    return _changing_metrics(lambda metrics, events, now: replace(
        metrics, engagementTier="casual" if metrics.plays30d == 5 else metrics.engagementTier))


def points_not_counted() -> Flask:
    """pointsEarned30d leaves out the points of CAMPAIGN events."""
    def change(metrics: Any, events: list[Event], now: int) -> Any:
        left_out = sum(max(event.points, 0) for event in events
                       if event.category == "CAMPAIGN" and now - 30 * 86400 < event.occurred_at <= now)
        return replace(metrics, pointsEarned30d=metrics.pointsEarned30d - left_out)
    return _changing_metrics(change)


BROKEN = {
    "new_id_on_update": "id never changes on update",
    "first_seen_moves": "firstSeenAt never changes",
    "tags_replaced": "present fields replace, absent fields keep, tags and metadata merge key by key",
    "missing_win_rate": '"winRate" is a required property',
    "crash_on_long_external_id": "Server error",
    "missing_key_accepted": "API accepts requests without authentication",
    "test_key_writes_live": "the key prefix decides the environment",
    "any_device_accepted": "Schema-violating request accepted",
    "timeline_oldest_first": "a timeline is newest first by occurredAt",
    "event_without_occurred_at": '"occurredAt" is a required property',
    "batch_keeps_good_events": "a refused batch stores none of its events",
    "get_user_ignores_environment": "pk_live_… must not see a user of pk_test_… via getUser (",
    "fourth_active_offer": f"a user has at most {MAX_ACTIVE_OFFERS} active offers at a time",
    "second_claim_succeeds": "a claimed offer is no longer active",
    "total_off_by_one": "a timeline's total is the number of the user's events",
    "live_key_sees_test_timeline": "pk_live_… must not see a user of pk_test_… via getUserTimeline (",
    "no_offer_claimed_event": "each claim puts one offer_claimed event with the offer's pointsValue on the timeline",
    "claimed_offer_stays_listed": "a claimed offer leaves the list, which holds only active offers",
    "offers_ignore_environment": "pk_live_… must not see a user of pk_test_… via getUserOffers (",
    "claim_ignores_environment": "pk_live_… cannot claim an offer of pk_test_…'s user: 404",
    "stage_ignores_clock": "lifecycleStage is a stage whose documented criteria the user meets",
    "tier_threshold_moved": "engagementTier follows the documented thresholds of plays in 30 days: under 5 casual, "
                            "5-15 regular, 15-50 power_user, over 50 whale",
    "points_not_counted": "pointsEarned30d counts the positive points of events of every category",
}

# The variants whose rule is one of Schemathesis' checks, which the conformance tests name. Their runs keep
# the kit's order: a law may fail too, later, on what follows from the break (event_without_occurred_at: the
# timeline then holds an event unlike the one answered), and would name its own rule instead.
CONFORMANCE_RULES = {"missing_win_rate", "crash_on_long_external_id", "missing_key_accepted", "any_device_accepted",
                     "event_without_occurred_at"}


def recording() -> Flask:
    """The correct mock, writing every externalId it stored a user under to $RECORD_FILE at exit:
    users tracked by POST /users and users an event created."""
    created: list[str] = []
    seen: set[tuple[str, str, str]] = set()

    def note(stored: dict[str, Any]) -> None:  # a profile or an event: both name their user's space and id
        user = (stored["partnerId"], stored["environment"], stored["externalId"])
        if user not in seen:
            seen.add(user)
            created.append(stored["externalId"])

    def note_all(events: list[dict[str, Any]]) -> None:
        for event in events:
            note(event)

    app = _changing_profiles(lambda profile, was_created, body: note(profile))
    _changing_answers(app, "trackEvent", lambda data: note(data["event"]))
    _changing_answers(app, "trackEvents", lambda data: note_all(data["events"]))
    path = os.environ["RECORD_FILE"]
    atexit.register(lambda: Path(path).write_text("\n".join(created), encoding="utf-8"))
    return app


def recording_requests() -> Flask:
    """The correct mock, writing one line per answer to $RECORD_FILE at exit: the method, the route's
    endpoint, the status and the message of an error. Requests about the preflight's user (the
    preflight's own, one per operation and key) are left out."""
    app = create_app()
    answered: list[str] = []

    @app.after_request
    def note(response: Response) -> Response:
        if "preflight" in request.path + request.get_data(as_text=True):
            return response
        body = response.get_json(silent=True)
        message = body.get("message", "") if isinstance(body, dict) else ""
        answered.append(f"{request.method} {request.endpoint} {response.status_code} {message}")
        return response

    path = os.environ["RECORD_FILE"]
    atexit.register(lambda: Path(path).write_text("\n".join(answered), encoding="utf-8"))
    return app
