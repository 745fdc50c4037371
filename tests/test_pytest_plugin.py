"""The pytest plugin (pytest_gamifyhost) and the test helpers under it (mock_server.testing).

The partner's view first: examples/pytest, a tiny project with no conftest.py, run in a fresh
virtualenv where the package is pip-installed as a partner installs it. Then the details, each a
pytest run of its own in a temporary folder (pytester).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mock_server.testing import (
    ControlError,
    MockServerError,
    MockSettings,
    in_process_mock,
    parse_duration,
    start_mock,
)

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
CONSUMER = ROOT / "examples" / "pytest"
CONSUMER_TESTS = [  # examples/pytest/test_partner_app.py, in file order
    "test_sign_up_creates_a_profile_of_the_partner", "test_state_carries_over_between_tests",
    "test_the_marker_puts_the_mock_back_as_it_started", "test_live_profiles_are_apart_from_test_ones",
    "TestOnAControlledMock.test_the_stage_follows_the_clock",
    "TestOnAControlledMock.test_a_failure_of_gamifyhost_is_seen_and_retried",
    "TestOnAControlledMock.test_offers_from_the_mock_and_placed_ones", "test_the_mock_api_directly",
    "test_in_process_each_test_gets_a_fresh_mock",
]
FIXTURE = """\
profiles:
  - apiKey: pk_test_plugin
    profile: {externalId: from-fixtures}
"""


def _clean_env() -> dict[str, str]:
    """This environment without what points Python at this checkout or its virtualenv."""
    return {name: value for name, value in os.environ.items()
            if name not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS")}


def test_a_partner_project_runs_its_tests_on_the_installed_plugin(tmp_path):
    """pip install of this repository (not editable) and pytest into a new virtualenv; the partner
    project, copied out of the checkout, passes every test through the fixtures alone."""
    venv, project = tmp_path / "venv", tmp_path / "partner"
    shutil.copytree(CONSUMER, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    env = _clean_env()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT), "pytest"],
                             capture_output=True, text=True, env=env, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr
    where = subprocess.run([python, "-c", "import mock_server, pytest_gamifyhost; print(mock_server.__file__)"],
                           capture_output=True, text=True, cwd=project, env=env, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr  # the installed copy

    report = tmp_path / "junit.xml"
    run = subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}"],
                         capture_output=True, text=True, cwd=project, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "plugins: gamifyhost-mock-" in run.stdout
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes = {f"{case.get('classname', '').rpartition('.')[2]}.{case.get('name')}".removeprefix("test_partner_app."):
                [child.tag for child in case] for case in cases}
    assert outcomes == {name: [] for name in CONSUMER_TESTS}  # each ran, and nothing failed or was skipped


def _write_ini(pytester: pytest.Pytester, **options: str) -> None:
    lines = "".join(f"{name} = {value}\n" for name, value in options.items())
    pytester.makeini(f"[pytest]\naddopts = --strict-markers -p no:cacheprovider -p no:randomly\n{lines}")


def test_the_session_mock_carries_state_and_the_marker_restores_it(pytester):
    pytester.mkdir("data").joinpath("one.yaml").write_text(FIXTURE)
    _write_ini(pytester, gamifyhost_fixtures="data/one.yaml", gamifyhost_test_key="pk_test_plugin")
    pytester.makepyfile(textwrap.dedent("""
        import pytest

        def names(mock):
            return [p["externalId"] for p in mock.profiles()]

        def test_changes_everything(gamifyhost_mock):
            assert gamifyhost_mock.test_key == "pk_test_plugin"
            assert gamifyhost_mock.live_key == "pk_live_gamifyhost_pytest"
            with gamifyhost_mock.api() as api:
                assert api.post("/v1/user-journeys/users", json={"externalId": "left-over"}).status_code == 200
            gamifyhost_mock.clock.freeze("2030-01-01T00:00:00Z")
            gamifyhost_mock.faults.add("getUser", latency_ms=1, count=5)

        def test_sees_what_the_test_before_left(gamifyhost_mock):
            assert names(gamifyhost_mock) == ["from-fixtures", "left-over"]
            assert gamifyhost_mock.clock.frozen and len(gamifyhost_mock.faults) == 1

        @pytest.mark.gamifyhost_reset
        def test_marked_starts_as_the_session_did(gamifyhost_mock):
            assert names(gamifyhost_mock) == ["from-fixtures"]
            assert not gamifyhost_mock.clock.frozen
            assert list(gamifyhost_mock.faults) == [] and gamifyhost_mock.requests() == []

        def test_fails_with_the_mock_log(gamifyhost_mock):
            with gamifyhost_mock.api(key="pk_nope") as api:
                assert api.get("/v1/user-journeys/users/someone").status_code == 200

        @pytest.mark.gamifyhost_reset
        def test_marked_without_the_mock_is_left_alone(gamifyhost_client):
            assert [p["externalId"] for p in gamifyhost_client.profiles()] == ["from-fixtures"]
    """))
    result = pytester.runpytest()
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*- Captured gamifyhost-mock log call -*",
                                 "127.0.0.1 GET /v1/user-journeys/users/someone 401 *"])


def test_a_settings_fixture_override_sets_up_both_mocks(pytester):
    _write_ini(pytester)
    pytester.makeconftest(textwrap.dedent("""
        import dataclasses
        import pytest

        @pytest.fixture(scope="session")
        def gamifyhost_settings(gamifyhost_settings):
            return dataclasses.replace(gamifyhost_settings, keys="demo", fixtures=("demo",))
    """))
    pytester.makepyfile(textwrap.dedent("""
        ACME = "7d3f7a56-1c2b-4f7e-9a51-3b8f0c6d2e10"

        def test_the_demo_keys_first_pair(gamifyhost_client):
            assert gamifyhost_client.test_key == "pk_test_4e1baec9e705789eebc174f4eabc875a"
            assert gamifyhost_client.live_key == "pk_live_4e1baec9e705789eebc174f4eabc875a"
            assert gamifyhost_client.partner_id == ACME
            assert gamifyhost_client.api().get("/v1/user-journeys/users/stage-at-risk").status_code == 200
            assert gamifyhost_client.api("pk_test_anything").get("/v1/user-journeys/users/x").status_code == 401
            assert len(gamifyhost_client.profiles()) == 66  # more than a page of the control API's list

        def test_a_fresh_app_each_test(gamifyhost_client):
            assert len(gamifyhost_client.profiles()) == 66
    """))
    pytester.runpytest().assert_outcomes(passed=2)


@pytest.mark.parametrize(("ini", "fixture", "expected"), [
    ({"gamifyhost_fixtures": "missing.yaml"}, "gamifyhost_mock",
     "*gamifyhost_mock: the mock did not start (gamifyhost-mock serve *), exit code 2:*"),
    ({"gamifyhost_keys": "keys.yaml"}, "gamifyhost_mock", "*keys.yaml lists no usable pk_live_ key*"),
    ({"gamifyhost_serve_args": "--threads 2 --port 80"}, "gamifyhost_mock",
     "*serve option --port cannot be given to the mock the fixtures start (the port is a free one*"),
    ({"gamifyhost_fixtures": "bad.yaml"}, "gamifyhost_client",
     "*gamifyhost_client: the in-process mock cannot start:*"),
    ({"gamifyhost_test_key": "sk_test_secret"}, "gamifyhost_client",
     "*answers 401 Invalid API key to key 'sk_test_secret': name a usable key*"),
])
def test_a_mock_that_cannot_start_says_what_to_change(pytester, ini, fixture, expected):
    pytester.makefile(".yaml", keys="partners:\n  - name: Only test\n    applications:\n"
                                    "      - name: app\n        keys: [pk_test_only]\n",
                      bad="profiles:\n  - apiKey: pk_test_x\n    profile: {}\n")
    _write_ini(pytester, **ini)
    pytester.makepyfile(f"def test_one({fixture}):\n    pass\n\ndef test_two({fixture}):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([expected])
    result.stdout.no_fnmatch_line("*Traceback*")
    # The second test's report was the first error "during handling" of the same error again.
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_the_marker_is_registered_and_the_plugin_can_be_turned_off(pytester):
    pytester.runpytest("--markers").stdout.fnmatch_lines(["@pytest.mark.gamifyhost_reset: *"])
    off = pytester.runpytest("-p", "no:gamifyhost_mock", "--markers")
    off.stdout.no_fnmatch_line("*gamifyhost_reset*")


def test_loading_the_plugin_imports_neither_the_mock_nor_flask():
    """It loads in every pytest run of every project the package is installed in."""
    probe = ("import sys, pytest_gamifyhost; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'mock_server', 'flask', 'requests', 'yaml'}))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "[]", run.stderr


def test_durations():
    assert parse_duration("P1W2DT3H4M5S").total_seconds() == ((9 * 24 + 3) * 60 + 4) * 60 + 5
    assert parse_duration("-P1D").total_seconds() == -86400
    assert parse_duration("PT0.5S").total_seconds() == 0.5
    assert [parse_duration(text).total_seconds() for text in ("20d", "90m", "45s", "2h", "1w", "-1h")] == [
        1728000, 5400, 45, 7200, 604800, -3600]
    for bad in ("", "P", "PT", "P1DT", "20", "1y", "P1H"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)


def test_control_errors_say_what_the_mock_answered():
    mock = in_process_mock()
    with pytest.raises(ControlError, match=r"POST /__mock/faults answered 400 Invalid request body\n  .*rate") as info:
        mock.faults.add("trackUser", rate=2)
    assert info.value.status == 400
    with pytest.raises(ControlError, match=r"POST /__mock/fixtures \(fixture document\) answered 400"):
        mock.load_fixtures({"profiles": [{"apiKey": "pk_test_x"}]})
    with pytest.raises(ValueError, match="is not a duration"):
        mock.clock.advance("soon")


def test_the_clock_takes_every_kind_of_time():
    mock = in_process_mock()
    assert mock.clock.freeze("2026-03-01T12:00:00Z").isoformat() == "2026-03-01T12:00:00+00:00"
    assert mock.clock.freeze(datetime(2026, 3, 1)).isoformat() == "2026-03-01T00:00:00+00:00"  # naive: UTC
    moved = [mock.clock.advance(timedelta(hours=1)), mock.clock.advance(60), mock.clock.advance("PT1M"),
             mock.clock.advance(days=1, seconds=-120), mock.clock.advance()]
    assert [m.isoformat()[11:19] for m in moved] == ["01:00:00", "01:01:00", "01:02:00", "01:00:00", "01:00:00"]
    assert abs(mock.clock.real() - datetime.now().astimezone()) < timedelta(seconds=5)


def test_loading_a_folder_and_the_demo_set(tmp_path):
    (tmp_path / "a.yaml").write_text(FIXTURE)
    (tmp_path / "b.json").write_text('{"profiles": [{"apiKey": "pk_live_plugin", "profile": {"externalId": "b"}}]}')
    mock = in_process_mock()
    assert mock.load_fixtures(tmp_path) == {"created": 2, "updated": 0}
    assert mock.load_fixtures(str(tmp_path / "a.yaml"), "demo") == {"created": 66, "updated": 1}
    assert len(mock.profiles()) == 68
    assert mock.events("from-fixtures", key="pk_test_plugin") == []


def test_a_session_that_lost_its_mock_says_so():
    mock = start_mock(MockSettings(serve_args=("--quiet",)))
    try:
        assert mock.reset()["journalCleared"] is True
        os.kill(mock.pid, signal.SIGKILL)
        # Its worker, told to stop when its parent dies, may answer for a moment more.
        deadline = time.monotonic() + 10
        with pytest.raises(MockServerError, match=rf"the mock at {mock.base_url} \(pid \d+\) has exited with code -9"):
            while time.monotonic() < deadline:
                mock.requests()
                time.sleep(0.02)
    finally:
        mock.stop()



def _children() -> set[int]:
    """This process's living children (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def test_a_refused_key_stops_the_mock_it_started():
    """start_mock raised, saying which key to change, and left the mock running (found by review)."""
    before = _children()
    with pytest.raises(MockServerError, match="name a usable key"):
        start_mock(MockSettings(test_key="pk_test_refused_here", keys="demo"))
    assert _children() == before
