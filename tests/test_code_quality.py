"""The code's own checks run with the tests: ruff and mypy find nothing (config in pyproject.toml)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mock_server", "contract_tests")


def check(*command: str) -> None:
    run = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{' '.join(command)} found:\n{run.stdout}{run.stderr}"


def test_ruff_finds_nothing():
    check("ruff", "check", "--no-cache", ".")


def test_mypy_finds_nothing():
    check("mypy")  # files and settings: [tool.mypy] in pyproject.toml


def test_no_private_module_of_jsonschema_is_imported():
    """Private modules change without notice between releases; the version range is not bounded for them."""
    private = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                    [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                private += [f"{path.relative_to(ROOT)}: {name}" for name in names
                            if name.startswith("jsonschema.") and "._" in "." + name.split(".", 1)[1]]
    assert private == []


def test_the_journey_domain_imports_no_flask():
    """journeys/ (storage, profiles, events, the engine) knows nothing of HTTP: it imports no web
    framework, and of the rest of the package only the clock, which imports none either."""
    allowed_parents = {"clock"}
    found = []
    for path in (ROOT / "mock_server" / "journeys").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module not in allowed_parents:
                found.append(f"{path.name}: ..{node.module}")
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.name}: {name}" for name in names if name.split(".")[0] in ("flask", "werkzeug")]
    clock = ast.parse((ROOT / "mock_server" / "clock.py").read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(clock) if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert found == []
