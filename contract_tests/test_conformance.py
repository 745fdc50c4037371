"""Every operation against every Schemathesis check, positive and negative inputs alike, one at a time
and in sequences along the spec's links (a user or an event tracked, then read back)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hypothesis import HealthCheck, Phase, settings
from schemathesis.core.failures import FailureGroup

from .inferred import Judge, Sent, warn_inferred
from .schema import SCHEMA
from .target import OPERATIONS, Target

OPERATION_AT = {operation: operation_id for operation_id, operation in OPERATIONS.items()}
# Sequences are costlier than single requests: each runs up to six steps.
SCENARIOS_PER_EXAMPLE = 1 / 5


@SCHEMA.parametrize()
def test_conformance(case, target, judge):
    response = case.call()
    judged(target, judge, case, response, lambda: case.validate_response(response))


def test_stateful_conformance(target: Target, judge: Judge):
    """Schemathesis starts its sequences from the operations it judges able to create: trackEvent
    here (it takes `externalId` of trackUser and trackEvents for a reference to an unknown "External"
    resource). The trackUser links are followed by test_user_laws.py instead."""
    class Links(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response, case, *args: Any, **kwargs: Any) -> None:
            validate = super().validate_response
            judged(target, judge, case, response, lambda: validate(response, case, *args, **kwargs))

    phases = [Phase.generate, Phase.shrink] if target.shrink else [Phase.generate]
    Links.run(settings=settings(
        max_examples=max(5, round(target.max_examples * SCENARIOS_PER_EXAMPLE)),
        stateful_step_count=SCHEMA.config.phases.stateful.max_steps, phases=phases, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))


def judged(target: Target, judge: Judge, case, response, validate: Callable[[], None]) -> None:
    """Run the checks; against a target judged leniently, breaches of inferred rules only are warnings."""
    try:
        validate()
    except FailureGroup as group:
        if target.inferred_fail:
            raise
        operation_id = OPERATION_AT[case.method.upper(), case.path]
        sent = Sent(case.body, {name: str(value) for name, value in (case.path_parameters or {}).items()},
                    _query(response.request.url))
        status, body = response.status_code, _json(response)
        if any(not judge.inferred_only(operation_id, f, sent, status, body) for f in group.exceptions):
            raise
        warn_inferred(f"{case.method} {case.path}: only rules marked x-inferred were broken\n{group.message}")


def _query(url: str) -> dict[str, str]:
    """The query parameters as sent; of a repeated one the first, as servers commonly read it."""
    return dict(reversed(parse_qsl(urlsplit(url).query, keep_blank_values=True)))


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None
