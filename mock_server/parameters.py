"""Path and query parameters: the raw strings of a request, converted and checked against the spec."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jsonschema_rs

from .errors import ApiError
from .spec import AcceptFast, SpecValidator
from .validation import field_errors

INVALID_PATH = "Invalid path parameters"
INVALID_QUERY = "Invalid query parameters"
MESSAGES = {"path": INVALID_PATH, "query": INVALID_QUERY}
# Digits only, with an optional sign: int() would also take " 7", "1_0" and other digits than 0-9.
_INTEGER = re.compile(r"[+-]?[0-9]+")
MAX_DIGITS = 4300  # Python's int() refuses longer text (a ValueError, which was a 500)


class Parameters:
    """The parameters of one operation found in one place (`path` or `query`)."""

    def __init__(self, location: str, parameters: list[dict[str, Any]]) -> None:
        self.message = MESSAGES[location]
        self._schemas = {p["name"]: p["schema"] for p in parameters if p["in"] == location}
        schema = {"type": "object", "properties": self._schemas, "required": [
            p["name"] for p in parameters if p["in"] == location and p.get("required")]}
        # As request bodies are checked (spec.AcceptFast): jsonschema_rs accepts the usual valid
        # values, and only what it does not accept goes to jsonschema, which alone rejects and words
        # the errors. GET /users/{id} took 184 µs of CPU with jsonschema alone, 160 µs so (the
        # app's WSGI callable, in-process). Formats are left unchecked by both, as before.
        self._validator = AcceptFast(SpecValidator(schema), jsonschema_rs.validator_for(schema, validate_formats=False))

    def __bool__(self) -> bool:
        return bool(self._schemas)

    def read(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """The values (integers converted, defaults filled); a 400 naming each bad one."""
        if not self._schemas:
            return {}
        values: dict[str, Any] = {}
        errors = []
        for name, schema in self._schemas.items():
            text = raw.get(name)
            if text is None:
                if "default" in schema:
                    values[name] = schema["default"]
            elif schema.get("type") == "integer":
                if not _INTEGER.fullmatch(text):
                    errors.append({"field": name, "message": f"{name} must be an integer"})
                elif len(text.lstrip("+-")) > MAX_DIGITS:
                    errors.append({"field": name, "message": f"{name} has more than {MAX_DIGITS:,} digits"})
                else:
                    values[name] = int(text)
            else:
                values[name] = text
        errors += field_errors(self._validator, values)
        if errors:
            raise ApiError(400, self.message, errors)
        return values
