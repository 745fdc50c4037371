"""The contract kit: it passes on the mock, fails on each broken variant, and guards live data."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from live_server import start_server
from mock_variants import BROKEN

HERE = Path(__file__).resolve().parent
VARIANT_ARGS = ["--max-examples", "25", "--no-shrink", "-x", "-p", "no:randomly"]


def contract(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `gamifyhost-mock contract ARGS` as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "mock_server", "contract", *args], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "PYTHONPATH": str(HERE), **(env or {})})


@pytest.fixture(scope="module")
def variant_runs() -> dict[str, subprocess.CompletedProcess]:
    """The suite against every broken variant, two at a time (a 2-core machine)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {name: pool.submit(contract, "--app", f"mock_variants:{name}", *VARIANT_ARGS) for name in BROKEN}
        return {name: run.result() for name, run in runs.items()}


@pytest.mark.parametrize("variant", sorted(BROKEN))
def test_suite_fails_on_each_broken_variant_naming_the_rule(variant_runs, variant):
    run = variant_runs[variant]
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert BROKEN[variant] in output, output[-3000:]
    assert "curl -X POST" in output  # each failure shows how to replay it


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
    [prefix] = {external_id[:12] for external_id in created}
    assert prefix.startswith("ct-") and prefix.endswith("-")


@pytest.mark.parametrize("args", [
    ["--base-url", "https://api.gamifyhost.com", "--api-key", "pk_live_0123456789abcdef"],
    ["--base-url", "https://staging.example.com", "--api-key", "pk_test_abc", "--other-api-key", "pk_live_abc"],
])
def test_live_key_against_a_remote_url_is_refused(args):
    run = contract(*args, timeout=60)
    assert run.returncode == 4
    assert "refusing to write with a pk_live_ key" in run.stdout + run.stderr
    assert "passed" not in run.stdout and "failed" not in run.stdout


def test_base_url_needs_a_key():
    run = contract("--base-url", "http://127.0.0.1:9", timeout=60)
    assert run.returncode == 4
    assert "--api-key (or GAMIFYHOST_API_KEY) is required" in run.stdout + run.stderr


def test_schemathesis_cli_passes_on_a_running_mock():
    server = start_server("--quiet")
    try:
        run = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run", str(HERE.parent / "openapi.yaml"),
             "--url", server.url, "--checks", "all", "-H", "X-API-Key: pk_test_schemathesis_cli",
             "--max-examples", "30", "--no-color"],
            capture_output=True, text=True, timeout=600)
    finally:
        server.stop()
    assert run.returncode == 0, run.stdout[-3000:]
    assert "No issues found" in run.stdout
