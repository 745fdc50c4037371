"""Variants of the mock for testing the contract suite itself (`--app mock_variants:NAME`).

Each broken variant breaks exactly one rule of the contract; the suite must fail on it.
"""
from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

from mock_server import create_app
from mock_server.auth import Principal

Change = Callable[[dict[str, Any], bool, dict[str, Any]], None]
TRACK_USER_ENDPOINT = "api.trackUser"


def _state(app: Flask):
    return app.extensions["gamifyhost_mock"]


def _changing_profiles(change: Change) -> Flask:
    """The mock, with `change(profile, created, body)` applied to every upsert's answer."""
    app = create_app()
    view = app.view_functions[TRACK_USER_ENDPOINT]
    seen: set[tuple[str, str, str]] = set()

    def changed_view(**path: str) -> Response:
        answer = view(**path).get_json()
        profile = answer["data"]
        key = (profile["partnerId"], profile["environment"], profile["externalId"])
        created = key not in seen
        seen.add(key)
        change(profile, created, request.get_json())
        return app.json.response(answer)

    app.view_functions[TRACK_USER_ENDPOINT] = changed_view
    return app


def new_id_on_update() -> Flask:
    def change(profile, created, body):
        if not created:
            profile["id"] = str(uuid.uuid4())
    return _changing_profiles(change)


def first_seen_moves() -> Flask:
    def change(profile, created, body):
        profile["firstSeenAt"] = profile["lastSeenAt"]
    return _changing_profiles(change)


def tags_replaced() -> Flask:
    def change(profile, created, body):
        if "tags" in body:
            profile["tags"] = dict(body["tags"])
    return _changing_profiles(change)


def missing_win_rate() -> Flask:
    def change(profile, created, body):
        del profile["winRate"]
    return _changing_profiles(change)


def crash_on_long_external_id() -> Flask:
    def change(profile, created, body):
        if len(body["externalId"]) > 100:
            raise RuntimeError("externalId column too short")
    return _changing_profiles(change)


def missing_key_accepted() -> Flask:
    app = create_app()
    authenticator = _state(app).authenticator
    authenticate = authenticator.authenticate
    authenticator.authenticate = lambda header: (
        Principal("anonymous", "TEST", "") if not header else authenticate(header))
    return app


def test_key_writes_live() -> Flask:
    app = create_app()
    authenticator = _state(app).authenticator
    authenticate = authenticator.authenticate

    def wrong_environment(header):
        principal = authenticate(header)
        return Principal(principal.partner_id, "LIVE", principal.api_key)

    authenticator.authenticate = wrong_environment
    return app


class _IgnoringDevice:
    """A validator that lets any device value through."""

    def __init__(self, validator) -> None:
        self._validator = validator

    def iter_errors(self, instance):
        return (e for e in self._validator.iter_errors(instance) if list(e.absolute_path)[:1] != ["device"])


def any_device_accepted() -> Flask:
    app = create_app()
    operations = _state(app).operations
    operations["trackUser"] = replace(operations["trackUser"], body=_IgnoringDevice(operations["trackUser"].body))
    return app


BROKEN = {
    "new_id_on_update": "id never changes on update",
    "first_seen_moves": "firstSeenAt never changes",
    "tags_replaced": "present fields replace, absent fields keep, tags and metadata merge key by key",
    "missing_win_rate": '"winRate" is a required property',
    "crash_on_long_external_id": "Server error",
    "missing_key_accepted": "API accepts requests without authentication",
    "test_key_writes_live": "the key prefix decides the environment",
    "any_device_accepted": "Schema-violating request accepted",
}


def recording() -> Flask:
    """The correct mock, writing every externalId it stored to $RECORD_FILE at exit."""
    created: list[str] = []

    def change(profile, was_created, body):
        if was_created:
            created.append(profile["externalId"])

    app = _changing_profiles(change)
    path = os.environ["RECORD_FILE"]
    atexit.register(lambda: Path(path).write_text("\n".join(created), encoding="utf-8"))
    return app
