"""Checking that an answer the mock gave is one the contract allows, by status and schema."""
from __future__ import annotations

from typing import Any

from mock_server.spec import Contract, load_contract, pointer

TRACK_PATH = "/v1/user-journeys/users"
_ROUTING_ERRORS = {404: "NotFound", 405: "MethodNotAllowed"}


def schema_ref_for(contract: Contract, method: str, path: str, status: int) -> str:
    """Which schema an answer must match; fails when the contract allows no such answer."""
    if method == "POST" and path == TRACK_PATH:
        responses = contract.resolve(contract.operation_pointer("trackUser") + pointer("responses"))
        assert str(status) in responses, f"POST {path} answered {status}, which the spec does not declare"
        return contract.response_schema_ref("trackUser", status)
    assert status in _ROUTING_ERRORS, f"{method} {path} answered {status}, which the spec does not declare"
    return pointer("components", "responses", _ROUTING_ERRORS[status], "content", "application/json", "schema")


def assert_conforms(method: str, path: str, status: int, content_type: str | None, body: Any,
                    contract: Contract | None = None) -> None:
    """Fail with every schema violation of one answer."""
    contract = contract or load_contract()
    ref = schema_ref_for(contract, method, path, status)
    assert content_type and content_type.split(";")[0].strip() == "application/json", content_type
    violations = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in contract.validator(ref).iter_errors(body)]
    assert not violations, f"{method} {path} -> {status} breaks the spec: {violations}"
