"""Loading the contract (openapi.yaml) and compiling validators from it.

The contract is the only place field rules live: the mock asks this module for a validator
of a part of the spec and never restates a rule in Python.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jsonschema_rs
import regress
import yaml
from jsonschema import Draft202012Validator, ValidationError, validators
from referencing import Registry
from referencing.jsonschema import DRAFT202012

# Hierarchical (and never resolvable) base URIs, so that the control spec's relative
# references ('openapi.yaml#/...') resolve to the API spec inside one registry.
SPEC_BASE = "https://gamifyhost-mock.invalid/"
SPEC_URI = SPEC_BASE + "openapi.yaml"
CONTROL_URI = SPEC_BASE + "control-openapi.yaml"
CONTROL_SPEC_PATH = Path(__file__).with_name("control-openapi.yaml")
PATH_PARAMETER = re.compile(r"\{([^}/]+)\}")  # a {name} in a path template


def default_spec_path() -> Path:
    """mock_server/openapi.yaml: in the wheel a copy of the root openapi.yaml, in a checkout a symlink to it."""
    return Path(__file__).with_name("openapi.yaml")


@cache  # the specs hold a handful of patterns; each is compiled once
def ecma_regex(pattern: str) -> regress.Regex:
    r"""A JSON Schema pattern compiled as ECMA-262 says, with the u flag JSON Schema asks for.

    Python's `re` reads patterns differently: its `$` also matches before a final newline
    (so "abc\n" passed the externalId rule that bans control characters); `\d`, `.` differ too.
    """
    return regress.Regex(pattern, "u")


def ecma_search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches somewhere in `text`, as ECMA-262 (and jsonschema_rs) decide."""
    try:
        return ecma_regex(pattern).find(text) is not None
    except UnicodeEncodeError:
        # regress reads UTF-8, which cannot carry a lone surrogate (a YAML fixture can hold one).
        # Read as UTF-16 like ECMA does: a pair is one character; a lone half becomes U+FFFD,
        # which no pattern in the specs tells apart from a surrogate.
        utf16 = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return ecma_regex(pattern).find(utf16) is not None


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    """jsonschema's `pattern` keyword, with ECMA-262's reading of the pattern."""
    if validator.is_type(instance, "string") and not ecma_search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _ecma_pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any,
                             schema: dict[str, Any]) -> Any:
    """jsonschema's `patternProperties` keyword, with ECMA-262's reading of the patterns."""
    if validator.is_type(instance, "object"):
        for pattern, subschema in patterns.items():
            for key, value in instance.items():
                if ecma_search(pattern, key):
                    yield from validator.descend(value, subschema, path=key, schema_path=pattern)


_enum = Draft202012Validator.VALIDATORS["enum"]  # jsonschema's own, through its public API


def _fast_enum(validator: Any, enums: list[Any], instance: Any, schema: dict[str, Any]) -> Any:
    """jsonschema's enum, with a set lookup when instance and choices are all strings.

    The 249 country codes would otherwise be compared one by one on every request; for
    strings membership and jsonschema's equality are the same thing.
    """
    if isinstance(instance, str):
        cached = _STRING_ENUMS.get(id(enums))
        if cached is None or cached[0] is not enums:  # the entry holds the list, so no id reuse
            strings = all(isinstance(e, str) for e in enums)
            cached = _STRING_ENUMS[id(enums)] = (enums, frozenset(enums) if strings else None)
        if cached[1] is not None:
            if instance not in cached[1]:
                yield from _enum(validator, enums, instance, schema)
            return
    yield from _enum(validator, enums, instance, schema)


# id of an enum list -> (that list, its choices as a set when all are strings). Bundled schemas
# share the spec's own lists of plain values, so this holds one entry per enum in the specs.
_STRING_ENUMS: dict[int, tuple[list[Any], frozenset[str] | None]] = {}
# The validator of everything the specs describe: ECMA-262 patterns and the set-based enum.
SpecValidator = validators.extend(Draft202012Validator, {
    "enum": _fast_enum, "pattern": _ecma_pattern, "patternProperties": _ecma_pattern_properties})


def pointer(*parts: str) -> str:
    """A JSON pointer from raw path segments (escaping '~' and '/')."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


class Contract:
    """One parsed OpenAPI document (plus any it refers to) with a schema registry over them."""

    def __init__(self, document: dict[str, Any], uri: str = SPEC_URI,
                 others: dict[str, dict[str, Any]] | None = None) -> None:
        self.document = document
        self.uri = uri
        documents = {uri: document, **(others or {})}
        self._registry = Registry().with_resources(
            (u, DRAFT202012.create_resource(d)) for u, d in documents.items())
        self._resolver = self._registry.resolver(base_uri=uri)

    def _uri(self, ref: str) -> str:
        """An absolute URI for a pointer ('/a/b'), a local ref ('#/a/b') or a document ref."""
        if ref.startswith("/"):
            return self.uri + "#" + ref
        return urljoin(self.uri, ref)

    def resolve(self, ref: str) -> Any:
        """The node a local reference ('#/components/...') or pointer points at, $refs followed."""
        resolved = self._resolver.lookup(self._uri(ref))
        while isinstance(resolved.contents, dict) and "$ref" in resolved.contents:
            resolved = resolved.resolver.lookup(resolved.contents["$ref"])
        return resolved.contents

    def validator(self, ref: str) -> Draft202012Validator:
        """A compiled validator for the schema at `ref` (a pointer or '#/...' reference).

        The schema is bundled first (its references inlined), so validating a request does
        not go through the reference registry at all.
        """
        return SpecValidator(self.bundled(ref), registry=self._registry,
                             format_checker=Draft202012Validator.FORMAT_CHECKER)

    def request_checker(self, ref: str) -> AcceptFast:
        """A validator for a hot request body: jsonschema, with jsonschema_rs accepting first."""
        # Formats checked by both (jsonschema_rs skips them by default under 2020-12); where the two
        # read date-time differently (a leap second, a lower-case 'z'), a pattern in the spec decides.
        return AcceptFast(self.validator(ref), jsonschema_rs.validator_for(self.bundled(ref), validate_formats=True))

    def bundled(self, ref: str) -> dict[str, Any]:
        """The schema at `ref` with every reference replaced by what it points to."""
        def inline(node: Any, resolver: Any, seen: tuple[int, ...]) -> Any:
            if isinstance(node, list):
                if not any(isinstance(item, (dict, list)) for item in node):
                    return node  # plain values (an enum, `required`): shared, not copied
                return [inline(item, resolver, seen) for item in node]
            if not isinstance(node, dict):
                return node
            if "$ref" in node:
                target = resolver.lookup(node["$ref"])
                if id(target.contents) in seen:  # a recursive schema keeps its reference
                    return node
                rest = {k: v for k, v in node.items() if k != "$ref"}
                merged = inline(target.contents, target.resolver, (*seen, id(target.contents)))
                return {"allOf": [merged, inline(rest, resolver, seen)]} if rest else merged
            return {key: inline(value, resolver, seen) for key, value in node.items()}

        resolved = self._resolver.lookup(self._uri(ref))
        return inline(resolved.contents, resolved.resolver, ())

    def operation_pointer(self, operation_id: str) -> str:
        """The pointer of the operation object with this operationId."""
        for path, item in self.document["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and op.get("operationId") == operation_id:
                    return pointer("paths", path, method)
        raise KeyError(f"no operation {operation_id!r} in the contract")

    def request_schema_ref(self, operation_id: str) -> str:
        """Pointer of the JSON request body schema of an operation."""
        return self.operation_pointer(operation_id) + pointer(
            "requestBody", "content", "application/json", "schema"
        )

    def response_schema_ref(self, operation_id: str, status: int | str) -> str:
        """Reference of the JSON schema of one documented response of an operation."""
        ref = self._uri(self.operation_pointer(operation_id) + pointer("responses", str(status)))
        response = self._resolver.lookup(ref).contents
        if "$ref" in response:
            ref = urljoin(ref, response["$ref"])
        return ref + pointer("content", "application/json", "schema")

    def operation_id_at(self, path: str, method: str) -> str | None:
        """The operationId serving a request path and method, if the document has one (see PathOwners:
        a method of a less literal template that also matches does not count, as the mock answers 405)."""
        paths = self.document["paths"]
        owner = PathOwners(paths).owner(path)
        operation = paths[owner].get(method.lower()) if owner is not None else None
        return str(operation["operationId"]) if operation else None

    def request_properties(self, operation_id: str) -> dict[str, Any]:
        """Property name -> resolved schema of an operation's request body, in spec order."""
        schema = self.resolve(self.request_schema_ref(operation_id))
        return {name: self.resolve(prop["$ref"]) if "$ref" in prop else prop
                for name, prop in schema["properties"].items()}


class PathOwners:
    """Which of the spec's paths serves a request path: a literal path wins over a template, and a
    template with more literal text over one with less; a parameter matches one or more characters,
    '/' included, as the mock routes them. So `/users/u1/offers/o1/claim` belongs to the claim's
    template alone, although getUser's `/users/{externalId}` matches it too."""

    def __init__(self, paths: Iterable[str]) -> None:
        paths = list(paths)
        self._literal = {path for path in paths if "{" not in path}
        templates = sorted((path for path in paths if "{" in path), key=lambda t: -len(PATH_PARAMETER.sub("", t)))
        # split also yields the parameters' names: every other part is literal text
        self.patterns = [(t, re.compile(".+".join(map(re.escape, PATH_PARAMETER.split(t)[::2])), re.S))
                         for t in templates]

    def owner(self, path: str) -> str | None:
        """The spec path serving `path`, or None."""
        if path in self._literal:
            return path
        return next((template for template, pattern in self.patterns if pattern.fullmatch(path)), None)


class AcceptFast:
    """jsonschema's verdict, reached in microseconds for the common case of a valid body.

    jsonschema_rs (compiled from the same bundled schema) may only *accept*: whatever it does
    not accept goes to jsonschema, which alone rejects and writes the error messages. The tests
    hold the two to the same verdicts on generated valid and invalid bodies, date-times included.
    """

    def __init__(self, full: Draft202012Validator, quick: Any) -> None:
        self.full = full
        self.quick = quick

    def _quickly_valid(self, instance: Any) -> bool:
        try:
            return self.quick.is_valid(instance)
        except (ValueError, OverflowError):  # e.g. an integer wider than 64 bits
            return False

    def is_valid(self, instance: Any) -> bool:
        return self._quickly_valid(instance) or self.full.is_valid(instance)

    def iter_errors(self, instance: Any) -> Any:
        return iter(()) if self._quickly_valid(instance) else self.full.iter_errors(instance)


@lru_cache(maxsize=8)
def _read(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_contract(path: str | Path | None = None) -> Contract:
    """Parse the spec at `path` (default: the shipped one); parsing is cached per path."""
    return Contract(_read(str(Path(path) if path else default_spec_path())))


def load_control_contract(spec_path: str | Path | None = None) -> Contract:
    """The control API's spec, able to resolve its references into the API spec."""
    api = load_contract(spec_path)
    return Contract(_read(str(CONTROL_SPEC_PATH)), uri=CONTROL_URI, others={SPEC_URI: api.document})
