"""Checking that an answer the mock gave is one the contract allows, by status and schema."""
from __future__ import annotations

from typing import Any

from mock_server.spec import Contract, load_contract, load_control_contract, pointer

_ROUTING_ERRORS = {404: "NotFound", 405: "MethodNotAllowed"}


def schema_ref_for(method: str, path: str, status: int) -> tuple[Contract, str]:
    """Which schema an answer must match (API or control spec); fails if none allows it."""
    for contract in (load_contract(), load_control_contract()):
        operation_id = contract.operation_id_at(path, method)
        if operation_id:
            responses = contract.resolve(contract.operation_pointer(operation_id) + pointer("responses"))
            assert str(status) in responses, f"{method} {path} answered {status}, which its spec does not declare"
            return contract, contract.response_schema_ref(operation_id, status)
    assert status in _ROUTING_ERRORS, f"{method} {path} answered {status}, which the spec does not declare"
    api = load_contract()
    return api, pointer("components", "responses", _ROUTING_ERRORS[status], "content", "application/json", "schema")


def assert_conforms(method: str, path: str, status: int, content_type: str | None, body: Any) -> None:
    """Fail with every schema violation of one answer."""
    contract, ref = schema_ref_for(method, path, status)
    assert content_type and content_type.split(";")[0].strip() == "application/json", content_type
    violations = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in contract.validator(ref).iter_errors(body)]
    assert not violations, f"{method} {path} -> {status} breaks the spec: {violations}"
