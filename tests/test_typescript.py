"""TypeScript types generated from the specs compile, and the documented examples fit them.

openapi-typescript generates the types as its users would (default options); `tsc --strict`
then compiles a file that assigns every request and response example of openapi.yaml to the
type generated for it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mock_server.spec import load_contract, pointer

from node_tools import run

ROOT = Path(__file__).resolve().parent.parent


def typed_examples() -> list[tuple[str, Any]]:
    """(TypeScript type, example) for each body example of each operation in openapi.yaml, named ones
    (`examples`) too."""
    contract = load_contract(ROOT / "openapi.yaml")
    found = []
    for item in contract.document["paths"].values():
        for operation in item.values():
            at = f'operations["{operation["operationId"]}"]'
            bodies = {f'{at}["requestBody"]': operation.get("requestBody", {})}
            bodies |= {f'{at}["responses"][{status}]': contract.resolve(
                contract.operation_pointer(operation["operationId"]) + pointer("responses", status))
                for status in operation["responses"]}
            for ts_type, body in bodies.items():
                media = body.get("content", {}).get("application/json", {})
                named = [example["value"] for example in media.get("examples", {}).values()]
                for example in ([media["example"]] if "example" in media else []) + named:
                    found.append((f'{ts_type}["content"]["application/json"]', example))
    return found


def test_the_documented_examples_compile_against_the_generated_types(tmp_path: Path) -> None:
    for spec, out in [("openapi.yaml", "api.ts"), ("mock_server/control-openapi.yaml", "control.ts")]:
        generated = run("openapi-typescript", spec, "--output", str(tmp_path / out), cwd=ROOT)
        assert generated.returncode == 0, generated.stdout + generated.stderr
    examples = typed_examples()
    assert len(examples) >= 5  # the request, the 200 profile, and the 400, 401 and 403 envelopes
    lines = ['import type { operations } from "./api";']
    lines += [f"export const example{i}: {ts_type} = {json.dumps(example, indent=2)};"
              for i, (ts_type, example) in enumerate(examples)]
    (tmp_path / "examples.ts").write_text("\n".join(lines) + "\n", encoding="utf-8")
    compiled = run("tsc", "--noEmit", "--strict", "--target", "es2022", "--module", "esnext",
                   "--moduleResolution", "bundler", "examples.ts", "control.ts", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
