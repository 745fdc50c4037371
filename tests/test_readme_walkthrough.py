"""The README's journey walkthrough, run as written against a real mock: it prints what it says."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from live_server import start_server

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->", re.S)


def test_the_walkthrough_prints_what_the_readme_says():
    script = BLOCK.search(README.read_text(encoding="utf-8")).group(1)
    expected = [line[len("#> "):] for line in script.splitlines() if line.startswith("#> ")]
    assert len(expected) == 7  # one per step: the block was found whole
    with start_server("--quiet") as server:
        run = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "API": server.url})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == expected
