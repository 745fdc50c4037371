"""Every operation against every Schemathesis check, positive and negative inputs alike."""
from __future__ import annotations

from schemathesis.core.failures import FailureGroup

from .inferred import warn_inferred
from .schema import SCHEMA


@SCHEMA.parametrize()
def test_conformance(case, target, judge):
    response = case.call()
    try:
        case.validate_response(response)
    except FailureGroup as group:
        if target.inferred_fail:
            raise
        status, body = response.status_code, _json(response)
        hard = [f for f in group.exceptions if not judge.inferred_only(f, case.body, status, body)]
        if hard:
            raise
        warn_inferred(f"{case.method} {case.path}: only rules marked x-inferred were broken\n{group.message}")


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None
