"""Turning a raw HTTP request body into a checked JSON value, or an API error.

Parsing is strict where a lenient parser would store something the real service cannot
(duplicate keys, NaN, invalid UTF-8); field rules come from the contract's schema.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable, Protocol

from flask import Request
from jsonschema.exceptions import ValidationError

from .errors import INVALID_BODY, UNSUPPORTED_MEDIA, ApiError

MAX_REPORTED_ERRORS = 10
# A "\uD800"-"\uDFFF" escape: the only way a JSON text can smuggle in a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

# One short sentence per JSON Schema keyword, so that an error never echoes a huge value back.
_RULE_TEXT = {
    "type": "must be of type {value}",
    "enum": "is not one of the allowed values",
    "const": "must be {value!r}",
    "minLength": "must be at least {value} characters long",
    "maxLength": "must be at most {value} characters long",
    "pattern": "contains characters or a form that is not allowed",
    "maxProperties": "must have at most {value} entries",
    "minProperties": "must have at least {value} entries",
    "format": "is not a valid {value}",
}


class ErrorSource(Protocol):
    """Anything that lists a value's schema violations (a jsonschema validator, AcceptFast)."""

    def iter_errors(self, instance: Any) -> Iterable[ValidationError]: ...


class _DuplicateKey(ValueError):
    pass


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _DuplicateKey(f"duplicate key {dup[:64]!r}")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # e.g. 1e400: valid JSON, but no JSON number can carry it back
        raise ValueError(f"number {text[:40]} is too large")
    return value


def _bad(message: str, field: str = "") -> ApiError:
    return ApiError(400, INVALID_BODY, [{"field": field, "message": message}])


def parse_json_body(request: Request) -> Any:
    """The request's body as JSON; 415 unless sent as UTF-8 application/json, 400 if unparsable."""
    if request.environ.get("CONTENT_TYPE") != "application/json":  # the usual case needs no parsing
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if request.mimetype != "application/json" or charset not in ("utf-8", "utf8"):
            raise ApiError(415, UNSUPPORTED_MEDIA)
    raw = request.get_data()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"body is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise _bad("body is empty")
    try:
        value = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_no_constant,
                           parse_float=_finite)
        # A lone surrogate escape ("\\ud800") decodes but cannot be stored or sent as UTF-8.
        if _SURROGATE_ESCAPE.search(text):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except _DuplicateKey as exc:
        raise _bad(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise _bad(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _bad("JSON is nested too deeply") from None
    except UnicodeEncodeError:
        raise _bad("JSON contains an unpaired surrogate escape") from None
    except ValueError as exc:  # NaN/Infinity, numbers too large to represent
        raise _bad(str(exc)[:200]) from None
    return value


def _field_name(error: ValidationError, skip: int) -> str:
    path = [str(p) for p in error.absolute_path][skip:]
    if error.validator == "required":
        missing = [p for p in error.validator_value if p not in error.instance]
        path.append(missing[0] if missing else "")
    elif error.validator == "propertyNames":
        path.append(str(error.instance)[:64])
    return ".".join(path)


def _rule_message(error: ValidationError, field: str) -> str:
    label = field or "body"
    if error.validator == "required":
        return f"{label} is required"
    if error.validator == "propertyNames":
        return f"key {label!r} is not an allowed tag name"
    template = _RULE_TEXT.get(str(error.validator), "breaks the {keyword} rule")
    return f"{label} " + template.format(value=error.validator_value, keyword=error.validator)


def describe(error: ValidationError, skip: int = 0) -> dict[str, str]:
    """`{field, message}` for one error, naming the field from the `skip`-th path segment on."""
    field = _field_name(error, skip)
    return {"field": field, "message": _rule_message(error, field)}


def sorted_errors(validator: ErrorSource, value: Any) -> list[ValidationError]:
    """Every error, in a stable order (by the path of the failing value)."""
    return sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])


def field_errors(validator: ErrorSource, value: Any) -> list[dict[str, str]]:
    """Each broken rule as {field, message}, in a stable order, at most MAX_REPORTED_ERRORS."""
    return [describe(error) for error in sorted_errors(validator, value)[:MAX_REPORTED_ERRORS]]


def validate_body(validator: ErrorSource, value: Any) -> None:
    """Raise the API's 400 when `value` breaks the schema behind `validator`."""
    errors = field_errors(validator, value)
    if errors:
        raise ApiError(400, INVALID_BODY, errors)
