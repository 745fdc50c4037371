"""Loading the contract (openapi.yaml) and compiling validators from it.

The contract is the only place field rules live: the mock asks this module for a validator
of a part of the spec and never restates a rule in Python.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

# Hierarchical (and never resolvable) base URIs, so that the control spec's relative
# references ('openapi.yaml#/...') resolve to the API spec inside one registry.
SPEC_BASE = "https://gamifyhost-mock.invalid/"
SPEC_URI = SPEC_BASE + "openapi.yaml"
CONTROL_URI = SPEC_BASE + "control-openapi.yaml"
CONTROL_SPEC_PATH = Path(__file__).with_name("control-openapi.yaml")


def default_spec_path() -> Path:
    """The spec shipped in the installed package, else the one at the repository root."""
    packaged = resources.files("mock_server").joinpath("openapi.yaml")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "openapi.yaml"


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
        """A compiled validator for the schema at `ref` (a pointer or '#/...' reference)."""
        return Draft202012Validator(
            {"$ref": self._uri(ref)},
            registry=self._registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

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
        """The operationId for a literal path and method, if the document has one."""
        operation = self.document["paths"].get(path, {}).get(method.lower())
        return operation["operationId"] if operation else None

    def request_properties(self, operation_id: str) -> dict[str, Any]:
        """Property name -> resolved schema of an operation's request body, in spec order."""
        schema = self.resolve(self.request_schema_ref(operation_id))
        return {name: self.resolve(prop["$ref"]) if "$ref" in prop else prop
                for name, prop in schema["properties"].items()}


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
