"""Pinned npm packages for the tests: the spec tools in tests/node (Redocly CLI, Spectral,
openapi-typescript, tsc) and any other folder with a package-lock.json, such as the TypeScript
example in examples/typescript.

A folder's package.json and package-lock.json pin its packages. The first test that needs them runs
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
# Written in node_modules after a complete install: the digest of the lock it installed.
STAMP_NAME = ".installed-lock.sha256"
# No install scripts: the only one among the tools' dependencies reports usage (@scarf/scarf).
NPM_CI = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
# Redocly CLI would otherwise send usage data and look for a newer version over the network.
ENV = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}


def install(folder: Path = NODE_DIR) -> None:
    """Install the packages that `folder`'s lock file pins, unless that lock's install is already there."""
    missing = [name for name in ("node", "npm") if shutil.which(name) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found on PATH: the spec lint and TypeScript tests need "
                    "Node.js 20 or later with npm (Debian: apt-get install nodejs npm)")
    lock_file = folder / "package-lock.json"
    stamp = folder / "node_modules" / STAMP_NAME
    digest = hashlib.sha256(lock_file.read_bytes()).hexdigest()
    with lock_file.open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run in this tree may be installing
        if stamp.is_file() and stamp.read_text() == digest:
            return
        result = subprocess.run(NPM_CI, cwd=folder, env=ENV, capture_output=True, text=True, timeout=600,
                                check=False)
        if result.returncode != 0:
            pytest.fail(f"npm ci in {folder} failed:\n{result.stdout}\n{result.stderr}")
        stamp.write_text(digest)


def run(tool: str, *args: str, cwd: Path, folder: Path = NODE_DIR, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `tool` from `folder`'s installed packages (node_modules/.bin) in `cwd`, installing them
    first if needed; `env` adds to the environment."""
    install(folder)
    return subprocess.run([str(folder / "node_modules" / ".bin" / tool), *args], cwd=cwd,
                          env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False)


def npm_run(folder: Path, script: str, *args: str, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`npm run --silent SCRIPT -- ARGS` in `folder`, as its README tells a reader to, installing its
    packages first if needed; `env` adds to the environment."""
    install(folder)
    return subprocess.run(["npm", "run", "--silent", script, *(["--", *args] if args else [])], cwd=folder,
                          env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False)
