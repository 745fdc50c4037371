"""Loading the contract (openapi.yaml) and compiling validators from it.

The contract is the only place field rules live: the mock asks this module for a validator
of a part of the spec and never restates a rule in Python.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:gamifyhost-mock:openapi"


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
    """One parsed OpenAPI document with a schema registry over it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(document))
        self._resolver = self._registry.resolver()

    @staticmethod
    def _uri(ref: str) -> str:
        return SPEC_URI + (ref if ref.startswith("#") else "#" + ref)

    def resolve(self, ref: str) -> Any:
        """The node a local reference ('#/components/...') or pointer points at, $refs followed."""
        node = self._resolver.lookup(self._uri(ref)).contents
        while isinstance(node, dict) and "$ref" in node:
            node = self._resolver.lookup(self._uri(node["$ref"])).contents
        return node

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
        """Pointer of the JSON schema of one documented response of an operation."""
        ref = self.operation_pointer(operation_id) + pointer("responses", str(status))
        response = self._resolver.lookup(self._uri(ref)).contents
        if "$ref" in response:
            ref = response["$ref"].lstrip("#")
        return ref + pointer("content", "application/json", "schema")

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
