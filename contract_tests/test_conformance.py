"""Every operation against every Schemathesis check, positive and negative inputs alike, one at a time
and in sequences along the spec's links (a user or an event tracked, then read back; a user's offers
read, then claimed)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import Bundle
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.meta import TestPhase
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.stateful import is_root_allowed, transition

from .inferred import Judge, Sent, warn_inferred
from .schema import SCHEMA
from .target import OPERATIONS, Target
from .test_offer_laws import NO_LONGER_ACTIVE

OPERATION_AT = {operation: operation_id for operation_id, operation in OPERATIONS.items()}
# Sequences are costlier than single requests: each runs up to six steps. Half the examples: with three
# starts and seven operations, a fifth (20 in-process) left some runs without a claim (50: 4.1-6.3 s).
SCENARIOS_PER_EXAMPLE = 1 / 2
# Operations a sequence may start from besides those Schemathesis picks (see test_stateful_conformance).
SEQUENCE_STARTS = ["trackUser", "trackEvents"]


@SCHEMA.parametrize()
def test_conformance(case, target, judge):
    response = case.call()
    judged(target, judge, case, response, lambda: case.validate_response(response))


def test_stateful_conformance(target: Target, judge: Judge):
    """Sequences along the spec's links: a user tracked (trackUser), or events tracked (trackEvent,
    trackEvents), then its profile, timeline and offers read; its first offer claimed, and claimed again
    at once (the second claim must be refused, 400), then its timeline and offers read again.

    Schemathesis starts sequences from the operations it judges able to create: trackEvent alone
    here, since it takes the `externalId` of trackUser and trackEvents for a reference to an unknown
    "External" resource. trackUser, which the docs say creates the user, and trackEvents, which the
    mock's rules let create users too, are added as starts."""
    class Links(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response, case, *args: Any, **kwargs: Any) -> None:
            validate = super().validate_response
            judged(target, judge, case, response, lambda: validate(response, case, *args, **kwargs))

        def step(self, input: StepInput) -> StepOutput:
            """Every claim answered 200 is sent again at once, as a double click sends it: the second must be
            the documented 400 "Offer is no longer active" (the spec's ClaimAgain link, taken every time)."""
            output = super().step(input)
            case = input.case
            claimed = OPERATION_AT.get((case.method.upper(), case.path)) == "claimOffer"
            if claimed and output.response.status_code == 200:
                again = self.call(case, **self.get_call_kwargs(case))
                self.validate_response(again, case)
                answer = _json(again)
                message = answer.get("message") if isinstance(answer, dict) else None
                if (again.status_code, message) != (400, NO_LONGER_ACTIVE):
                    raise AssertionError(
                        f'a claimed offer is no longer active: claiming it again is 400 "{NO_LONGER_ACTIVE}"\n'
                        f"expected: 400 {NO_LONGER_ACTIVE!r}\nreceived: {again.status_code} {message!r}\n"
                        f"request: {case.as_curl_command()}")
            return output

    for operation_id in SEQUENCE_STARTS:
        start_from(Links, operation_id)
    phases = [Phase.generate, Phase.shrink] if target.shrink else [Phase.generate]
    Links.run(settings=settings(
        max_examples=max(5, round(target.max_examples * SCENARIOS_PER_EXAMPLE)),
        stateful_step_count=SCHEMA.config.phases.stateful.max_steps, phases=phases, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))


def start_from(machine: Any, operation_id: str) -> None:
    """Let `machine` start a sequence with a request of its own to the operation, as it starts one from
    those it picked itself (Schemathesis' own rule for such a start; its answer feeds the links)."""
    method, path = OPERATIONS[operation_id]
    operation = SCHEMA[path][method]
    name = f"START__{operation_id}"
    setattr(machine, name, transition(
        name=name, target=Bundle("catch_all"), precondition=is_root_allowed(operation.label),
        input=operation.as_strategy(generation_mode=GenerationMode.POSITIVE, phase=TestPhase.STATEFUL).map(
            StepInput.initial)))
    machine.root_rules = machine.root_rules | {name}
    machine._root_labels = machine._root_labels | {operation.label}


def judged(target: Target, judge: Judge, case, response, validate: Callable[[], None]) -> None:
    """Run the checks; against a target judged leniently, breaches of inferred rules only are warnings."""
    try:
        validate()
    except FailureGroup as group:
        if target.inferred_fail:
            raise
        # The case's own operation: a check may have sent it with another method (OPTIONS, an undeclared one).
        operation_id = OPERATION_AT[case.operation.method.upper(), case.operation.path]
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
