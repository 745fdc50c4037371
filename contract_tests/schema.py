"""The contract as one Schemathesis schema, aimed at the run's target before tests are collected.

(A module-level schema rather than `schemathesis.pytest.from_fixture`: the lazy loader reads a
private pytest attribute that pytest 9.2 removed.)
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, unquote

import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

from mock_server.spec import load_contract

from .target import OPERATIONS, Target

PATH, QUERY = ParameterLocation.PATH, ParameterLocation.QUERY

CONTRACT = load_contract()
# The statuses a valid request may get, shared with the plain Schemathesis CLI (see the file).
SETTINGS = Path(__file__).with_name("schemathesis.toml")
SCHEMA = schemathesis.openapi.from_dict(CONTRACT.document, config=SchemathesisConfig.from_path(str(SETTINGS)))
PROPERTIES = CONTRACT.request_properties("trackUser")
MAX_EXTERNAL_ID = PROPERTIES["externalId"]["maxLength"]
# The documented cap: at most this many active offers per user (the list's maxItems).
MAX_ACTIVE_OFFERS: int = CONTRACT.resolve("#/components/schemas/GetOffersResponse")[
    "properties"]["data"]["properties"]["offers"]["maxItems"]

def valid_bodies_of(operation_id: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid request bodies of an operation from the spec, without externalId or undeclared properties."""
    declared = CONTRACT.request_properties(operation_id)
    method, path = OPERATIONS[operation_id]
    return SCHEMA[path][method].as_strategy(generation_mode=GenerationMode.POSITIVE).map(
        lambda case: {k: v for k, v in cast("dict[str, Any]", case.body).items()  # the body schemas are objects
                      if k in declared and k != "externalId"})


valid_bodies = valid_bodies_of("trackUser")
valid_events = valid_bodies_of("trackEvent")
_aimed_at: list[Target] = []
# Undeclared methods sent to servers off this machine, and with --skip-writes: those HTTP defines as safe.
SAFE_PROBES = ("options", "trace")


def with_prefix(prefix: str, external_id: str) -> str:
    """Mark an externalId without changing whether it fits the length limit.

    A boundary case (exactly the maximum length) must stay exactly that long, so a long id
    has its start overwritten rather than the prefix added in front.
    """
    if external_id.startswith(prefix):  # e.g. read back from an answer, as the stateful phase's links do
        return external_id
    if len(prefix) + len(external_id) <= MAX_EXTERNAL_ID or len(external_id) < len(prefix):
        return prefix + external_id
    return prefix + external_id[len(prefix):]


def aim(target: Target) -> None:
    """Point SCHEMA at the target, with its key, example budget, shrinking, rate limit and checks."""
    SCHEMA.config.update(headers={"X-API-Key": target.api_key})
    SCHEMA.config.checks.update(included_check_names=["all"])
    # Coverage adds boundary values (e.g. a 255-character externalId) that random generation misses.
    SCHEMA.config.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
    SCHEMA.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=target.max_examples,
        no_shrink=not target.shrink)
    if target.skip_writes or not target.on_this_machine:
        # The coverage phase sends every method a path does not declare (DELETE, PUT, PATCH, POST, ...) to see
        # it refused. Off this machine, or reading only, a server might honour one: only safe methods go.
        SCHEMA.config.phases.coverage.unexpected_methods = set(SAFE_PROBES)
    if target.in_process:
        SCHEMA.app = target.app
    else:
        SCHEMA.config.update(base_url=target.url)
    if target.rate_limit:
        SCHEMA.config.update(rate_limit=f"{target.rate_limit:g}/s")
    _aimed_at[:] = [target]


@schemathesis.hook("before_call")
def prefix_external_id(context, case, kwargs) -> None:
    """Give every externalId a request names the run prefix (of the body, of each event of a batch,
    of the path), so what the run creates can be told apart later and reads go to its own users.

    Schemathesis re-checks after this hook whether a negative case is still negative.
    """
    if not _aimed_at:
        return
    target = _aimed_at[0]
    body = case.body
    events = body.get("events") if isinstance(body, dict) else None
    # A sequence that starts by tracking a user gets a user of its own, whatever id was drawn: what the
    # links then read (the user's offers, the first offer's id) must not depend on earlier sequences,
    # or the same draws would lead to different requests, which Hypothesis refuses as flaky.
    starts = _in_sequence(case) and (case.method.upper(), case.path) == OPERATIONS["trackUser"]
    for container in (body, *(events if isinstance(events, list) else ())):
        if isinstance(container, dict) and isinstance(container.get("externalId"), str):
            external_id = container["externalId"]
            container["externalId"] = (
                with_prefix(f"{target.prefix}{uuid.uuid4().hex[:8]}-", _unmarked(target.prefix, external_id))
                if starts else with_prefix(target.prefix, external_id))
    path = case.path_parameters
    # A path id that breaks the externalId rule reads nothing and is sent as generated: Schemathesis would
    # re-check the edited percent-encoded text, not the id the server decodes, and could call it valid.
    if not isinstance(path, dict) or not isinstance(path.get("externalId"), str) or _negative_at(case, PATH):
        return
    if target.skip_writes:
        # Nothing is created: a read goes to one of the users named (--user), whichever id was drawn.
        path["externalId"] = quote(target.named_user(unquote(path["externalId"])), safe="")
    elif _negative_at(case, QUERY):
        # A bad query must be refused for itself: for an unknown user a 404 would pass for a refusal.
        path["externalId"] = quote(target.known_user, safe="")
    elif _in_sequence(case) and not unquote(path["externalId"]).startswith(target.prefix):
        # In a sequence, an id no link gave (links give the run's own ids) goes to a user that exists:
        # Schemathesis counts what this hook changes as given by a link, and would take the 404 of a
        # random prefixed id read after a POST /users for "ST302 Created resource not found".
        path["externalId"] = quote(target.known_user, safe="")
    else:
        # Path values come percent-encoded: the prefix and the length rule apply to the id itself.
        path["externalId"] = quote(with_prefix(target.prefix, unquote(path["externalId"])), safe="")


def _negative_at(case, location: ParameterLocation) -> bool:
    return bool(case.meta and case.meta.is_negative_at(location))


def _unmarked(prefix: str, external_id: str) -> str:
    """An id without the run prefix and the marks of earlier sequences (Schemathesis draws ids it saw in answers)."""
    return re.sub(rf"^(?:{re.escape(prefix)}(?:[0-9a-f]{{8}}-)?)+", "", external_id)


def _in_sequence(case) -> bool:
    """Whether the case is a step of the stateful phase."""
    return bool(case.meta and case.meta.phase.name == TestPhase.STATEFUL)
