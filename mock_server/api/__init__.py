"""The GamifyHost API's handlers, one module per resource, by operationId."""
from __future__ import annotations

from ..operations import Handler
from . import events, offers, users

HANDLERS: dict[str, Handler] = {**users.HANDLERS, **events.HANDLERS, **offers.HANDLERS}
