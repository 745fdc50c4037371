"""The data the package ships besides code: the demo data set and the keys file its profiles use.

A wheel carries them inside the package, under data/ (pyproject.toml force-includes them from the
repository); a source checkout reads them where they live, fixtures/ and examples/keys.yaml, the
only copy.
"""
from __future__ import annotations

from pathlib import Path

DEMO = "demo"  # how the command line names them: --fixtures demo, --keys demo, seed demo

_PACKAGE = Path(__file__).resolve().parent


def _shipped(packaged: str, checkout: str) -> Path:
    installed = _PACKAGE / "data" / packaged
    return installed if installed.exists() else _PACKAGE.parent / checkout


def demo_fixtures() -> Path:
    """The folder of the demo data set's fixture files."""
    return _shipped("fixtures", "fixtures")


def demo_keys() -> Path:
    """The keys file of the demo data set's partners (examples/keys.yaml)."""
    return _shipped("keys.yaml", "examples/keys.yaml")
