"""Fixture documents: reading them, checking all of them, loading them whole, and exporting.

A fixture document is `{profiles: [{apiKey, profile, id?, firstSeenAt?, lastSeenAt?, events?, offers?}]}`
as the control spec defines it. Loading checks every entry of every document first (schema, key,
timestamps, id clashes) and then loads them in one step, so a bad entry loads nothing.
"""
from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from . import strict_yaml, yaml_errors
from .auth import Authenticator
from .clock import format_timestamp, parse_timestamp
from .errors import ApiError
from .journeys.engine import DAY
from .journeys.events import pack_metadata
from .journeys.offers import OfferSpec
from .journeys.profiles import LoadConflict, LoadEvent, LoadItem, ProfileStore, Restore
from .validation import JsonRefused, MalformedJson, capped, describe, parse_json_text, quote, sorted_errors

FIXTURE_SUFFIXES = (".yaml", ".yml", ".json")
_AGO_UNITS = {"s": 1, "m": 60, "h": 3600, "d": DAY}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with fixtures: the failing field's dotted path in its document, and a line saying what."""

    field: str
    message: str


class FixtureError(ValueError):
    """Fixtures that cannot be loaded: one line per problem (at most MAX_REPORTED_PROBLEMS, then a count).

    Each line names the source, the entry (numbered from 1) and the field.
    """

    def __init__(self, problems: list[Problem] | str) -> None:
        self.problems = [Problem("", problems)] if isinstance(problems, str) else problems
        super().__init__("\n".join(p.message for p in self.reported))

    @property
    def reported(self) -> list[Problem]:
        """The problems to show: the first MAX_REPORTED_PROBLEMS, then one saying how many more."""
        return capped(self.problems, lambda more: Problem("", f"… and {more} more"))


def read_documents(paths: Iterable[str | Path]) -> list[tuple[str, Any]]:
    """(source name, parsed document) for each file, and each fixture file in each folder."""
    documents = []
    for path in map(Path, paths):
        files = sorted(p for p in path.iterdir() if p.suffix in FIXTURE_SUFFIXES) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise FixtureError(f"{path}: no {', '.join(FIXTURE_SUFFIXES)} files in this folder")
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise FixtureError(f"{file}: cannot read fixture file: {exc}") from None
            documents.append((str(file), parse_document(str(file), text)))
    return documents


def parse_document(source: str, text: str) -> Any:
    """A fixture file's text (JSON or YAML) as its document; FixtureError naming `source` if it does not
    parse or holds a number JSON cannot carry."""
    try:
        document = _parse(source, text)
    except yaml.YAMLError as exc:
        raise FixtureError(f"{source}: not valid YAML: {yaml_errors.describe(exc)}") from None
    non_finite = _non_finite(document)
    if non_finite is not None:
        raise FixtureError(f"{source}: {non_finite[0] or 'the document'} is {non_finite[1]}, which JSON "
                           "cannot carry: use a finite number or a string")
    return document


def _non_finite(document: Any) -> tuple[str, float] | None:
    """The dotted path and value of a NaN or infinite number in a document (YAML's .nan, .inf), if any."""
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return path, value
        children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        pending += [(f"{path}.{key}" if path else str(key), child) for key, child in children]
    return None


def _parse(source: str, text: str) -> Any:
    """JSON as JSON, strictly as a request body is read (PyYAML splits escaped surrogate pairs such as
    emoji), anything else as YAML held to JSON's values (strict_yaml)."""
    try:
        return parse_json_text(text, strict_yaml.MAX_NESTING)
    except MalformedJson:
        return strict_yaml.load(text)
    except JsonRefused as exc:
        raise FixtureError(f"{source}: {exc}") from None


def where(source: str, document: Any, index: int) -> str:
    """How messages name an entry (0-based `index`): `file: entry N (externalId 'x')`, N from 1."""
    label = f"{source}: entry {index + 1}"
    try:
        return f"{label} (externalId {quote(document['profiles'][index]['profile']['externalId'])})"
    except (KeyError, IndexError, TypeError):
        return label


def ago_seconds(ago: str) -> int:
    """How many seconds a schema-valid `ago` ("3d", "12h", "90m", "45s") stands for; an offer's
    `expiresIn` is written the same way and may start with "-" ("-1h": -3600)."""
    return int(ago[:-1]) * _AGO_UNITS[ago[-1]]


def _track_fields(event: dict[str, Any]) -> dict[str, Any]:
    """A fixture event's trackEvent fields: all but its id and `ago`."""
    return {name: value for name, value in event.items() if name not in ("id", "ago")}


def track_body(external_id: str, event: dict[str, Any], now: int) -> dict[str, Any]:
    """A schema-valid fixture event as a trackEvent body, its `ago` made an occurredAt before `now`
    (epoch seconds); the id is left out, as the API cannot set it."""
    body = {"externalId": external_id, **_track_fields(event)}
    if "ago" in event:
        body["occurredAt"] = format_timestamp(now - ago_seconds(event["ago"]))
    return body


def _schema_problems(source: str, document: Any, validator: Draft202012Validator) -> dict[int | None, list[Problem]]:
    """A document's schema violations by entry index (None: the document as a whole)."""
    found: dict[int | None, list[Problem]] = {}
    for error in sorted_errors(validator, document):
        path = list(error.absolute_path)
        if len(path) > 1 and path[0] == "profiles" and isinstance(path[1], int):
            text = f"{where(source, document, path[1])}: {describe(error, skip=2, whole='entry')['message']}"
            found.setdefault(path[1], []).append(Problem(describe(error)["field"], text))
        else:
            described = describe(error, whole="document")
            found.setdefault(None, []).append(Problem(described["field"], f"{source}: {described['message']}"))
    return found


def check_schema(documents: list[tuple[str, Any]], validator: Draft202012Validator) -> None:
    """Raise FixtureError listing every schema violation of every document."""
    problems = [p for source, document in documents
                for found in _schema_problems(source, document, validator).values() for p in found]
    if problems:
        raise FixtureError(problems)


@dataclass
class _Given:
    """The ids given so far in one load: profile ids by the (partner, environment, externalId) they
    were given to, event and offer ids by where (`origin, events.N`, `origin, offers.N`)."""

    profiles: dict[int, tuple[str, str, str]]
    events: dict[int, str]
    offers: dict[int, str]


def _events(origin: str, path: str, entry: dict[str, Any], given: _Given) -> tuple[list[LoadEvent], list[Problem]]:
    """A schema-valid entry's events to load, and any id already given to an earlier event."""
    events, problems = [], []
    for index, event in enumerate(entry.get("events", ())):
        identity = uuid.UUID(event["id"]).int if "id" in event else None
        here = f"{origin}, events.{index}"
        if identity is not None and given.events.setdefault(identity, here) != here:
            problems.append(Problem(f"{path}.events.{index}.id", f"{origin}: events.{index}.id: id {event['id']} is "
                                                                 f"also the id of an earlier event "
                                                                 f"({given.events[identity]})"))
        events.append(LoadEvent(_track_fields(event), identity, ago_seconds(event["ago"]) if "ago" in event else 0))
    return events, problems


def offer_spec(offer: dict[str, Any]) -> tuple[OfferSpec, dict[str, str]]:
    """A schema-valid FixtureOffer as the store takes it, and why any of its times cannot be held,
    by field name."""
    times: dict[str, int] = {}
    refused: dict[str, str] = {}
    for name in ("issuedAt", "expiresAt", "claimedAt"):
        if name in offer:
            try:
                times[name] = parse_timestamp(offer[name])
            except ValueError as exc:
                refused[name] = str(exc)
    spec = OfferSpec(
        offer["offerType"], id=uuid.UUID(offer["id"]).int if "id" in offer else None,
        game_type=offer.get("gameType"), title=offer.get("title"), description=offer.get("description"),
        # JSON Schema's integers include 5.0; the offer keeps an int, as SQLite's INTEGER column would
        points_value=int(offer["pointsValue"]) if "pointsValue" in offer else None,
        metadata=pack_metadata(offer.get("metadata", {})),
        issued_at=times.get("issuedAt"), issued_ago=ago_seconds(offer["issuedAgo"]) if "issuedAgo" in offer else 0,
        expires_at=times.get("expiresAt"),
        expires_in=ago_seconds(offer["expiresIn"]) if "expiresIn" in offer else None,
        claimed_at=times.get("claimedAt"))
    return spec, refused


def _offers(origin: str, path: str, entry: dict[str, Any], given: _Given) -> tuple[list[OfferSpec], list[Problem]]:
    """A schema-valid entry's offers to place, any time that cannot be held, and any id already
    given to an earlier offer."""
    specs, problems = [], []
    for index, offer in enumerate(entry.get("offers", ())):
        spec, refused = offer_spec(offer)
        problems += [Problem(f"{path}.offers.{index}.{name}", f"{origin}: offers.{index}.{name}: {why}")
                     for name, why in refused.items()]
        here = f"{origin}, offers.{index}"
        if spec.id is not None and given.offers.setdefault(spec.id, here) != here:
            problems.append(Problem(f"{path}.offers.{index}.id", f"{origin}: offers.{index}.id: id {offer['id']} is "
                                                                 f"also the id of an earlier offer "
                                                                 f"({given.offers[spec.id]})"))
        specs.append(spec)
    return specs, problems


def _check_entry(origin: str, path: str, entry: dict[str, Any], authenticator: Authenticator,
                 given: _Given) -> tuple[LoadItem | None, list[Problem]]:
    """One schema-valid entry as an item to load (None if its key is refused), and what is wrong with it."""
    problems = []
    principal = None
    try:
        principal = authenticator.authenticate(entry["apiKey"])
    except ApiError as exc:
        problems.append(Problem(f"{path}.apiKey", f"{origin}: apiKey: {exc.message}"))
    try:
        json.dumps(entry, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        problems.append(Problem(path, f"{origin}: contains an unpaired surrogate (text that is not valid Unicode)"))
    seen: dict[str, int] = {}
    for name in ("firstSeenAt", "lastSeenAt"):
        if entry.get(name) is not None:
            try:
                seen[name] = parse_timestamp(entry[name])
            except ValueError as exc:
                problems.append(Problem(f"{path}.{name}", f"{origin}: {name}: {exc}"))
    restore = Restore(entry.get("id"), seen.get("firstSeenAt"), seen.get("lastSeenAt"))
    if restore.first_seen is not None and restore.last_seen is not None and restore.last_seen < restore.first_seen:
        problems.append(Problem(f"{path}.lastSeenAt", f"{origin}: lastSeenAt: is before firstSeenAt"))
    events, event_problems = _events(origin, path, entry, given)
    offers, offer_problems = _offers(origin, path, entry, given)
    problems += event_problems + offer_problems
    if principal is None:
        return None, problems
    if restore.id is not None:
        owner = (principal.partner_id, principal.environment, entry["profile"]["externalId"])
        first = given.profiles.setdefault(uuid.UUID(restore.id).int, owner)
        if first != owner:
            problems.append(Problem(f"{path}.id", f"{origin}: id: id {restore.id} already belongs to "
                                                  f"externalId {quote(first[2])}"))
    return LoadItem(principal, entry["profile"], restore, tuple(events), tuple(offers)), problems


def plan(documents: list[tuple[str, Any]], validator: Draft202012Validator,
         authenticator: Authenticator) -> tuple[list[LoadItem], list[tuple[str, str]]]:
    """Check every entry of every document; return what to load and, per item, where it came from
    (as messages name it, and its path in its document).

    Raises one FixtureError listing every problem found, entry by entry: schema violations,
    refused keys, bad timestamps, and one id given to two profiles, two events or two offers.
    """
    items: list[LoadItem] = []
    origins: list[tuple[str, str]] = []
    problems: list[Problem] = []
    given = _Given({}, {}, {})
    for source, document in documents:
        found = _schema_problems(source, document, validator)
        if None in found:  # no list of entries to go through
            problems += found[None]
            continue
        for index, entry in enumerate(document["profiles"]):
            if index in found:
                problems += found[index]
                continue
            origin = where(source, document, index)
            item, entry_problems = _check_entry(origin, f"profiles.{index}", entry, authenticator, given)
            problems += entry_problems
            if item is not None:
                items.append(item)
                origins.append((origin, f"profiles.{index}"))
    if problems:
        raise FixtureError(problems)
    return items, origins


def load(store: ProfileStore, documents: list[tuple[str, Any]], validator: Draft202012Validator,
         authenticator: Authenticator) -> tuple[int, int]:
    """Load every document or none; return (created, updated)."""
    items, origins = plan(documents, validator, authenticator)
    try:
        return store.load(items)
    except LoadConflict as exc:
        origin, path = origins[exc.index]
        raise FixtureError([Problem(f"{path}.{exc.field}", f"{origin}: {exc.field}: {exc}")]) from None


def export_document(store: ProfileStore) -> dict[str, Any]:
    """The whole store as a fixture document."""
    return {"profiles": store.export()}
