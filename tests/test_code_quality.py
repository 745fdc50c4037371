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
