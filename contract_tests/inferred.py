"""Telling documented rules from inferred ones, so a real server is judged fairly.

The spec marks what this project decided (x-inferred). A "documented" copy of the spec drops
those decisions; a failure that the documented copy would not report is a breach of an
inferred rule only. Against the mock every breach fails the run; against other servers an
inferred-only breach is a warning, since the real API may legitimately differ there.
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from referencing.exceptions import Unresolvable
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import JsonSchemaError, RejectedPositiveData, UndefinedStatusCode

from mock_server.errors import ApiError
from mock_server.operations import compile_operations
from mock_server.spec import Contract, pointer

# Validation keywords an x-inferred schema node may have decided.
CONSTRAINT_KEYWORDS = frozenset({
    "maxLength", "minLength", "pattern", "format", "maxProperties", "minProperties",
    "propertyNames", "additionalProperties", "maximum", "minimum", "enum", "const",
})


class InferredRuleWarning(UserWarning):
    """A target broke a rule the docs do not state; worth a look, not a contract failure."""


def documented_document(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the spec without the validation keywords that x-inferred nodes decided."""
    stripped = copy.deepcopy(document)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("x-inferred") is True:
                for keyword in node.get("x-inferred-keywords", CONSTRAINT_KEYWORDS):
                    node.pop(keyword, None)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(stripped)
    return stripped


@dataclass(frozen=True)
class Sent:
    """What a request carried that the spec has rules for: its body, its path and query parameters as sent."""

    body: Any
    path: Mapping[str, str]
    query: Mapping[str, str]


class Judge:
    """Decides, failure by failure, whether only an inferred rule of the failing operation was broken."""

    def __init__(self, full: Contract) -> None:
        self._full = full
        self._documented = Contract(documented_document(full.document))
        self._operations = compile_operations(self._documented)
        self._responses: dict[tuple[str, int], list[Any]] = {}

    def request_documented_valid(self, operation_id: str, sent: Sent) -> bool:
        """Whether the request keeps every documented rule of its parameters and body."""
        operation = self._operations[operation_id]
        try:
            operation.path_params.read(sent.path)
            operation.query_params.read(sent.query)
        except ApiError:
            return False
        return operation.body is None or next(iter(operation.body.iter_errors(sent.body)), None) is None

    def response_documented_valid(self, operation_id: str, status: int, body: Any) -> bool:
        if (operation_id, status) not in self._responses:
            try:
                self._responses[operation_id, status] = self._response_validators(operation_id, status)
            except Unresolvable:  # an undeclared status is never excused
                return False
        return all(validator.is_valid(body) for validator in self._responses[operation_id, status])

    def _response_validators(self, operation_id: str, status: int) -> list[Any]:
        ref = self._documented.response_schema_ref(operation_id, status)
        response = self._full.resolve(self._full.operation_pointer(operation_id) + pointer("responses", str(status)))
        if response.get("x-inferred") is True:
            # A response the docs do not give (e.g. 404 "User not found"): only the shared schemas it
            # builds on, the error envelope, are documented.
            return [self._documented.validator(part["$ref"])
                    for part in self._documented.resolve(ref).get("allOf", []) if "$ref" in part]
        return [self._documented.validator(ref)]

    def has_undeclared_properties(self, operation_id: str, body: Any) -> bool:
        """Whether the body carries, at any depth, a property its schema does not list."""
        if self._operations[operation_id].body is None:
            return False
        return _undeclared(self._full.bundled(self._full.request_schema_ref(operation_id)), body)

    def inferred_only(self, operation_id: str, failure: Exception, sent: Sent, status: int,
                      response_body: Any) -> bool:
        """True when `failure` (a Schemathesis check failure) breaks only inferred rules."""
        if isinstance(failure, JsonSchemaError):
            return self.response_documented_valid(operation_id, status, response_body)
        if isinstance(failure, AcceptedNegativeData):
            # Accepted data that only our inferred limits forbid (e.g. limit=0, a 300-character externalId).
            return self.request_documented_valid(operation_id, sent)
        if isinstance(failure, RejectedPositiveData):
            # Accepting unknown properties is itself an inferred rule.
            return self.has_undeclared_properties(operation_id, sent.body)
        if isinstance(failure, UndefinedStatusCode):
            # Another success status (201, say) where the docs give none and the spec decided 200.
            return 200 <= status < 300 and self.success_inferred(operation_id)
        return False

    def success_inferred(self, operation_id: str) -> bool:
        """Whether every success response the spec gives this operation is marked x-inferred."""
        responses = self._full.resolve(self._full.operation_pointer(operation_id) + pointer("responses"))
        successes = [self._full.resolve(r["$ref"]) if "$ref" in r else r
                     for status, r in responses.items() if str(status).startswith("2")]
        return bool(successes) and all(r.get("x-inferred") is True for r in successes)


def _undeclared(schema: dict[str, Any], value: Any) -> bool:
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        return any(name not in properties or _undeclared(properties[name], item) for name, item in value.items())
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return any(_undeclared(schema["items"], item) for item in value)
    return False


def warn_inferred(message: str) -> None:
    """Report an inferred-rule breach as a warning that names the rule."""
    warnings.warn(InferredRuleWarning(message), stacklevel=2)
