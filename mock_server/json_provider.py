"""Flask's JSON answers through orjson: the largest single cost left per answer was encoding it.

orjson refuses integers wider than 64 bits, which metadata may hold; those answers go through
the standard encoder instead, so the output is the same JSON either way.
"""
from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider


class FastJSONProvider(DefaultJSONProvider):
    """Flask's default provider with orjson for `dumps` (and so for every JSON response)."""

    sort_keys = False  # keep the documented field order

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if not kwargs:
            try:
                return orjson.dumps(obj).decode("utf-8")
            except TypeError:
                pass
        return super().dumps(obj, **kwargs)
