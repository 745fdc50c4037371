"""The npm tools the spec tests run (Redocly CLI, Spectral, openapi-typescript, tsc).

tests/node/package.json and package-lock.json pin them. The first test that needs them runs
`npm ci` there, and again only when the lock file changes. Node.js is part of the machine this
project is tested on, so a missing node or npm fails the test instead of skipping it.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).with_name("node")
LOCK = NODE_DIR / "package-lock.json"
BIN = NODE_DIR / "node_modules" / ".bin"
# Written after a complete install: the digest of the lock it installed.
STAMP = NODE_DIR / "node_modules" / ".installed-lock.sha256"
# No install scripts: the only one among the tools' dependencies reports usage (@scarf/scarf).
NPM_CI = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
# Redocly CLI would otherwise send usage data and look for a newer version over the network.
ENV = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}


def install() -> None:
    """Install the pinned tools unless this lock file's install is already there."""
    missing = [name for name in ("node", "npm") if shutil.which(name) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found on PATH: the spec lint and TypeScript tests need "
                    "Node.js 20 or later with npm (Debian: apt-get install nodejs npm)")
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    with LOCK.open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run in this tree may be installing
        if STAMP.is_file() and STAMP.read_text() == digest:
            return
        result = subprocess.run(NPM_CI, cwd=NODE_DIR, env=ENV, capture_output=True, text=True, timeout=600,
                                check=False)
        if result.returncode != 0:
            pytest.fail(f"npm ci in {NODE_DIR} failed:\n{result.stdout}\n{result.stderr}")
        STAMP.write_text(digest)


def run(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one of the installed tools in `cwd`, installing them first if needed."""
    install()
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=300, check=False)
