"""Telling documented rules from inferred ones, so a real server is judged fairly.

The spec marks what this project decided (x-inferred). A "documented" copy of the spec drops
those decisions; a failure that the documented copy would not report is a breach of an
inferred rule only. Against the mock every breach fails the run; against other servers an
inferred-only breach is a warning, since the real API may legitimately differ there.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any

from referencing.exceptions import Unresolvable

from mock_server.spec import Contract

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


class Judge:
    """Decides, failure by failure, whether only an inferred rule was broken."""

    def __init__(self, full: Contract, operation_id: str) -> None:
        self._operation_id = operation_id
        self._documented = Contract(documented_document(full.document))
        self._declared = set(full.request_properties(operation_id))
        self._request = self._documented.validator(self._documented.request_schema_ref(operation_id))
        self._responses: dict[int, Any] = {}

    def body_documented_valid(self, body: Any) -> bool:
        return self._request.is_valid(body)

    def response_documented_valid(self, status: int, body: Any) -> bool:
        if status not in self._responses:
            try:
                ref = self._documented.response_schema_ref(self._operation_id, status)
            except Unresolvable:  # an undeclared status is never excused
                return False
            self._responses[status] = self._documented.validator(ref)
        return self._responses[status].is_valid(body)

    def inferred_only(self, failure: Exception, request_body: Any, status: int, response_body: Any) -> bool:
        """True when `failure` (a Schemathesis check failure) breaks only inferred rules."""
        kind = type(failure).__name__
        if kind == "JsonSchemaError":
            return self.response_documented_valid(status, response_body)
        if kind == "AcceptedNegativeData":
            # Accepted data that only our inferred limits forbid.
            return self.body_documented_valid(request_body)
        if kind == "RejectedPositiveData":
            # Accepting unknown properties is itself an inferred rule.
            return isinstance(request_body, dict) and bool(set(request_body) - self._declared)
        return False


def warn_inferred(message: str) -> None:
    """Report an inferred-rule breach as a warning that names the rule."""
    warnings.warn(InferredRuleWarning(message), stacklevel=2)
