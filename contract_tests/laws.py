"""What the law tests share: how a broken law fails or warns, and how many examples a law gets.

Laws are properties over the public API only, so they hold for real servers too. A law the docs
state always fails the run when broken; a law that rests on an inferred rule (`inferred=True`)
fails it against the mock and warns against other servers.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.strategies import SearchStrategy

from .inferred import warn_inferred
from .target import Exchange, Target

ENVIRONMENT = {"pk_test_": "TEST", "pk_live_": "LIVE"}


def law(target: Target, holds: bool, rule_text: str, exchange: Exchange, expected: Any, received: Any,
        inferred: bool = False) -> None:
    """Fail (or, for an inferred rule against a non-mock target, warn) when a law is broken."""
    if holds:
        return
    message = f"{rule_text}\nexpected: {expected!r}\nreceived: {received!r}\n{exchange.describe()}"
    if inferred and not target.inferred_fail:
        warn_inferred(message)
    else:
        raise AssertionError(message)


def answered(target: Target, exchange: Exchange, rule_text: str, *within: str, inferred: bool = False) -> Any:
    """The answer's `data` (or the part of it at `within`), which the law says a 200 brings.

    When it does not come and the rule is inferred, the warning is given and the test stops as
    skipped: what would follow builds on an answer this target does not give.
    """
    data = exchange.body.get("data") if exchange.status == 200 and isinstance(exchange.body, dict) else None
    for name in within:
        data = data.get(name) if isinstance(data, dict) else None
    law(target, data is not None, rule_text, exchange, f"200 with data{''.join(f'.{n}' for n in within)}",
        exchange.status, inferred)
    if data is None:
        pytest.skip(f"the target breaks an inferred rule the rest of this law builds on: {rule_text}")
    return data


def environment_of(key: str) -> str:
    return ENVIRONMENT[key[:8]]


def fresh_id(target: Target, label: str) -> str:
    """An externalId no one has used: the run prefix, what it is for, and a random part."""
    return f"{target.prefix}{label}-{uuid.uuid4().hex[:8]}"


def law_settings(target: Target, examples: int, **more: Any) -> settings:
    """Hypothesis settings for a law: `examples` examples, shrinking as the run says, no example database
    (the target's state differs from run to run, so an old failing example proves nothing)."""
    phases = list(Phase) if target.shrink else [p for p in Phase if p is not Phase.shrink]
    return settings(max_examples=examples, deadline=None, database=None, phases=phases,
                    suppress_health_check=list(HealthCheck), **more)


def check_examples(target: Target, share: float, law_test: Callable[..., None],
                   **strategies: SearchStrategy[Any]) -> None:
    """Run `law_test` on examples from `strategies`: `share` of the run's examples per test, at least 3."""
    settings_ = law_settings(target, max(3, round(target.max_examples * share)))
    settings_(given(**strategies)(law_test))()


def needs_writes(target: Target, *keys: str) -> None:
    """Skip the calling test, saying why, unless the run may write under every one of `keys`
    (not with --skip-writes; a pk_live_ key off this machine only with --allow-live)."""
    for key in keys:
        if why := target.why_read_only(key):
            pytest.skip(f"this law writes, and {why}")


def key_pair(target: Target, key_index: int) -> tuple[str, str]:
    """(owner, other) for the isolation laws: the main key's user seen by the first other key, then by the
    second; with one other key, the second pair is the other way round (the other key's user)."""
    others = target.other_api_keys
    return (target.api_key, others[key_index]) if key_index < len(others) else (others[0], target.api_key)
