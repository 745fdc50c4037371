"""YAML held to what JSON can carry, for fixture files and fixture uploads (POST /__mock/fixtures).

PyYAML's safe loader still builds values a JSON body cannot hold, and its file is a client's
input once uploaded: each refusal below is a case that answered 500 or held the mock (found in
review), now a YAMLError naming the line and column.

- aliases (`*name`): nine lines of aliases nine deep made 387 million strings from 300 bytes,
  and walking them held the mock's one worker for good;
- nesting deeper than MAX_NESTING: the composer recurses per level (500 levels: RecursionError);
- a key given twice: the last one silently won, so the first `profiles:` list was dropped from
  an upload answered 200 (the JSON path refuses duplicate keys too);
- `!!binary`, `!!set`, `!!omap`, `!!pairs`, `!!timestamp`: no JSON value (json.dumps failed).
  Unquoted dates and times are strings, as they would be in JSON.
"""
from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from . import validation

# An exported fixture document puts a profile's or an event's body up to 4 levels down (document,
# profiles, entry, events): a body nested as deep as the API takes loads back.
MAX_NESTING = validation.MAX_NESTING + 4
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_NOT_JSON = ("binary", "set", "omap", "pairs", "timestamp")


class StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing what JSON cannot carry (module docstring)."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise ComposerError(None, None, "aliases (*name) are not allowed in fixture files: write the value out",
                                self.peek_event().start_mark)
        if not self.check_event(yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        if self.depth == MAX_NESTING:
            raise ComposerError(None, None, f"nested more than {MAX_NESTING} levels deep",
                                self.peek_event().start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):  # an unhashable key is refused by the safe loader itself
                if key in seen:
                    raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def _not_json(loader: StrictLoader, node: Any) -> Any:
    kind = node.tag.rsplit(":", 1)[-1]
    raise ConstructorError(None, None, f"!!{kind} values are not JSON: write a string, number, list or mapping",
                           node.start_mark)


for _kind in _NOT_JSON:
    StrictLoader.add_constructor(f"tag:yaml.org,2002:{_kind}", _not_json)
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def load(text: str) -> Any:
    """One YAML document as JSON values; a yaml.YAMLError naming the place of what is refused."""
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader: plain data only
