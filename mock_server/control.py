"""The control API under /__mock/: reset, inspect, load, export, break and time-shift the mock, place
and claim offers, and serve the specs; and the dashboard at /__mock/, a page that uses only these.

Described by control-openapi.yaml, whose schemas validate every body and query here. It is
not part of the GamifyHost contract and can be switched off (--no-control-api), dashboard and all.
"""
from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, send_from_directory
from flask.typing import ResponseReturnValue

from . import strict_yaml, views
from .api.offers import claim
from .api.users import USER_NOT_FOUND
from .auth import Principal
from .clock import format_timestamp, parse_instant
from .errors import INVALID_BODY, ApiError
from .fixtures import FixtureError, check_schema, export_document, offer_spec, parse_document, read_documents
from .journeys.engine import js_number
from .journeys.offers import Offer, OfferTimeError
from .journeys.profiles import Counts, OfferConflict
from .state import MockState, current_state
from .validation import parse_json_body, utf8_charset, validate_body

bp = Blueprint("control", __name__, url_prefix="/__mock")
CROSS_SITE = ("The control API takes writes from its own origin only (the dashboard, a dev server's proxy) "
              "or from outside a browser")
DASHBOARD = Path(__file__).with_name("dashboard")
# YAML's registered type, and the names tools still send for it.
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
FIXTURES_MEDIA = "Content-Type must be application/json or application/yaml"
# The dashboard loads nothing from anywhere but the mock, and the browser holds it to that.
DASHBOARD_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                    "form-action 'none'; frame-ancestors 'none'")


@bp.before_request
def refuse_other_sites() -> None:
    """A write from a page of another site is refused before it acts.

    Without CORS a page elsewhere cannot read the answers, but a "simple" request (a POST with no
    body or a text/plain one) is sent without a preflight: `fetch(mock + "/__mock/reset", {method:
    "POST", mode: "no-cors"})` from any site emptied a developer's mock (found by review). Browsers
    say where a request comes from in Sec-Fetch-Site; older ones only in Origin, which a dev server's
    proxy leaves as the page's while it rewrites Host, so Origin alone is checked only without it.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site in ("cross-site", "same-site") or (
            site is None and origin is not None and origin != f"{request.scheme}://{request.host}"):
        raise ApiError(403, CROSS_SITE)


def _ok(data: Any, **extra: Any) -> dict[str, Any]:
    return {"status": "success", "data": data, **extra}


def _body(state: MockState, operation_id: str, optional: bool = False) -> dict[str, Any]:
    if optional and not request.get_data():
        return {}
    body = parse_json_body(request)
    validate_body(state.control_bodies[operation_id], body)
    return body


def _query(state: MockState, operation_id: str) -> dict[str, Any]:
    """The operation's query parameters, converted and checked against its spec, defaults filled."""
    return state.control_queries[operation_id].read(request.args)


def _page_meta(page: int, limit: int, total: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "total": total, "totalPages": math.ceil(total / limit)}


@bp.post("/reset")
def reset() -> dict[str, Any]:
    """Everything back to a fresh start, or only one partner's/environment's profiles."""
    state = current_state()
    body = _body(state, "reset", optional=True)
    reload = body.get("reloadFixtures", False)
    if "partnerId" in body or "environment" in body:
        if reload:
            raise ApiError(400, INVALID_BODY, [{"field": "reloadFixtures", "message": "reloadFixtures reloads after "
                                                "a full reset: leave out partnerId and environment"}])
        return _ok(_removal(state.store.remove(body.get("partnerId"), body.get("environment")), everything=False))
    # Read afresh, and checked before anything is removed: a start file changed or gone since is a 400
    # that leaves the mock as it was (it emptied it, found by review). Loaded in-process: no body size
    # limit stands between a mock and its start data.
    try:
        documents = read_documents(state.start_fixtures) if reload else []
        check_schema(documents, state.control_bodies["loadFixtures"])
    except FixtureError as exc:
        raise _fixtures_refused(exc) from None
    removed = state.store.remove()
    state.journal.clear()
    state.faults.clear()
    state.clock.resume()
    answer = _removal(removed, everything=True)
    if reload:
        try:
            created, updated = state.load_fixtures(documents)
        except FixtureError as exc:
            raise _fixtures_refused(exc) from None
        answer["fixturesLoaded"] = {"created": created, "updated": updated}
    return _ok(answer)


def _removal(removed: Counts, everything: bool) -> dict[str, Any]:
    """A reset's answer: what went with the profiles, and whether journal, faults and clock were reset too."""
    return {"removedProfiles": removed.profiles, "removedEvents": removed.events, "removedOffers": removed.offers,
            "journalCleared": everything, "faultsCleared": everything, "clockReset": everything}


@bp.get("/profiles")
def list_profiles() -> dict[str, Any]:
    state = current_state()
    q = _query(state, "listProfiles")
    page, limit = q["page"], q["limit"]
    found, total = state.store.page((page - 1) * limit, limit, q.get("partnerId"), q.get("environment"),
                                    q.get("externalId"))
    return _ok([views.profile(state.store.fields, snapshot) for snapshot in found], meta=_page_meta(page, limit, total))


@bp.get("/events")
def list_events() -> dict[str, Any]:
    """One user's events, as the public timeline pages them (newest first)."""
    state = current_state()
    q = _query(state, "listEvents")
    page, limit = q["page"], q["limit"]
    space = (q["partnerId"], q["environment"])
    # The timeline reads only the principal's space; the control API acts for no key.
    found = state.store.timeline(Principal(*space, api_key=""), q["externalId"], (page - 1) * limit, limit)
    if found is None:
        raise ApiError(404, USER_NOT_FOUND)
    events, total = found
    return _ok([views.event(space, q["externalId"], event) for event in events], meta=_page_meta(page, limit, total))


def _offer(external_id: str, offer: Offer, now: int) -> dict[str, Any]:
    """An offer as the API writes it, with its issue time (which the API does not show)."""
    return {**views.offer(external_id, offer, now), "issuedAt": format_timestamp(offer.issued_at)}


@bp.get("/offers")
def list_offers() -> dict[str, Any]:
    """Every offer of one user, whatever its status, and the segment they follow; issues nothing."""
    state = current_state()
    q = _query(state, "listOffers")
    listing = state.store.offer_listing((q["partnerId"], q["environment"]), q["externalId"])
    if listing is None:
        raise ApiError(404, USER_NOT_FOUND)
    metrics = listing.metrics
    return _ok({"offers": [_offer(q["externalId"], offer, listing.now) for offer in listing.offers],
                "segment": {"lifecycleStage": metrics.lifecycleStage, "engagementTier": metrics.engagementTier,
                            "engagementScore": js_number(metrics.engagementScore),
                            "churnRisk": js_number(listing.churn_risk)}})


@bp.post("/offers")
def place_offer() -> tuple[dict[str, Any], int]:
    """Put an offer on a stored user as the body says, whatever its segment earns."""
    state = current_state()
    body = _body(state, "placeOffer")
    spec, refused = offer_spec(body)
    if refused:
        raise ApiError(400, INVALID_BODY, [{"field": name, "message": f"{name}: {why}"}
                                           for name, why in refused.items()])
    try:
        offer = state.store.put_offer(Principal(body["partnerId"], body["environment"], api_key=""),
                                      body["externalId"], spec)
    except OfferConflict as exc:
        raise ApiError(409, str(exc)) from None
    except OfferTimeError as exc:
        raise ApiError(400, INVALID_BODY, [{"field": exc.field, "message": f"{exc.field}: {exc}"}]) from None
    if offer is None:
        raise ApiError(404, USER_NOT_FOUND)
    return _ok(_offer(body["externalId"], offer, int(state.clock.now().timestamp()))), 201


@bp.post("/offers/claim")
def claim_user_offer() -> dict[str, Any]:
    """Claim a user's offer for no key, through the public claimOffer's own code."""
    state = current_state()
    body = _body(state, "claimUserOffer")
    claimed, at = claim(state.store, Principal(body["partnerId"], body["environment"], api_key=""),
                        body["externalId"], body["offerId"])
    return _ok(_offer(body["externalId"], claimed, at))


@bp.post("/fixtures")
def load_fixtures() -> dict[str, Any]:
    state = current_state()
    # The fixture checker reports every bad entry (schema included), numbered as --fixtures numbers them.
    if request.mimetype not in (*YAML_TYPES, "application/json") or not utf8_charset(request):
        raise ApiError(415, FIXTURES_MEDIA)
    try:
        # An export loads back: its bodies sit up to 4 levels below the API's nesting limit.
        document = (_yaml_body() if request.mimetype in YAML_TYPES
                    else parse_json_body(request, strict_yaml.MAX_NESTING))
        created, updated = state.load_fixtures([("request body", document)])
    except FixtureError as exc:
        raise _fixtures_refused(exc) from None
    return _ok({"created": created, "updated": updated})


def _fixtures_refused(exc: FixtureError) -> ApiError:
    """A 400 listing what is wrong with the fixtures, each problem in its field."""
    return ApiError(400, INVALID_BODY, [{"field": p.field, "message": p.message} for p in exc.reported])


def _yaml_body() -> Any:
    """A fixture document sent as YAML, parsed as a fixture file is."""
    try:
        text = request.get_data().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FixtureError(f"request body: not valid UTF-8 (byte {exc.start})") from None
    return parse_document("request body", text)


@bp.get("/export")
def export() -> dict[str, Any]:
    return export_document(current_state().store)


@bp.get("/requests")
def list_requests() -> dict[str, Any]:
    state = current_state()
    return _ok(state.journal.newest(_query(state, "listRequests")["limit"]))


@bp.delete("/requests")
def clear_requests() -> dict[str, Any]:
    return _ok({"removed": current_state().journal.clear()})


@bp.get("/faults")
def list_faults() -> dict[str, Any]:
    return _ok(current_state().faults.in_force())


@bp.post("/faults")
def add_fault() -> dict[str, Any]:
    state = current_state()
    fault = state.faults.add(_body(state, "addFault"))
    if fault["type"] == "latency" and current_app.config.get("SERVER_THREADS") == 1:
        current_app.logger.warning(
            "latency fault added on a server with one thread: other requests wait behind a delayed "
            "one; start with --threads 4 if clients call concurrently")
    return _ok(fault)


@bp.delete("/faults")
def clear_faults() -> dict[str, Any]:
    return _ok({"removed": current_state().faults.clear()})


@bp.get("/clock")
def get_clock() -> dict[str, Any]:
    return _ok(current_state().clock.describe())


@bp.post("/clock")
def set_clock() -> dict[str, Any]:
    state = current_state()
    body = _body(state, "setClock")
    if body["action"] == "freeze":
        try:
            at = parse_instant(body["at"]) if "at" in body else state.clock.now()
        except ValueError as exc:
            raise ApiError(400, INVALID_BODY, [{"field": "at", "message": str(exc)}]) from None
        state.clock.freeze(at)
    elif body["action"] == "advance":
        try:
            state.clock.advance(timedelta(seconds=body["seconds"]))
        except ValueError as exc:
            raise ApiError(400, INVALID_BODY, [{"field": "seconds", "message": str(exc)}]) from None
    else:
        state.clock.resume()
    return _ok(state.clock.describe())


@bp.get("/openapi.json")
def api_spec() -> dict[str, Any]:
    return current_state().contract.document


@bp.get("/control-openapi.json")
def control_spec() -> dict[str, Any]:
    return current_state().control.document


@bp.get("/", strict_slashes=True)
def dashboard() -> Response:
    return dashboard_file("index.html")


@bp.get("", strict_slashes=False, endpoint="dashboard_slash")
def dashboard_without_slash() -> ResponseReturnValue:
    """/__mock to /__mock/ by a relative Location: werkzeug's own redirect named this host, which took
    a page seen through a dev server's proxy off the proxy (found by the walkthrough)."""
    return redirect("/__mock/", 308)


@bp.get("/dashboard/<path:name>")
def dashboard_file(name: str) -> Response:
    response = send_from_directory(DASHBOARD, name, max_age=0)
    response.headers["Content-Security-Policy"] = DASHBOARD_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
