"""The contract as one Schemathesis schema, aimed at the run's target before tests are collected.

(A module-level schema rather than `schemathesis.pytest.from_fixture`: the lazy loader reads a
private pytest attribute that pytest 9.2 removed.)
"""
from __future__ import annotations

from typing import Any, cast

import schemathesis
from schemathesis import GenerationMode

from mock_server.spec import load_contract

from .target import TRACK_PATH, Target

CONTRACT = load_contract()
SCHEMA = schemathesis.openapi.from_dict(CONTRACT.document)
PROPERTIES = CONTRACT.request_properties("trackUser")
MAX_EXTERNAL_ID = PROPERTIES["externalId"]["maxLength"]
# Valid request bodies from the spec, without externalId and without undeclared properties.
valid_bodies = SCHEMA[TRACK_PATH]["POST"].as_strategy(generation_mode=GenerationMode.POSITIVE).map(
    lambda case: {k: v for k, v in cast("dict[str, Any]", case.body).items()  # the body schema is an object
                  if k in PROPERTIES and k != "externalId"})
_run_prefix: list[str] = []


def with_prefix(prefix: str, external_id: str) -> str:
    """Mark an externalId without changing whether it fits the length limit.

    A boundary case (exactly the maximum length) must stay exactly that long, so a long id
    has its start overwritten rather than the prefix added in front.
    """
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
    if target.in_process:
        SCHEMA.app = target.app
    else:
        SCHEMA.config.update(base_url=target.url)
    if target.rate_limit:
        SCHEMA.config.update(rate_limit=f"{target.rate_limit:g}/s")
    _run_prefix[:] = [target.prefix]


@schemathesis.hook("before_call")
def prefix_external_id(context, case, kwargs) -> None:
    """Give every externalId the run prefix, so what the run creates can be told apart later.

    Schemathesis re-checks after this hook whether a negative case is still negative.
    """
    body = case.body
    if _run_prefix and case.path == TRACK_PATH and isinstance(body, dict) \
            and isinstance(body.get("externalId"), str):
        body["externalId"] = with_prefix(_run_prefix[0], body["externalId"])
