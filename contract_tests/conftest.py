"""Options and fixtures of the contract suite.

    pytest contract_tests                                   # the mock, in-process
    pytest contract_tests --base-url URL --api-key KEY      # any running server
"""
from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mock_server.safety import UnsafeTarget
from mock_server.spec import load_contract

from .inferred import Judge
from .laws import answered
from .schema import aim
from .target import (
    DEFAULT_APP,
    EXIT_UNTESTED,
    LOCAL_MAX_EXAMPLES,
    MOCK_KEY,
    MOCK_OTHER_KEYS,
    REMOTE_MAX_EXAMPLES,
    REMOTE_RATE_LIMIT,
    ApiClient,
    Target,
    TargetUnusable,
    default_load,
    load_app_factory,
    preflight,
)


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
                    help="let the run write (upserts, events, claims) with pk_live_ keys to a server that is "
                         "not on this machine; without it such keys only read")
    group.addoption("--skip-writes", action="store_true",
                    help="run only the read operations and laws, on the users named by --user")
    group.addoption("--user", action="append", default=None, metavar="ID",
                    help="an existing user (externalId) of --api-key for the read laws; repeatable, "
                         "required with --skip-writes")
    group.addoption("--max-examples", type=int, default=None,
                    help=f"examples per test (default {LOCAL_MAX_EXAMPLES} in-process or on this machine, "
                         f"{REMOTE_MAX_EXAMPLES} elsewhere)")
    group.addoption("--rate-limit", type=float, default=None,
                    help=f"requests per second at most (default none in-process or on this machine, "
                         f"{REMOTE_RATE_LIMIT:g} elsewhere)")
    group.addoption("--no-shrink", action="store_true",
                    help="report the first failing example as found, without minimising it (faster)")
    group.addoption("--app", default=None,
                    help="in-process only: module:callable returning the WSGI app (default the mock)")
    group.addoption("--inferred", choices=["fail", "warn"], default=None,
                    help="breaches of x-inferred rules: fail (default for the mock) or warn "
                         "(default for a base URL)")


def _target_from(config: pytest.Config) -> Target:
    base_url = config.getoption("base_url")
    in_process = base_url is None
    if not in_process and not config.getoption("api_key"):
        raise pytest.UsageError("--api-key (or GAMIFYHOST_API_KEY) is required with --base-url")
    if not in_process and config.getoption("app"):
        raise pytest.UsageError("--app is for the in-process mock; it cannot go with --base-url")
    others = config.getoption("other_api_key") or (
        [os.environ["GAMIFYHOST_OTHER_API_KEY"]] if os.environ.get("GAMIFYHOST_OTHER_API_KEY") else [])
    users = tuple(config.getoption("user") or ())
    skip_writes = config.getoption("skip_writes")
    if any(not user for user in users):
        raise pytest.UsageError("--user takes an externalId, not an empty one")
    if skip_writes and not users:
        raise pytest.UsageError("--skip-writes needs at least one --user ID: an existing user to read")
    max_examples, rate_limit = default_load(base_url)
    inferred = config.getoption("inferred") or ("fail" if in_process else "warn")
    target = Target(api_key=config.getoption("api_key") or MOCK_KEY,
                    other_api_keys=tuple(others) or (MOCK_OTHER_KEYS if in_process else ()),
                    base_url=base_url, app_factory=config.getoption("app") or DEFAULT_APP,
                    max_examples=config.getoption("max_examples") or max_examples,
                    rate_limit=config.getoption("rate_limit") or rate_limit,
                    inferred_fail=inferred == "fail", shrink=not config.getoption("no_shrink"),
                    allow_live=config.getoption("allow_live"), skip_writes=skip_writes, users=users)
    if in_process:
        try:
            load_app_factory(target.app_factory)
        except (ImportError, AttributeError, ValueError) as exc:
            raise pytest.UsageError(f"--app {target.app_factory}: {exc}") from None
    try:
        target.check_safety()
    except UnsafeTarget as exc:
        raise pytest.UsageError(str(exc)) from None
    return target


def _target(config: pytest.Config) -> Target:
    """The run's target, made once from the options."""
    if TARGET_KEY not in config.stash:
        config.stash[TARGET_KEY] = _target_from(config)
    return config.stash[TARGET_KEY]


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Before pytest starts: stop with one line if the target refuses a key or cannot be reached.

    Otherwise every request of the run would be answered 401, and tests that accept a 401 as a
    correct answer (it is one, for a bad key) would pass without having tested anything.
    """
    if config.option.help or config.option.version:
        return None
    try:
        preflight(_target(config))
    except TargetUnusable as exc:
        sys.stderr.write(f"contract: {exc}; nothing was tested\n")
        return EXIT_UNTESTED
    return None


def pytest_configure(config: pytest.Config) -> None:
    aim(_target(config))


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session: pytest.Session) -> Any:
    """After pytest's own header (or first, with -q): what is tested, how, and the run prefix."""
    result = yield
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        for line in header(_target(session.config)):
            reporter.write_line(line)
    return result


def header(target: Target) -> list[str]:
    """Two lines: where the run goes and its prefix; how hard it pushes and what fails it."""
    where = f"the mock in-process ({target.app_factory})" if target.in_process else target.url
    others = len(target.other_api_keys)
    return [f"contract target: {where}, run prefix {target.prefix}",
            f"contract settings: {target.max_examples} examples per test, "
            + (f"at most {target.rate_limit:g} requests/s" if target.rate_limit else "no rate cap")
            + f", x-inferred breaches {'fail' if target.inferred_fail else 'warn'}"
            + (", no shrinking" if not target.shrink else "")
            + (f", {others} other key{'s' * (others > 1)}" if others else ", no other key")
            + (f" ({read_only} read only)" if (read_only := sum(not target.may_write(k) for k in target.other_api_keys))
               and not target.skip_writes else "")
            + (f", reads only (--skip-writes) of {len(target.users)} user{'s' * (len(target.users) > 1)}"
               if target.skip_writes else "")]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --skip-writes, the conformance of the operations that write and the stateful phase (whose
    sequences start by writing) are skipped, saying so; the laws skip themselves (laws.needs_writes)."""
    if not _target(config).skip_writes:
        return
    for item in items:
        writes = item.name == "test_stateful_conformance" or WRITING_CASE.match(item.name)
        if writes:
            item.add_marker(pytest.mark.skip(reason="--skip-writes: this test writes"))


TARGET_KEY = pytest.StashKey[Target]()
# A generated conformance test of an operation that is not a GET, e.g. test_conformance[POST /v1/…].
WRITING_CASE = re.compile(r"test_conformance\[(?!GET )")
# The events read_users gives the user it creates: more than a page of 100, so that reads of any
# limit meet a full page (sent as two batches, each within the 100-event batch limit).
READ_USER_EVENTS = 130


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    return pytestconfig.stash[TARGET_KEY]


@pytest.fixture(scope="session")
def api(target: Target) -> ApiClient:
    return ApiClient(target)


@pytest.fixture(scope="session")
def read_users(target: Target, api: ApiClient) -> list[str]:
    """Users the read laws read: the --user ids; else one this run creates, when the run may write: tracked,
    its offers read (a new user's), READ_USER_EVENTS events of the last 40 days tracked, and its offers read
    again (what its plays earn besides: on the mock, three active offers, the cap)."""
    if target.users:
        return list(target.users)
    if not target.may_write(target.api_key):
        pytest.skip(f"the read laws need a user: pass --user ID ({target.why_read_only(target.api_key)})")
    external_id = f"{target.prefix}reads"
    answered(target, api.track({"externalId": external_id, "displayName": "Contract reads"}, target.api_key),
             "a valid upsert is answered 200 with the profile")
    api.offers(external_id, target.api_key)  # a new user's offers (the mock's welcome offers), before its plays
    now = datetime.now(UTC).replace(microsecond=0)
    events = [{"externalId": external_id, "category": ("GAME_PLAY", "CAMPAIGN", "GAME_PLAY")[i % 3],
               "eventType": "contract_read_law", "points": i % 7 * 5,
               "occurredAt": (now - timedelta(hours=7 * i + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
              for i in range(READ_USER_EVENTS)]
    for start in range(0, READ_USER_EVENTS, 100):
        answered(target, api.track_events(events[start:start + 100], target.api_key),
                 "a valid batch is answered 200 with its events", inferred=True)
    api.offers(external_id, target.api_key)
    return [external_id]


@pytest.fixture(scope="session")
def judge() -> Judge:
    return Judge(load_contract())
