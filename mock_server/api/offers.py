"""Offers: the user's active ones (issued on read), and claiming one."""
from __future__ import annotations

from typing import Any

from .. import views
from ..auth import Principal
from ..errors import ApiError
from ..journeys.offers import Offer, OfferError
from ..journeys.profiles import ProfileStore
from ..operations import Call, Handler
from .users import USER_NOT_FOUND


def get_user_offers(call: Call) -> dict[str, Any]:
    """Issue what the user's segment earns now, then answer the active offers in issue order."""
    external_id = call.params["externalId"]
    held = call.state.store.offers(call.principal, external_id)
    if held is None:
        raise ApiError(404, USER_NOT_FOUND)
    return {"offers": [views.offer(external_id, offer, held.now) for offer in held.offers]}


def claim(store: ProfileStore, principal: Principal, external_id: str, offer_id: str) -> tuple[Offer, int]:
    """Claim the user's offer now, as claimOffer does (the control API's claim too): the claimed offer
    and the claim's instant; a refusal raises its documented status and message."""
    try:
        claimed = store.claim(principal, external_id, offer_id)
    except OfferError as refused:
        raise ApiError(refused.status, refused.message) from None
    at = claimed.claimed_at  # the claim's instant, which the store used: "claimed" is the status at any
    if at is None:
        raise RuntimeError(f"offer {offer_id!r} came back from its claim unclaimed")
    return claimed, at


def claim_offer(call: Call) -> dict[str, Any]:
    """Claim the user's offer now; a refusal is answered with its documented status and message.
    Any request body is ignored: the spec gives the operation none, so the pipeline reads none."""
    external_id = call.params["externalId"]
    claimed, at = claim(call.state.store, call.principal, external_id, call.params["offerId"])
    return {"offer": views.offer(external_id, claimed, at)}


HANDLERS: dict[str, Handler] = {
    "getUserOffers": get_user_offers,
    "claimOffer": claim_offer,
}
