"""What one running mock holds and how a request reaches it.

The state is built once per app from its config: the contracts and the operations compiled
from them, auth, the clock, the store (preloaded from --state and --fixtures), the request
journal and the faults.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app
from jsonschema import Draft202012Validator

from . import fixtures
from .auth import Authenticator, key_hint, load_keys_file
from .clock import Clock
from .errors import ApiError
from .faults import FaultBoard
from .journal import Journal
from .journeys.memory import MemoryStorage
from .journeys.profiles import ProfileStore
from .journeys.sqlite import SqliteStorage
from .journeys.storage import ProfileFields, Storage
from .operations import Operation, compile_operations
from .parameters import Parameters
from .spec import Contract, load_contract, load_control_contract

TRACK_USER = "trackUser"
CONTROL_BODIES = ("reset", "loadFixtures", "addFault", "setClock", "placeOffer", "claimUserOffer")
CONTROL_QUERIES = ("listProfiles", "listEvents", "listRequests", "listOffers")
EXTENSION = "gamifyhost_mock"


@dataclass
class MockState:
    """Everything a request handler needs, built once per app."""

    contract: Contract
    control: Contract
    authenticator: Authenticator
    clock: Clock
    store: ProfileStore
    journal: Journal
    faults: FaultBoard
    operations: dict[str, Operation]  # the API's, by operationId
    control_bodies: dict[str, Draft202012Validator]
    control_queries: dict[str, Parameters]
    state_file: Path | None  # the SQLite database every write goes to, if any
    loaded_from: list[Path]  # the state file (if it held profiles) and fixtures preloaded at start
    start_fixtures: list[Path]  # the fixture files and folders loaded at start (FIXTURES), for a reset to reload
    warnings: list[str]  # what a person starting the mock should know (the CLI prints them)

    def load_fixtures(self, documents: list) -> tuple[int, int]:
        """Load fixture documents whole (see fixtures.load); return (created, updated)."""
        return fixtures.load(self.store, documents, self.control_bodies["loadFixtures"], self.authenticator)


def build_state(config: dict) -> MockState:
    """Build the state from app config (SPEC_PATH, KEYS_FILE, CLOCK, FIXTURES, STATE_FILE, ...)."""
    contract = load_contract(config.get("SPEC_PATH"))
    control = load_control_contract(config.get("SPEC_PATH"))
    key_pattern = contract.document["components"]["securitySchemes"]["publicKey"]["x-key-format"]["pattern"]
    keys = load_keys_file(config["KEYS_FILE"], key_pattern) if config.get("KEYS_FILE") else None
    clock = config.get("CLOCK") or Clock()
    properties = contract.request_properties(TRACK_USER)
    merge_fields = tuple(name for name, schema in properties.items() if schema.get("type") == "object")
    fields = ProfileFields(tuple(name for name in properties if name != "externalId" and name not in merge_fields),
                           merge_fields)
    state_file = Path(config["STATE_FILE"]) if config.get("STATE_FILE") else None
    storage: Storage = (MemoryStorage() if state_file is None
                        else SqliteStorage(state_file, fields, config["STATE_SYNC"]))
    state = MockState(
        contract=contract,
        control=control,
        authenticator=Authenticator(key_pattern, keys),
        clock=clock,
        store=ProfileStore(clock, fields, storage, offer_limit(contract)),
        journal=Journal(config["JOURNAL_SIZE"]),
        faults=FaultBoard(random.Random(config.get("FAULT_SEED"))),
        operations=compile_operations(contract),
        control_bodies={op: control.validator(control.request_schema_ref(op)) for op in CONTROL_BODIES},
        control_queries={op: Parameters("query", control.resolve(control.operation_pointer(op)).get("parameters", []))
                         for op in CONTROL_QUERIES},
        state_file=state_file,
        loaded_from=[state_file] if state_file is not None and storage.count() else [],
        warnings=[],
        start_fixtures=[Path(p) for p in config.get("FIXTURES") or []],
    )
    if state_file is not None:
        state.warnings += moved_partners(state.store, state.authenticator, state_file)
    if state.start_fixtures:
        state.load_fixtures(fixtures.read_documents(state.start_fixtures))
        state.loaded_from += state.start_fixtures
    return state


def offer_limit(contract: Contract) -> int:
    """The most active offers a user holds at once: the maxItems of the offers list's `offers`."""
    limit: int = contract.resolve("#/components/schemas/GetOffersResponse")["properties"]["data"]["properties"][
        "offers"]["maxItems"]
    return limit


def moved_partners(store: ProfileStore, authenticator: Authenticator, source: Path) -> list[str]:
    """A warning for each stored partner whose key now authenticates as another partner, or not at
    all: the mock was started with other --keys than when the profiles were written, and the
    same key would now read and write a separate, empty set of profiles."""
    warnings = []
    for (partner_id, environment), api_key in store.spaces().items():
        try:
            now = authenticator.authenticate(api_key).partner_id
            change = f"now names partner {now}"
        except ApiError as exc:
            now, change = None, f"is now refused ({exc.status} {exc.message})"
        if now != partner_id:
            warnings.append(f"{source} holds {environment} profiles of partner {partner_id}, written with key "
                            f"{key_hint(api_key)}, which {change}: start with the --keys file they were "
                            "written with, or that key will not see them")
    return warnings


def init_app(app: Flask) -> MockState:
    """Attach a fresh state to the app."""
    app.extensions[EXTENSION] = build_state(app.config)
    return app.extensions[EXTENSION]


def current_state() -> MockState:
    """The state of the app handling the current request."""
    return current_app.extensions[EXTENSION]
