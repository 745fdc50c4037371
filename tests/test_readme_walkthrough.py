"""The README's shell blocks (the journey walkthrough, the offer recipes), run as written against a
real mock: each prints what it says."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from live_server import start_server

README = Path(__file__).resolve().parent.parent / "README.md"


def block(name: str) -> tuple[str, list[str]]:
    """The README's `name` block (between `<!-- name:start -->` and `<!-- name:end -->`) and the
    lines it says it prints (its `#> ` lines)."""
    found = re.search(rf"<!-- {name}:start -->\n```sh\n(.*?)```\n<!-- {name}:end -->",
                      README.read_text(encoding="utf-8"), re.S)
    assert found is not None, f"no {name} block in the README"
    script = found.group(1)
    return script, [line[len("#> "):] for line in script.splitlines() if line.startswith("#> ")]


def printed(script: str) -> list[str]:
    """What the script prints, run by bash against a fresh mock."""
    with start_server("--quiet") as server:
        run = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "API": server.url})
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def test_the_walkthrough_prints_what_the_readme_says():
    script, expected = block("walkthrough")
    assert len(expected) == 7  # one per step: the block was found whole
    assert printed(script) == expected


def test_the_offer_recipes_print_what_the_readme_says():
    script, expected = block("offers-recipes")
    assert len(expected) == 12  # the block was found whole
    assert printed(script) == expected
