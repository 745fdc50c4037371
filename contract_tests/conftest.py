"""Options and fixtures of the contract suite.

    pytest contract_tests                                   # the mock, in-process
    pytest contract_tests --base-url URL --api-key KEY      # any running server
"""
from __future__ import annotations

import os

import pytest

from mock_server.safety import UnsafeTarget
from mock_server.spec import load_contract

from .inferred import Judge
from .schema import aim
from .target import MOCK_KEY, MOCK_OTHER_KEYS, ApiClient, Target

OPERATION = "trackUser"
REMOTE_MAX_EXAMPLES = 20
REMOTE_RATE_LIMIT = 5.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gamifyhost", "GamifyHost contract suite")
    group.addoption("--base-url", default=os.environ.get("GAMIFYHOST_BASE_URL"),
                    help="server to test (env GAMIFYHOST_BASE_URL); default: the mock in-process")
    group.addoption("--api-key", default=os.environ.get("GAMIFYHOST_API_KEY"),
                    help="public key to call it with (env GAMIFYHOST_API_KEY)")
    group.addoption("--other-api-key", action="append", default=None,
                    help="a key of the other environment or another partner, for the isolation "
                         "checks (env GAMIFYHOST_OTHER_API_KEY); repeatable")
    group.addoption("--allow-live", action="store_true",
                    help="allow a pk_live_ key against a server that is not on this machine")
    group.addoption("--max-examples", type=int, default=None,
                    help=f"examples per test (default 100 in-process, {REMOTE_MAX_EXAMPLES} remote)")
    group.addoption("--rate-limit", type=float, default=None,
                    help=f"requests per second at most (default none in-process, {REMOTE_RATE_LIMIT:g} remote)")
    group.addoption("--no-shrink", action="store_true",
                    help="report the first failing example as found, without minimising it (faster)")
    group.addoption("--app", default=None,
                    help="in-process only: module:callable returning the WSGI app (default the mock)")
    group.addoption("--inferred", choices=["fail", "warn"], default=None,
                    help="breaches of x-inferred rules: fail (default for the mock) or warn "
                         "(default for a base URL)")


def _target_from(config: pytest.Config) -> Target:
    base_url = config.getoption("base_url")
    shrink = not config.getoption("no_shrink")
    others = config.getoption("other_api_key") or (
        [os.environ["GAMIFYHOST_OTHER_API_KEY"]] if os.environ.get("GAMIFYHOST_OTHER_API_KEY") else [])
    if base_url is None:
        target = Target(api_key=config.getoption("api_key") or MOCK_KEY,
                        other_api_keys=tuple(others) or MOCK_OTHER_KEYS,
                        app_factory=config.getoption("app") or "mock_server:create_app",
                        max_examples=config.getoption("max_examples") or 100,
                        rate_limit=config.getoption("rate_limit"),
                        inferred_fail=config.getoption("inferred") != "warn", shrink=shrink)
    else:
        if not config.getoption("api_key"):
            raise pytest.UsageError("--api-key (or GAMIFYHOST_API_KEY) is required with --base-url")
        if config.getoption("app"):
            raise pytest.UsageError("--app is for the in-process mock; it cannot go with --base-url")
        target = Target(api_key=config.getoption("api_key"), other_api_keys=tuple(others),
                        base_url=base_url,
                        max_examples=config.getoption("max_examples") or REMOTE_MAX_EXAMPLES,
                        rate_limit=config.getoption("rate_limit") or REMOTE_RATE_LIMIT,
                        inferred_fail=config.getoption("inferred") == "fail", shrink=shrink)
    try:
        target.check_safety(config.getoption("allow_live"))
    except UnsafeTarget as exc:
        raise pytest.UsageError(str(exc)) from None
    return target


def pytest_configure(config: pytest.Config) -> None:
    target = _target_from(config)
    config.stash[TARGET_KEY] = target
    aim(target)


def pytest_report_header(config: pytest.Config) -> list[str]:
    target = config.stash[TARGET_KEY]
    where = f"in-process ({target.app_factory})" if target.in_process else target.url
    return [f"contract target: {where}; externalId prefix {target.prefix}; "
            f"max examples {target.max_examples}; inferred rules: "
            f"{'fail' if target.inferred_fail else 'warn'}"]


TARGET_KEY = pytest.StashKey[Target]()


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    return pytestconfig.stash[TARGET_KEY]


@pytest.fixture(scope="session")
def api(target: Target) -> ApiClient:
    return ApiClient(target)


@pytest.fixture(scope="session")
def judge() -> Judge:
    return Judge(load_contract(), OPERATION)
