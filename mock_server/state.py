"""What one running mock holds (contract, auth, clock, store) and how a request reaches it."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from jsonschema import Draft202012Validator

from .auth import Authenticator, load_keys_file
from .clock import Clock
from .spec import Contract, load_contract
from .store import ProfileStore

TRACK_USER = "trackUser"
EXTENSION = "gamifyhost_mock"


@dataclass
class MockState:
    """Everything a request handler needs, built once per app."""

    contract: Contract
    authenticator: Authenticator
    clock: Clock
    store: ProfileStore
    track_user_body: Draft202012Validator


def build_state(config: dict) -> MockState:
    """Build the state from app config: SPEC_PATH, KEYS_FILE and CLOCK (all optional)."""
    contract = load_contract(config.get("SPEC_PATH"))
    key_pattern = contract.document["components"]["securitySchemes"]["publicKey"]["x-key-format"]["pattern"]
    keys = load_keys_file(config["KEYS_FILE"], key_pattern) if config.get("KEYS_FILE") else None
    clock = config.get("CLOCK") or Clock()
    properties = contract.request_properties(TRACK_USER)
    merge_fields = [name for name, schema in properties.items() if schema.get("type") == "object"]
    text_fields = [name for name in properties if name != "externalId" and name not in merge_fields]
    return MockState(
        contract=contract,
        authenticator=Authenticator(key_pattern, keys),
        clock=clock,
        store=ProfileStore(clock, text_fields, merge_fields),
        track_user_body=contract.validator(contract.request_schema_ref(TRACK_USER)),
    )


def init_app(app: Flask) -> None:
    """Attach a fresh state to the app."""
    app.extensions[EXTENSION] = build_state(app.config)


def current_state() -> MockState:
    """The state of the app handling the current request."""
    return current_app.extensions[EXTENSION]
