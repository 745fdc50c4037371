"""A regular (non-editable) install carries the spec and serves the same one."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mock_server.fixtures import read_documents

from spec_refs import unresolved_refs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, timeout=300)
    [built] = out.glob("gamifyhost_mock-*.whl")
    return built


def test_wheel_ships_the_spec_keys_schema_and_contract_suite(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert archive.read("mock_server/openapi.yaml") == (ROOT / "openapi.yaml").read_bytes()
        assert "mock_server/keys-file.schema.yaml" in names
        suite = {p.name for p in (ROOT / "contract_tests").glob("*.py")} | {"pytest.ini", "schemathesis.toml"}
        assert suite >= {"conftest.py", "test_conformance.py", "test_upsert_laws.py"}
        assert {f"contract_tests/{name}" for name in suite} <= names
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "gamifyhost-mock = mock_server.cli:main" in archive.read(entry_points).decode()


def test_wheel_ships_the_dashboard(wheel):
    """Every file of the page at /__mock/, as it is: it loads nothing from anywhere else."""
    files = sorted(p for p in (ROOT / "mock_server" / "dashboard").iterdir() if p.is_file())
    assert {p.name for p in files} >= {"index.html", "app.js", "style.css"}
    with zipfile.ZipFile(wheel) as archive:
        for path in files:
            assert archive.read(f"mock_server/dashboard/{path.name}") == path.read_bytes()


def test_wheel_ships_the_demo_data_set_and_its_keys(wheel):
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("mock_server/data/keys.yaml") == (ROOT / "examples" / "keys.yaml").read_bytes()
        fixtures = sorted(p for p in (ROOT / "fixtures").iterdir() if p.is_file())
        assert len(fixtures) >= 3
        for path in fixtures:
            assert archive.read(f"mock_server/data/fixtures/{path.name}") == path.read_bytes()


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed on its own into a folder (put it first on PYTHONPATH to use it)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    return target


def run_installed(installed: Path, cwd: Path, probe: str) -> str:
    """Run Python code against the installed copy only (from another folder); return what it printed."""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd,
                            env={**os.environ, "PYTHONPATH": str(installed)}, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_installed_command_loads_the_demo_data_set_with_its_keys(installed, tmp_path):
    """`gamifyhost-mock --fixtures demo --keys demo` in a pip-installed package, up to serving."""
    probe = ("import mock_server.server as server; from mock_server.cli import main;"
             "server.serve = lambda app, *args, **options: print(app.test_client().post("
             "'/v1/user-journeys/users', json={'externalId': 'x'}, headers={'X-API-Key': 'pk_test_revoked_key'}"
             ").status_code);"
             "main(['--fixtures', 'demo', '--keys', 'demo'], prog_name='gamifyhost-mock')")
    output = run_installed(installed, tmp_path, probe)
    documents = [document for _, document in read_documents([ROOT / "fixtures"])]
    shipped = sum(len(document["profiles"]) for document in documents)
    events = sum(len(entry.get("events", ())) for document in documents for entry in document["profiles"])
    offers = sum(len(entry.get("offers", ())) for document in documents for entry in document["profiles"])
    data = installed / "mock_server" / "data" / "fixtures"
    assert output.splitlines() == [f"loaded {shipped} profiles, {events} events and {offers} offers from {data}",
                                   "403"]  # the revoked key of the shipped keys file


def test_installed_package_serves_its_own_copy(installed, tmp_path):
    probe = ("from mock_server import create_app; from mock_server.spec import default_spec_path;"
             "print(default_spec_path());"
             "c = create_app().test_client();"
             "print(c.post('/v1/user-journeys/users', json={'externalId': 'x'},"
             " headers={'X-API-Key': 'pk_test_a'}).status_code)")
    spec_path, status = run_installed(installed, tmp_path, probe).split()
    assert Path(spec_path) == installed / "mock_server" / "openapi.yaml"
    assert Path(spec_path).read_bytes() == (ROOT / "openapi.yaml").read_bytes()
    assert status == "200"


def test_installed_control_spec_resolves_its_references(installed: Path, tmp_path: Path) -> None:
    """As files (what Redocly or Spectral read there) and through the mock's own registry."""
    probe = ("from mock_server.spec import CONTROL_SPEC_PATH, load_control_contract;"
             "print(CONTROL_SPEC_PATH);"
             "fixtures = load_control_contract().validator('#/components/schemas/FixtureDocument');"
             "print(*(fixtures.is_valid({'profiles': [{'apiKey': 'pk_test_a', 'profile': p}]})"
             " for p in ({'externalId': 'x'}, {'externalId': ''})))")
    control, named, empty = run_installed(installed, tmp_path, probe).split()
    assert Path(control) == installed / "mock_server" / "control-openapi.yaml"
    assert unresolved_refs(Path(control)) == []
    assert (named, empty) == ("True", "False")  # the profile was checked by openapi.yaml's rules
