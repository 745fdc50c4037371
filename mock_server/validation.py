"""Turning a raw HTTP request body into a checked JSON value, or an API error.

Parsing is strict where a lenient parser would store something the real service cannot
(duplicate keys, NaN, invalid UTF-8); field rules come from the contract's schema.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from flask import Request
from jsonschema.exceptions import ValidationError

from .errors import INVALID_BODY, UNSUPPORTED_MEDIA, ApiError
from .spec import ecma_search

MAX_REPORTED_ERRORS = 10
# Levels of objects and arrays a body may nest (System.Text.Json's default too). Python's parser
# takes about 980, but storing, answering or exporting such a value then overflows the stack: a
# 500, and an export that failed until the next reset.
MAX_NESTING = 64
# Lines a fixture or keys file report lists before it only counts the rest.
MAX_REPORTED_PROBLEMS = 20
T = TypeVar("T")
# A "\uD800"-"\uDFFF" escape: the only way a JSON text can smuggle in a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

# A rule's own values are listed only when they are few: the 249 country codes would drown the message.
MAX_LISTED_CHOICES = 10
# Keys and values quoted in a message are cut to this many characters.
MAX_QUOTED = 64


def quote(value: Any) -> str:
    """A value as a message shows it: strings quoted and cut to MAX_QUOTED characters, others as JSON."""
    if isinstance(value, str):
        return repr(value[:MAX_QUOTED]) + ("…" if len(value) > MAX_QUOTED else "")
    return json.dumps(value)


def _listing(values: list[Any]) -> str:
    """Allowed values, bare when they are strings (`mobile, desktop, tablet`)."""
    return ", ".join(v if isinstance(v, str) else json.dumps(v) for v in values)


def counted(n: int, one: str, many: str | None = None) -> str:
    """`1 profile`, `2 profiles`; `many` for other plurals (`entries`)."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def capped(problems: list[T], more: Callable[[int], T]) -> list[T]:
    """The first MAX_REPORTED_PROBLEMS problems, then `more(n)` saying how many were left out."""
    left_out = len(problems) - MAX_REPORTED_PROBLEMS
    return problems[:MAX_REPORTED_PROBLEMS] + ([more(left_out)] if left_out > 0 else [])


def _enum(error: ValidationError) -> str:
    choices = error.validator_value
    if len(choices) <= MAX_LISTED_CHOICES:
        return f"must be one of: {_listing(choices)}"
    # Too many to list: say what they are, from the schema's description when it has one.
    described = str(error.schema.get("description", "")).rstrip(".")
    what = described[:1].lower() + described[1:] if described else f"e.g. {_listing(choices[:3])}"
    return f"must be one of {len(choices)} values: {what}"


def _not(error: ValidationError) -> str:
    names = error.validator_value.get("required") if isinstance(error.validator_value, dict) else None
    if names and len(error.validator_value) == 1:  # `not: {required: [...]}`: a forbidden combination
        return f"must not have {' together with '.join(names)}"
    return "has a form that is not allowed here"


def _additional(error: ValidationError) -> str:
    # The names neither `properties` nor `patternProperties` admit (jsonschema's own helper for
    # this is private API).
    known, patterns = error.schema.get("properties", {}), error.schema.get("patternProperties", {})
    extra = [name for name in error.instance
             if name not in known and not any(ecma_search(p, name) for p in patterns)]
    shown = ", ".join(map(quote, extra[:3])) + (", …" if len(extra) > 3 else "")
    return f"has {'a property' if len(extra) == 1 else 'properties'} not allowed here: {shown}"


def _any_of(error: ValidationError) -> str:
    # Each alternative's own complaint about this same value: "must be one of: … or must be ''".
    texts = [_rule_text(sub) for sub in error.context or () if not sub.relative_path]
    return " or ".join(dict.fromkeys(texts)) or "matches none of the allowed forms"


# One short sentence per JSON Schema keyword that can fail on its own (tests/test_errors.py checks
# that every such keyword in openapi.yaml and control-openapi.yaml has one); never a huge value.
_RULES: dict[str, Callable[[ValidationError], str]] = {
    "type": lambda e: "must be of type " + " or ".join(e.validator_value if isinstance(e.validator_value, list)
                                                      else [e.validator_value]),
    "enum": _enum,
    "const": lambda e: f"must be {quote(e.validator_value)}",
    "minLength": lambda e: "must not be empty" if e.validator_value == 1
    else f"must be at least {counted(e.validator_value, 'character', 'characters')} long",
    "maxLength": lambda e: f"must be at most {counted(e.validator_value, 'character', 'characters')} long",
    # A schema may say in words what its pattern admits (x-pattern-hint); most patterns only ban
    # control characters, which the generic sentence says well enough.
    "pattern": lambda e: f"must be {e.schema['x-pattern-hint']}" if "x-pattern-hint" in e.schema
    else "contains characters or a form that is not allowed",
    "minItems": lambda e: f"must have at least {counted(e.validator_value, 'item')}",
    "maxItems": lambda e: f"must have at most {counted(e.validator_value, 'item')}",
    "maxProperties": lambda e: f"must have at most {counted(e.validator_value, 'entry', 'entries')}",
    "minimum": lambda e: f"must be at least {e.validator_value}",
    "maximum": lambda e: f"must be at most {e.validator_value}",
    "exclusiveMinimum": lambda e: f"must be greater than {e.validator_value}",
    "format": lambda e: f"is not a valid {e.validator_value}",
    "required": lambda e: "is required",
    "additionalProperties": _additional,
    "not": _not,
    "anyOf": _any_of,
}


def _rule_text(error: ValidationError) -> str:
    rule = _RULES.get(str(error.validator))
    return rule(error) if rule else f"breaks the {error.validator} rule"


class ErrorSource(Protocol):
    """Anything that lists a value's schema violations (a jsonschema validator, AcceptFast)."""

    def iter_errors(self, instance: Any) -> Iterable[ValidationError]: ...


class _DuplicateKey(ValueError):
    pass


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"duplicate key {quote(key)}")
            seen.add(key)
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


def utf8_charset(request: Request) -> bool:
    """Whether the body is sent as UTF-8 (no charset: UTF-8, as JSON and YAML are)."""
    return request.mimetype_params.get("charset", "utf-8").lower() in ("utf-8", "utf8")


def parse_json_body(request: Request, max_nesting: int = MAX_NESTING) -> Any:
    """The request's body as JSON; 415 unless sent as UTF-8 application/json, 400 if unparsable."""
    # The usual case, exactly application/json, needs no parsing of the header.
    if request.environ.get("CONTENT_TYPE") != "application/json" and (
            request.mimetype != "application/json" or not utf8_charset(request)):
        raise ApiError(415, UNSUPPORTED_MEDIA)
    raw = request.get_data()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"body is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise _bad("body is empty")
    try:
        return parse_json_text(text, max_nesting)
    except JsonRefused as exc:
        raise _bad(str(exc)) from None


class JsonRefused(ValueError):
    """JSON text the mock does not take; the message says why."""


class MalformedJson(JsonRefused):
    """Text that is not JSON at all."""


def parse_json_text(text: str, max_nesting: int = MAX_NESTING) -> Any:
    """`text` as JSON, strictly: no duplicate keys, NaN, infinities, unpaired surrogate escapes, or
    objects and arrays nested more than `max_nesting` levels (JsonRefused, or MalformedJson)."""
    too_deep = f"JSON is nested too deeply (more than {max_nesting} levels)"
    try:
        value = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_no_constant,
                           parse_float=_finite)
        # A lone surrogate escape ("\\ud800") decodes but cannot be stored or sent as UTF-8.
        if _SURROGATE_ESCAPE.search(text):
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except _DuplicateKey as exc:
        raise JsonRefused(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise JsonRefused(too_deep) from None
    except UnicodeEncodeError:
        raise JsonRefused("JSON contains an unpaired surrogate escape") from None
    except ValueError as exc:  # NaN/Infinity, numbers too large to represent
        raise JsonRefused(str(exc)[:200]) from None
    # Counting brackets (C speed, quoted ones too) spares most bodies the walk.
    if text.count("{") + text.count("[") > max_nesting and _deeper_than(value, max_nesting):
        raise JsonRefused(too_deep)
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest in `value` more than `limit` levels deep."""
    level: list[Any] = [value]
    for _ in range(limit):
        level = [child for node in level
                 for child in (node.values() if isinstance(node, dict) else node if isinstance(node, list) else ())
                 if isinstance(child, (dict, list))]
        if not level:
            return False
    return True


def _missing(error: ValidationError) -> str:
    """The property a `required` error is about (jsonschema reports each missing one apart)."""
    missing = [p for p in error.validator_value if p not in error.instance]
    return next((p for p in missing if error.message == f"{p!r} is a required property"), missing[0])


def describe(error: ValidationError, skip: int = 0, whole: str = "body") -> dict[str, str]:
    """`{field, message}` for one error, naming the field from the `skip`-th path segment on.

    `whole` names the value itself when the error is about all of it (field '').
    """
    path = [str(p) for p in error.absolute_path][skip:]
    if error.validator == "required":
        path.append(_missing(error))
    field = ".".join(path)
    label = field or whole
    if "propertyNames" in error.absolute_schema_path:  # the failing value is one of the object's keys
        label = f"key {quote(error.instance)} in {label}"
    return {"field": field, "message": f"{label} {_rule_text(error)}"}


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
