"""The TypeScript example in examples/typescript, as a partner developer would use it.

Its packages install from its own package-lock.json (node_tools.install); its committed types are
what openapi-typescript makes of openapi.yaml today; it compiles under `tsc --noEmit` with strict
settings; and `npm start` against a running mock tracks a user, posts an event, reads the profile,
lists the offers and claims one, which the mock's control API confirms.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest

from live_server import free_port, http, start_server
from node_tools import npm_run, run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "typescript"
TYPES = EXAMPLE / "src" / "api.d.ts"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_the_committed_types_are_what_npm_run_generate_makes_of_openapi_yaml(tmp_path: Path) -> None:
    """src/api.d.ts is committed so that it reads without installing anything; it must not drift."""
    command = json.loads((EXAMPLE / "package.json").read_text(encoding="utf-8"))["scripts"]["generate"].split()
    assert command == ["openapi-typescript", "../../openapi.yaml", "--output", "src/api.d.ts"]
    fresh = tmp_path / "api.d.ts"
    generated = run(command[0], *command[1:3], str(fresh), cwd=EXAMPLE, folder=EXAMPLE)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    diff = list(difflib.unified_diff(TYPES.read_text(encoding="utf-8").splitlines(),
                                     fresh.read_text(encoding="utf-8").splitlines(),
                                     "src/api.d.ts (committed)", "generated from openapi.yaml", lineterm="", n=1))
    if diff:
        pytest.fail("examples/typescript/src/api.d.ts is out of date with openapi.yaml; regenerate it with "
                    "`cd examples/typescript && npm ci && npm run generate` and commit it:\n" + "\n".join(diff[:60]),
                    pytrace=False)


def test_the_example_compiles_under_strict_tsc() -> None:
    checked = npm_run(EXAMPLE, "typecheck")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "error" not in checked.stdout + checked.stderr
    config = json.loads((EXAMPLE / "tsconfig.json").read_text(encoding="utf-8"))["compilerOptions"]
    assert config["strict"] is True
    for name in ("client.ts", "main.ts"):  # typed by the generated types, with no way around them
        source = (EXAMPLE / "src" / name).read_text(encoding="utf-8")
        assert not re.search(r"(:|as|<)\s*any\b|any\[\]|@ts-(ignore|expect-error|nocheck)", source), name


def node(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The example as `npm start` last built it (dist/main.js), run with node."""
    return subprocess.run(["node", "dist/main.js", *args], cwd=EXAMPLE, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def control(server_url: str, what: str, **query: str) -> dict:
    status, _, body = http("GET", f"{server_url}/__mock/{what}?{urlencode(query)}")
    assert status == 200, body
    return body


def test_npm_start_tracks_posts_reads_lists_and_claims_against_the_mock() -> None:
    external_id = f"ts-example-{uuid.uuid4().hex[:12]}"
    with start_server("--quiet") as server:
        started = npm_run(EXAMPLE, "start", external_id, env={"GAMIFYHOST_URL": server.url}, timeout=120)
        assert started.returncode == 0, started.stdout + started.stderr
        assert started.stderr == ""
        out = started.stdout

        # What it printed, step by step.
        assert f"GamifyHost API at {server.url}, key pk_test_…\n" in out
        tracked = re.search(rf"^tracked user {re.escape(external_id)}: id ({UUID}), TEST, stage new$", out, re.M)
        posted = re.search(rf"^posted event spin_the_wheel \(GAME_PLAY, 50 points\): id ({UUID})$", out, re.M)
        profile = re.search(r"^profile: stage new, tier casual, score [\d.]+, 1 events, 1 plays, "
                            r"50 points in 30 days$", out, re.M)
        listed = re.findall(rf"^  ({UUID}) (\w+): (.+), (\d+) points, expires {TIME}$", out, re.M)
        claimed = re.search(rf"^claimed offer ({UUID}) \((\w+)\): claimed at ({TIME}), (\d+) points$", out, re.M)
        assert tracked and posted and profile and claimed, out
        assert "offers: 2 active\n" in out
        assert [(offer_type, title, int(points)) for _, offer_type, title, points in listed] == [
            ("welcome_free_play", "Welcome Free Spin", 50), ("welcome_bonus", "Welcome Bonus", 100)]
        assert "  recommended (high): Welcome Free Spin\n" in out
        offer_id = listed[0][0]
        assert claimed.group(1, 2, 4) == (offer_id, "welcome_free_play", "50")

        # What the mock holds: the profile with the fields sent, ...
        profiles = control(server.url, "profiles", externalId=external_id)["data"]
        assert len(profiles) == 1
        user = profiles[0]
        assert user["id"] == tracked.group(1)
        assert {key: user[key] for key in ("environment", "displayName", "email", "country", "device", "source",
                                           "tags", "totalPlays")} == {
            "environment": "TEST", "displayName": "Ada Example", "email": "ada@example.com", "country": "NG",
            "device": "desktop", "source": "typescript-example", "tags": {"plan": "trial"}, "totalPlays": 1}
        whose = {"partnerId": user["partnerId"], "environment": "TEST", "externalId": external_id}

        # ... the event in its timeline, under the offer_claimed event of the claim, ...
        events = control(server.url, "events", **whose)["data"]
        assert [(e["eventType"], e["category"], e["points"], e["metadata"]) for e in events] == [
            ("offer_claimed", "POINTS", 50, {"offerId": offer_id, "offerType": "welcome_free_play"}),
            ("spin_the_wheel", "GAME_PLAY", 50, {"gameType": "NEON_WHEEL"})]
        assert events[1]["id"] == posted.group(1)
        assert events[0]["occurredAt"] == claimed.group(3)

        # ... and the offer claimed at the moment printed, the other still active.
        offers = control(server.url, "offers", **whose)["data"]["offers"]
        assert [(o["id"], o["status"], o["claimedAt"]) for o in offers] == [
            (offer_id, "claimed", claimed.group(3)), (listed[1][0], "active", None)]

        # An error answer stops it with the API's message and exit code 1, and nothing is written.
        refused = node(f"{external_id}-refused",
                       env={"GAMIFYHOST_URL": server.url, "GAMIFYHOST_API_KEY": "sk_test_secret"})
        assert (refused.returncode, refused.stderr) == (1, "track user failed: 401 Unauthorized: Invalid API key\n")
        assert control(server.url, "profiles", externalId=f"{external_id}-refused")["data"] == []
        invalid = node("x" * 256, env={"GAMIFYHOST_URL": server.url})
        assert (invalid.returncode, invalid.stderr) == (
            1, "track user failed: 400 Bad Request: Invalid request body\n"
               "  externalId: externalId must be at most 255 characters long\n")

    # Nothing answering: the network error, exit code 1.
    unreachable = node(env={"GAMIFYHOST_URL": f"http://127.0.0.1:{free_port()}"})
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("cannot reach the API: fetch failed: connect ECONNREFUSED"), unreachable.stderr
