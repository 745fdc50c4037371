"""Fixture documents: reading them, checking all of them, loading them whole, and exporting.

A fixture document is `{profiles: [{apiKey, profile, id?, firstSeenAt?, lastSeenAt?}]}` as the
control spec defines it. Loading checks every entry of every document first (schema, key,
timestamps, id clashes) and then loads them in one step, so a bad entry loads nothing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import yaml
from jsonschema import Draft202012Validator

from .auth import Authenticator
from .clock import parse_instant
from .errors import ApiError
from .journeys.profiles import LoadConflict, LoadItem, ProfileStore, Restore
from .validation import describe, sorted_errors

FIXTURE_SUFFIXES = (".yaml", ".yml", ".json")


class FixtureError(ValueError):
    """A fixture that cannot be loaded; the message names the source, the entry and the field."""


def read_documents(paths: Iterable[str | Path]) -> list[tuple[str, Any]]:
    """(source name, parsed document) for each file, and each fixture file in each folder."""
    documents = []
    for path in map(Path, paths):
        files = sorted(p for p in path.iterdir() if p.suffix in FIXTURE_SUFFIXES) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise FixtureError(f"{path}: no {', '.join(FIXTURE_SUFFIXES)} files in this folder")
        for file in files:
            try:
                documents.append((str(file), _parse(file.read_text(encoding="utf-8"))))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise FixtureError(f"{file}: cannot read fixture file: {exc}") from None
    return documents


def _parse(text: str) -> Any:
    """JSON as JSON (PyYAML splits escaped surrogate pairs such as emoji), anything else as YAML."""
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)


def where(source: str, document: Any, index: int) -> str:
    """How messages name an entry: `file: entry N (externalId 'x')`."""
    try:
        external_id = document["profiles"][index]["profile"]["externalId"]
        return f"{source}: entry {index} (externalId {external_id!r})"
    except (KeyError, IndexError, TypeError):
        return f"{source}: entry {index}"


def _epoch(value: str | None) -> int | None:
    return None if value is None else int(parse_instant(value).timestamp())


def check_schema(source: str, document: Any, validator: Draft202012Validator) -> None:
    """Raise FixtureError naming the source, entry and field of the first schema violation."""
    errors = sorted_errors(validator, document)
    if errors:
        path = list(errors[0].absolute_path)
        if len(path) > 1 and path[0] == "profiles":
            raise FixtureError(f"{where(source, document, path[1])}: {describe(errors[0], skip=2)['message']}")
        raise FixtureError(f"{source}: {describe(errors[0])['message']}")


def plan(documents: list[tuple[str, Any]], validator: Draft202012Validator,
         authenticator: Authenticator) -> tuple[list[LoadItem], list[str]]:
    """Check every entry; return what to load and, per item, where it came from."""
    items: list[LoadItem] = []
    origins: list[str] = []
    for source, document in documents:
        check_schema(source, document, validator)
        for index, entry in enumerate(document["profiles"]):
            origin = where(source, document, index)
            try:
                json.dumps(entry, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise FixtureError(f"{origin}: contains an unpaired surrogate (text that is not valid Unicode)") from None
            try:
                principal = authenticator.authenticate(entry["apiKey"])
            except ApiError as exc:
                raise FixtureError(f"{origin}: apiKey: {exc.message}") from None
            restore = Restore(entry.get("id"), _epoch(entry.get("firstSeenAt")), _epoch(entry.get("lastSeenAt")))
            if restore.first_seen is not None and restore.last_seen is not None \
                    and restore.last_seen < restore.first_seen:
                raise FixtureError(f"{origin}: lastSeenAt: is before firstSeenAt")
            items.append(LoadItem(principal, entry["profile"], restore))
            origins.append(origin)
    return items, origins


def load(store: ProfileStore, documents: list[tuple[str, Any]], validator: Draft202012Validator,
         authenticator: Authenticator) -> tuple[int, int]:
    """Load every document or none; return (created, updated)."""
    items, origins = plan(documents, validator, authenticator)
    try:
        return store.load(items)
    except LoadConflict as exc:
        raise FixtureError(f"{origins[exc.index]}: id: {exc}") from None


def export_document(store: ProfileStore) -> dict[str, Any]:
    """The whole store as a fixture document."""
    return {"profiles": store.export()}
