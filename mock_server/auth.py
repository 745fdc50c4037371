"""Who is calling: the X-API-Key header turned into a partner and an environment.

Without a keys file every well-formed public key is accepted and names its own partner; with
one, only the keys it lists are, and it can make them answer the documented 403s.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

from . import yaml_errors
from .errors import ApiError
from .journeys.storage import Principal
from .validation import capped

MISSING_KEY = "Missing X-API-Key header"
INVALID_KEY = "Invalid API key"
KEY_REVOKED = "API key has been revoked"
APP_INACTIVE = "Application is not active"
PARTNER_NOT_FOUND = "Partner account not found"

ENVIRONMENTS = {"test": "TEST", "live": "LIVE"}
KNOWN_KEYS_CACHED = 10_000
_PARTNER_NAMESPACE = uuid.UUID("6b1f7f0e-3c1a-5d8e-9f42-67616d696679")
_KEYS_SCHEMA = Path(__file__).with_name("keys-file.schema.yaml")


@dataclass(frozen=True)
class KeyEntry:
    """A key declared in a keys file, with what stops it from being used."""

    partner_id: str
    refusal: str | None  # the 403 message this key answers, or None when it is usable


class KeysFileError(ValueError):
    """A keys file that cannot be used; the message names the file and the place."""


def key_hint(key: str) -> str:
    """A key as output may show it: its kind (pk_test_, …) and at most 3 characters, never half the rest."""
    kind = re.match(r"[a-z]{2}_[a-z]{4}_", key)
    start = kind.end() if kind else 0
    return key[:start + min(3, (len(key) - start) // 2)] + "…"


@lru_cache(maxsize=65536)
def derived_partner_id(seed: str) -> str:
    """A partnerId that is the same for the same seed on every run and machine."""
    return str(uuid.uuid5(_PARTNER_NAMESPACE, seed))


class Authenticator:
    """Checks X-API-Key values against the contract's key format and optional keys file."""

    def __init__(self, key_pattern: str, keys: dict[str, KeyEntry] | None = None) -> None:
        self._pattern = re.compile(key_pattern)
        self._keys = keys
        self._known: dict[str, Principal] = {}  # keys that authenticated, so the next call is a lookup

    def authenticate(self, header: str | None) -> Principal:
        """The principal for a header value, or the documented 401/403 ApiError."""
        if not header:
            raise ApiError(401, MISSING_KEY)
        known = self._known.get(header)
        if known is not None:
            return known
        principal = self._authenticate(header)
        if len(self._known) < KNOWN_KEYS_CACHED:
            self._known[header] = principal
        return principal

    def _authenticate(self, header: str) -> Principal:
        match = self._pattern.fullmatch(header)
        if match is None:
            raise ApiError(401, INVALID_KEY)
        environment = ENVIRONMENTS[match.group(1)]
        if self._keys is None:
            # Test and live keys that share a token belong to one partner, as a real
            # account's pair of keys would.
            token = header.split("_", 2)[2]
            return Principal(derived_partner_id(token), environment, header)
        entry = self._keys.get(header)
        if entry is None:
            raise ApiError(401, INVALID_KEY)
        if entry.refusal:
            raise ApiError(403, entry.refusal)
        return Principal(entry.partner_id, environment, header)


def load_keys_file(path: str | Path, key_pattern: str) -> dict[str, KeyEntry]:
    """Read and check a keys file; raises KeysFileError naming what is wrong and where."""
    try:
        document: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KeysFileError(f"{path}: not valid YAML: {yaml_errors.describe(exc)}") from None
    except OSError as exc:
        raise KeysFileError(f"{path}: cannot read keys file: {exc}") from None
    schema = yaml.safe_load(_KEYS_SCHEMA.read_text(encoding="utf-8"))
    # Every problem, one line each; of a oneOf (a key is a string or an object) the likeliest one.
    problems = [f"{'/'.join(map(str, error.absolute_path)) or '(top level)'}: {error.message}"
                for error in map(best_match_of, Draft202012Validator(schema).iter_errors(document))]
    if problems:
        raise KeysFileError(_listing(path, problems))
    pattern = re.compile(key_pattern)
    keys: dict[str, KeyEntry] = {}
    for p_index, partner in enumerate(document["partners"]):
        partner_id = partner.get("partnerId") or derived_partner_id("name:" + partner["name"])
        for a_index, app in enumerate(partner["applications"]):
            for k_index, item in enumerate(app["keys"]):
                item = {"key": item} if isinstance(item, str) else item
                key, where = item["key"], f"partners/{p_index}/applications/{a_index}/keys/{k_index}"
                if not pattern.fullmatch(key):
                    problems.append(f"{where}: {key!r} is not a pk_test_/pk_live_ key")
                elif key in keys:
                    problems.append(f"{where}: key {key!r} is listed twice")
                refusal = (
                    KEY_REVOKED if item.get("revoked")
                    else APP_INACTIVE if not app.get("active", True)
                    else PARTNER_NOT_FOUND if partner.get("deleted")
                    else None
                )
                keys.setdefault(key, KeyEntry(partner_id, refusal))
    if problems:
        raise KeysFileError(_listing(path, problems))
    return keys


def best_match_of(error: ValidationError) -> ValidationError:
    """The error to show for `error`: itself, or the most relevant of its alternatives' errors."""
    return best_match([error]) or error


def _listing(path: str | Path, problems: list[str]) -> str:
    """`FILE: problem`, one line each, at most MAX_REPORTED_PROBLEMS of them."""
    return "\n".join(capped([f"{path}: {problem}" for problem in problems], lambda more: f"… and {more} more"))
