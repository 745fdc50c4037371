"""The contract kit: it passes on the mock, fails on each broken variant, and guards live data."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from contract_tests import conftest
from contract_tests.target import EXIT_UNTESTED
from mock_server.cli import main as command_line

from live_server import LiveServer, http, start_server
from mock_variants import BROKEN, CONFORMANCE_RULES

HERE = Path(__file__).resolve().parent
VARIANT_ARGS = ["--max-examples", "25", "--no-shrink", "-x", "-p", "no:randomly"]
KEYS_FILE = HERE.parent / "examples" / "keys.yaml"
LISTED_KEY = "pk_test_4e1baec9e705789eebc174f4eabc875a"  # accepted by the mock started with KEYS_FILE


# Bytecode for the runs below, kept out of the tree (see kit_bytecode).
BYTECODE: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def kit_bytecode(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One bytecode cache that the runs of this module share, in a temporary folder.

    pytest rewrites the asserts of every module of its plugins' packages (Schemathesis, Hypothesis: some 350
    modules), and keeps the result only where Python may write bytecode. With PYTHONDONTWRITEBYTECODE set
    (as here) each run rewrote them all again: 1.7 of a run's 4.3 s."""
    BYTECODE["PYTHONPYCACHEPREFIX"] = str(tmp_path_factory.mktemp("kit-bytecode"))


def contract(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `gamifyhost-mock contract ARGS` as a user would."""
    inherited = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(
        [sys.executable, "-m", "mock_server", "contract", *args], capture_output=True, text=True, check=False,
        timeout=timeout, cwd=cwd, env={**inherited, **BYTECODE, "PYTHONPATH": str(HERE), **(env or {})})


def refused(key_hint: str, answer: str, operation_id: str = "trackUser") -> str:
    return f"contract: the target refused key {key_hint} for {operation_id} ({answer}); nothing was tested\n"


@pytest.fixture(scope="module")
def keys_mock():
    """The real command with examples/keys.yaml: only the keys listed there are accepted."""
    server = start_server("--quiet", "--keys", str(KEYS_FILE))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def variant_runs() -> dict[str, subprocess.CompletedProcess]:
    """The suite against every broken variant, two at a time (a 2-core machine); a variant that breaks a
    law with its laws alone (mock_variants.pytest_ignore_collect). The whole-kit runs (5-12 s each) start
    first, so that the short ones (about 2 s) fill in around them rather than leave one core idle at the end."""
    longest_first = sorted(BROKEN, key=lambda name: name not in CONFORMANCE_RULES)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {name: pool.submit(contract, "--app", f"mock_variants:{name}", *VARIANT_ARGS,
                                  *([] if name in CONFORMANCE_RULES else ["-p", "mock_variants"]))
                for name in longest_first}
        return {name: run.result() for name, run in runs.items()}


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_suite_fails_on_each_broken_variant_naming_the_rule(variant_runs, variant):
    run = variant_runs[variant]
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert BROKEN[variant] in output, output[-3000:]
    assert "curl -X " in output  # each failure shows how to replay it


@pytest.mark.parametrize("inferred, returncode, report", [
    ("warn", 0, "InferredRuleWarning: GET /v1/user-journeys/users/{externalId}/timeline: only rules marked x-inferred"),
    ("fail", 1, "Schema-violating request accepted"),
])
def test_a_query_parameter_breaking_only_an_inferred_rule_warns_or_fails_as_asked(inferred, returncode, report):
    """limit=0 taken as 1: only the spec's inferred lower bound of `limit` forbids it."""
    run = contract("--app", "mock_variants:limit_clamped", "-k", "conformance and timeline", "--inferred", inferred,
                   *VARIANT_ARGS)
    output = run.stdout + run.stderr
    assert run.returncode == returncode, output[-3000:]
    assert report in output and "limit=0" in output, output[-3000:]


def test_suite_passes_on_a_running_mock_and_writes_junit(tmp_path):
    server = start_server("--quiet")
    try:
        report = tmp_path / "contract.xml"
        run = contract("--base-url", server.url, "--api-key", "pk_test_ci_partner_a",
                       "--other-api-key", "pk_live_ci_partner_a", "--other-api-key", "pk_test_ci_partner_b",
                       "--inferred", "fail", "--rate-limit", "1000", "--junit", str(report))
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    suite = ET.parse(report).getroot().find("testsuite")
    assert int(suite.get("tests")) >= 5
    assert int(suite.get("failures")) == int(suite.get("errors")) == int(suite.get("skipped")) == 0


def test_everything_the_suite_creates_carries_the_run_prefix(tmp_path):
    record = tmp_path / "created.txt"
    run = contract("--app", "mock_variants:recording", "--max-examples", "30", env={"RECORD_FILE": str(record)})
    assert run.returncode == 0, run.stdout[-3000:]
    created = record.read_text(encoding="utf-8").splitlines()
    assert len(created) > 50
    assert any("-event-" in external_id for external_id in created)  # users that only an event created
    [prefix] = {external_id[:12] for external_id in created}
    assert prefix.startswith("ct-") and prefix.endswith("-")


def test_sequences_run_across_the_family_and_claim_each_claimed_offer_twice(tmp_path):
    """The stateful phase starts from trackUser, trackEvent and trackEvents and follows the spec's links to
    every read and to claimOffer; each claim answered 200 is sent again at once, and that second claim is
    400 "Offer is no longer active". (Requests about the preflight's user are not counted.)

    With a fixed Hypothesis seed: which links a sequence follows is drawn at random, and about one run
    in sixteen of 50 sequences claimed nothing (seen here), which would prove nothing of the claims.
    The seed makes the run one fixed example (17 claims, each sent twice, in 842 requests)."""
    record = tmp_path / "answered.txt"
    run = contract("--app", "mock_variants:recording_requests", "-k", "stateful", "--hypothesis-seed", "1",
                   env={"RECORD_FILE": str(record)})
    assert run.returncode == 0, run.stdout[-3000:]
    answered = Counter(record.read_text(encoding="utf-8").splitlines())
    succeeded = {line.split()[1].removeprefix("api.") for line in answered if line.split()[2] == "200"}
    assert succeeded == {"trackUser", "getUser", "getUserTimeline", "getUserOffers", "claimOffer", "trackEvent",
                         "trackEvents"}, answered
    claimed = answered["POST api.claimOffer 200 "]
    refused = answered["POST api.claimOffer 400 Offer is no longer active"]
    assert refused >= claimed > 0, answered


def test_without_the_control_api_the_offer_laws_are_skipped_saying_why():
    """They move the mock's clock; a real server (or the mock with --no-control-api) has none to move."""
    server = start_server("--quiet", "--no-control-api")
    try:
        run = contract("--base-url", server.url, "--api-key", "pk_test_ci_partner_a", "-k", "offer_sequences")
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert re.search(r"test_offer_sequences_follow_the_laws SKIPPED \(the offer laws move the mock's clock, "
                     r"and the target has no control API", run.stdout), run.stdout


def test_a_live_main_key_against_a_remote_url_is_refused():
    run = contract("--base-url", "https://api.gamifyhost.com", "--api-key", "pk_live_0123456789abcdef", timeout=60)
    assert run.returncode == 4
    assert ("refusing to write with a pk_live_ key to https://api.gamifyhost.com: the suite creates profiles, "
            "events and claims there with --api-key (--skip-writes only reads)") in run.stdout + run.stderr
    assert "passed" not in run.stdout and "failed" not in run.stdout


def as_remote(url: str) -> str:
    """The same server under an address the live-key guard counts as off this machine: on Linux 0.0.0.0
    reaches this machine, but it is no loopback address (as staging's is not)."""
    return url.replace("127.0.0.1", "0.0.0.0")


@pytest.mark.parametrize("allow_live", [False, True])
def test_a_live_other_key_off_this_machine_only_reads_unless_allowed(allow_live):
    """Without --allow-live the LIVE key reads (isolation) but writes nothing in the whole run: no profile,
    so no event and no claim, exists in LIVE after it. With it, the isolation laws alone (to keep this
    short) write there, which shows the check above can fail."""
    server = start_server("--quiet")
    try:
        run = contract("--base-url", as_remote(server.url), "--api-key", "pk_test_ci_partner_a",
                       "--other-api-key", "pk_live_ci_partner_a", "--max-examples", "10", "--rate-limit", "1000",
                       "--inferred", "fail", *(["--allow-live", "-k", "other_keys"] if allow_live else []))
        _, _, live = http("GET", f"{server.url}/__mock/profiles?environment=LIVE&limit=100")
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    settings = run.stdout.splitlines()[1]
    assert settings.endswith("1 other key" if allow_live else "1 other key (1 read only)"), settings
    assert re.search(r"test_other_keys_see_none_of_a_users_journey\[0\] PASSED", run.stdout), run.stdout[-3000:]
    written = {profile["externalId"] for profile in live["data"]}
    assert bool(written) is allow_live, written
    assert all(external_id.startswith("ct-") for external_id in written)


def test_skip_writes_reads_the_named_users_and_changes_nothing():
    """--skip-writes against the QA fixtures: only reads are sent, to the users named, and the mock's
    whole state exports the same afterwards."""
    server = start_server("--quiet", "--fixtures", str(HERE.parent / "fixtures" / "journeys.yaml"))
    try:
        _, _, before = http("GET", f"{server.url}/__mock/export")
        http("DELETE", f"{server.url}/__mock/requests")
        run = contract("--base-url", as_remote(server.url), "--api-key", "pk_test_4e1baec9e705789eebc174f4eabc875a",
                       "--other-api-key", "pk_live_4e1baec9e705789eebc174f4eabc875a", "--skip-writes",
                       "--user", "tier-whale", "--user", "stage-churned", "--max-examples", "10",
                       "--rate-limit", "1000", "--inferred", "fail")
        _, _, after = http("GET", f"{server.url}/__mock/export")
        _, _, journal = http("GET", f"{server.url}/__mock/requests?limit=1000")
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.stdout.splitlines()[1].endswith("1 other key, reads only (--skip-writes) of 2 users")
    assert "test_conformance[POST /v1/user-journeys/users] SKIPPED (--skip-writes: this test writes)" in run.stdout
    assert "test_stateful_conformance SKIPPED (--skip-writes: this test writes)" in run.stdout
    assert re.search(r"test_conformance\[GET /v1/user-journeys/users/\{externalId\}/offers\] PASSED", run.stdout)
    # Reading offers issues what the segment earns (the mock's inferred rule): only unclaimed offers are new.
    assert without_offers(after) == without_offers(before)
    new = [offer for profile in after["profiles"] for offer in profile.get("offers", [])
           if offer not in [o for p in before["profiles"] for o in p.get("offers", [])]]
    assert all("claimedAt" not in offer for offer in new), new
    requests = journal["data"]
    assert len(requests) < 1000
    # Schemathesis probes undeclared methods too; reading only, just the safe ones (no DELETE, PUT, POST, ...).
    assert {e["method"] for e in requests} == {"GET", "OPTIONS", "TRACE"}, {e["method"] for e in requests}
    read = {entry["path"].split("/")[4] for entry in requests if entry["status"] == 200}
    assert read == {"tier-whale", "stage-churned"}, read


def without_offers(export: dict) -> list[dict]:
    return [{name: value for name, value in profile.items() if name != "offers"} for profile in export["profiles"]]


@pytest.mark.parametrize("args, message", [
    (["--skip-writes"], "--skip-writes needs at least one --user ID: an existing user to read"),
    (["--user", ""], "--user takes an externalId, not an empty one"),
])
def test_skip_writes_needs_a_user_and_a_user_an_id(args, message):
    run = contract(*args, timeout=60)
    assert run.returncode == 4
    assert message in run.stdout + run.stderr


@pytest.mark.parametrize("mode", [["--skip-writes"], []])
def test_a_user_the_main_key_does_not_have_stops_the_run(mode):
    """A typo in --user is a usage problem, not a server breaking the contract (it was exit 1 without
    --skip-writes)."""
    run = contract(*mode, "--user", "nobody-here", timeout=60)
    assert (run.returncode, run.stdout) == (EXIT_UNTESTED, "")
    assert run.stderr == ("contract: --user nobody-here is not a user of key pk_test_con… (404 User not found); "
                          "nothing was tested\n")


def test_base_url_needs_a_key():
    run = contract("--base-url", "http://127.0.0.1:9", timeout=60)
    assert run.returncode == 4
    assert "--api-key (or GAMIFYHOST_API_KEY) is required" in run.stdout + run.stderr


def test_schemathesis_cli_passes_on_a_running_mock():
    server = start_server("--quiet")
    try:
        run = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "--config-file",
             str(HERE.parent / "contract_tests" / "schemathesis.toml"), "run", str(HERE.parent / "openapi.yaml"),
             "--url", server.url, "--checks", "all", "-H", "X-API-Key: pk_test_schemathesis_cli",
             "--max-examples", "30", "--no-color"],
            capture_output=True, text=True, check=False, timeout=600)
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    # With the kit's settings file a claim in a sequence may be refused 400 (claimed already), as in the kit.
    # Outside its short sequences (30 examples) its claims have random offer ids, mostly 404s, and it may
    # say so in one warning. The kit's own run claims offers in every sequence that reaches one.
    assert "No issues found" in run.stdout or (
        "1 warning" in run.stdout and "Missing test data: 1 operation repeatedly returned 404" in run.stdout
        and "  - POST /v1/user-journeys/users/{externalId}/offers/{offerId}/claim\n" in run.stdout), run.stdout[-3000:]


@pytest.mark.parametrize("keys, hint, answer", [
    (["--api-key", "pk_test_unknown"], "pk_test_unk…", "401 Invalid API key"),
    (["--api-key", LISTED_KEY, "--other-api-key", "pk_test_revoked_key"], "pk_test_rev…",
     "403 API key has been revoked"),
])
def test_a_refused_key_stops_the_run_before_any_test(keys_mock: LiveServer, keys, hint, answer):
    """Issue 8: with every answer a 401, `-k conformance` reported `1 passed` and exited 0.

    The preflight POSTs `{}` with each key: the mock authenticates before it validates, so an
    unknown key is 401 (not 400) and a revoked one 403, and nothing is stored.
    """
    run = contract("--base-url", keys_mock.url, *keys, "-k", "conformance", "--max-examples", "5")
    assert (run.returncode, run.stdout, run.stderr) == (EXIT_UNTESTED, "", refused(hint, answer))


def test_a_key_the_in_process_mock_refuses_stops_the_run():
    run = contract("--api-key", "sk_test_secret", "-k", "conformance", "--max-examples", "5")
    assert (run.returncode, run.stdout, run.stderr) == (
        EXIT_UNTESTED, "", refused("sk_test_sec…", "401 Invalid API key"))


def test_an_unreachable_target_stops_the_run():
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))  # bound but never listening: connections to it are refused
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        run = contract("--base-url", url, "--api-key", "pk_test_any", "--max-examples", "5")
    assert (run.returncode, run.stdout, run.stderr) == (
        EXIT_UNTESTED, "", f"contract: cannot reach {url} (Connection refused); nothing was tested\n")


def test_a_listed_key_runs_with_the_full_defaults_on_loopback_and_names_each_test(keys_mock: LiveServer):
    """A server on this machine gets the in-process defaults; one quick test keeps this short."""
    run = contract("--base-url", keys_mock.url, "--api-key", LISTED_KEY, "-k", "first_seen")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert re.fullmatch(rf"contract target: {re.escape(keys_mock.url)}, run prefix ct-[0-9a-f]{{8}}-", lines[0])
    assert lines[1] == "contract settings: 100 examples per test, no rate cap, x-inferred breaches warn, no other key"
    assert re.fullmatch(r"test_first_seen_stays_while_last_seen_moves PASSED \(\d+\.\d s\)", lines[2]), lines
    assert re.match(r"1 passed, \d+ deselected", lines[-1]), lines[-1]


def test_contract_writes_nothing_into_the_current_directory(tmp_path):
    """Hypothesis keeps its files under $XDG_CACHE_HOME (or ~/.cache), not in the folder it runs from."""
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    run = contract("--max-examples", "5", "-k", "conformance", cwd=work,
                   env={"XDG_CACHE_HOME": str(cache), "HYPOTHESIS_STORAGE_DIRECTORY": ""})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert sorted(p.name for p in work.iterdir()) == []
    assert (cache / "gamifyhost-mock" / "hypothesis").is_dir()
    lines = run.stdout.splitlines()
    assert re.fullmatch(r"contract target: the mock in-process \(mock_server:create_app\), run prefix ct-[0-9a-f]{8}-",
                        lines[0])
    assert lines[1] == "contract settings: 5 examples per test, no rate cap, x-inferred breaches fail, 2 other keys"


def test_the_suite_ignores_the_pytest_settings_of_the_project_around_it(tmp_path):
    """Installed in a project's venv, the suite sat under that project's pyproject.toml, whose
    addopts (e.g. --cov=myapp) pytest applied to it and then refused."""
    site = tmp_path / "project" / ".venv" / "site"
    shutil.copytree(HERE.parent / "contract_tests", site / "contract_tests",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "project" / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "--an-option-of-that-project"\n')
    run = contract("--max-examples", "3", "-k", "conformance", cwd=tmp_path,
                   env={"PYTHONPATH": os.pathsep.join([str(site), str(HERE)])})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "test_conformance[POST /v1/user-journeys/users] PASSED" in run.stdout


def test_the_command_offers_every_option_of_the_suite():
    """`gamifyhost-mock contract` passes its options on to the suite's; none may be missing there
    (--skip-writes and --user once worked only after `--`). --junit stands for pytest's --junitxml. (Through
    the group: click keeps a command's help option once made, and standalone it would lack -h.)"""
    class Group:
        names: list[str] = []

        def addoption(self, name: str, **_: object) -> None:
            self.names.append(name)

    group = Group()
    conftest.pytest_addoption(SimpleNamespace(getgroup=lambda *_: group))  # type: ignore[arg-type]
    helped = CliRunner().invoke(command_line, ["contract", "--help"]).output
    offered = set(re.findall(r"^  (--[a-z-]+)", helped, re.MULTILINE))
    assert set(group.names) <= offered, set(group.names) - offered
