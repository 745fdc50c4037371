"""Both specs lint clean (Redocly, Spectral), resolve their references and mean what they say.

The linters come from tests/node (see node_tools.py); their configuration is redocly.yaml,
.redocly.lint-ignore.yaml and .spectral.yaml at the repository root.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from node_tools import run
from spec_refs import unresolved_refs
from spec_walk import walk

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["openapi.yaml", "mock_server/control-openapi.yaml"]

# YAML 1.2's core schema, which the npm tools use, for plain (unquoted) scalars; anything else
# is a string. PyYAML, which the mock uses, follows YAML 1.1, where e.g. `no` is false.
CORE_SCHEMA = {
    "null": r"null|Null|NULL|~|",
    "bool": r"true|True|TRUE|false|False|FALSE",
    # Leading zeros are left out: `010` is 10 in YAML 1.2 but 8 in YAML 1.1, so it must show up.
    "int": r"[-+]?(0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+",
    "float": r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)",
}


def core_type(text: str) -> str:
    return next((name for name, pattern in CORE_SCHEMA.items() if re.fullmatch(pattern, text)), "str")


def scalars(node: yaml.Node, key: str | None = None) -> Iterator[tuple[str | None, yaml.ScalarNode]]:
    """(the mapping key it is the value of, if any; node) for every scalar, keys included."""
    if isinstance(node, yaml.ScalarNode):
        yield key, node
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from scalars(item)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            yield from scalars(key_node)
            yield from scalars(value, key_node.value)


def pyyaml_type(node: yaml.ScalarNode) -> str:
    return node.tag.rsplit(":", 1)[1]


def compose(spec: str) -> yaml.Node:
    root = yaml.compose((ROOT / spec).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    assert root is not None, f"{spec} is empty"
    return root


@pytest.mark.parametrize("spec", SPECS)
def test_every_reference_resolves_from_the_repository(spec: str) -> None:
    assert unresolved_refs(ROOT / spec) == []


@pytest.mark.parametrize("spec", SPECS)
def test_no_key_lacks_a_value(spec: str) -> None:
    """A null written as nothing (or ~) is never meant: it is a key without a value, e.g. a flow mapping
    cut at a comma. One spelled `null` is (the documented offer example's claimedAt)."""
    root = compose(spec)
    nulls = [f"line {n.start_mark.line + 1}: {key!r} has no value"
             for key, n in scalars(root) if n.tag.endswith(":null") and n.value != "null"]
    assert nulls == []


@pytest.mark.parametrize("spec", SPECS)
def test_every_plain_scalar_means_the_same_to_the_mock_and_to_the_npm_tools(spec: str) -> None:
    root = compose(spec)
    differing = [f"line {n.start_mark.line + 1}: {n.value!r} is {pyyaml_type(n)} to PyYAML, "
                 f"{core_type(n.value)} in YAML 1.2"
                 for _, n in scalars(root) if n.style is None and pyyaml_type(n) != core_type(n.value)]
    assert differing == []


@pytest.mark.parametrize("spec", SPECS)
def test_every_object_says_whether_it_is_open(spec: str) -> None:
    """Without additionalProperties, openapi-typescript types an empty object as Record<string, never>."""
    document = yaml.safe_load((ROOT / spec).read_text(encoding="utf-8"))
    silent = [path for path, node in walk(document)
              if node.get("type") == "object" and "additionalProperties" not in node]
    assert silent == []


@pytest.mark.parametrize("spec", SPECS)
def test_redocly_lint_finds_nothing(spec: str) -> None:
    result = run("redocly", "lint", "--config", "redocly.yaml", "--format", "json", spec, cwd=ROOT)
    report = json.loads(result.stdout)
    problems = [f"{p['severity']} {p['ruleId']}: {p['message']} at {p['location'][0]['pointer']}"
                for p in report["problems"]]
    assert problems == [] and report["totals"]["errors"] == report["totals"]["warnings"] == 0
    assert result.returncode == 0, result.stderr
    ignores = yaml.safe_load((ROOT / ".redocly.lint-ignore.yaml").read_text(encoding="utf-8"))
    assert report["totals"]["ignored"] == sum(map(len, ignores.get(spec, {}).values())), "a stale ignore entry"


def test_spectral_lint_finds_nothing() -> None:
    result = run("spectral", "lint", "--ruleset", ".spectral.yaml", "--fail-severity", "hint", *SPECS, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No results with a severity of 'hint' or higher found!" in result.stdout
