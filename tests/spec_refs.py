"""Following a spec's `$ref`s as OpenAPI tools do: a file part is relative to the referring file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from spec_walk import walk


def _refs(document: Any) -> list[str]:
    return [node["$ref"] for _, node in walk(document) if isinstance(node.get("$ref"), str)]


def _follow(document: Any, fragment: str) -> bool:
    """Whether the JSON pointer `fragment` ('/a/b~1c') names a node of `document`."""
    node = document
    for part in fragment.split("/")[1:] if fragment else []:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return False
    return True


def unresolved_refs(spec: Path) -> list[str]:
    """Every `$ref` in `spec`, and in the files it refers to, that names no file or no node.

    Paths are joined as text, without resolving symlinks, as Node's path.resolve does.
    """
    documents: dict[str, Any] = {}

    def load(path: str) -> Any:
        if path not in documents:
            documents[path] = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return documents[path]

    todo, checked, problems = [os.path.abspath(spec)], set[str](), list[str]()
    while todo:
        path = todo.pop()
        checked.add(path)
        for ref in _refs(load(path)):
            file_part, _, fragment = ref.partition("#")
            target = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.isfile(target):
                problems.append(f"{path}: {ref} (no file {target})")
                continue
            if not _follow(load(target), fragment):
                problems.append(f"{path}: {ref} (no such node)")
            if target not in checked and target not in todo:
                todo.append(target)
    return problems
