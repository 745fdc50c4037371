"""A YAML syntax error in one line: where it is and what is wrong (PyYAML's own text spans several)."""
from __future__ import annotations

import yaml


def describe(exc: yaml.YAMLError) -> str:
    """`line 3, column 7: mapping values are not allowed here`."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem
