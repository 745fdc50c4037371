"""Walking a parsed spec: every mapping in it, with where it is."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk(node: Any, path: str = "") -> Iterator[tuple[str, dict]]:
    """(pointer, mapping) for every mapping in a parsed document, the document itself first."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")
