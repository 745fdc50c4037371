"""Forced answers, as Prism gives them: `Prefer: code=404` and `Prefer: example=NAME`.

A request whose Prefer header (RFC 7240) names a response the operation declares is answered
that response at once, from the spec, and changes nothing. It is read only on a request that has
passed auth and the spec's checks (Prism's order), and only while the mock runs with PREFER and
its control API on. What each operation declares is compiled here once, at start-up.

- `code=N` answers the operation's N response: its `example`, else its first named example, else
  (413, 415, 500) the error envelope with the message the schema fixes.
- `example=NAME` answers that named example: of the `code=` response if one is given, else of the
  one declared response that has it.
- `dynamic=false` asks for what the mock does anyway; `dynamic=true` (Prism's generated bodies)
  is refused. Any other preference (`respond-async`, `return=minimal`, ...) is ignored, as RFC
  7240 says.

Preferences are separated by `,` and their parameters by `;`; like Prism (which reads them as one
list), `code=400; example=expired` means the same as `code=400, example=expired`. Of a name given
twice the first counts (RFC 7240). A forced answer says `Preference-Applied: code=400, example=expired`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from flask import Response, current_app

from .errors import ApiError

PREFER_KEY = "HTTP_PREFER"  # where WSGI puts the Prefer header (several lines joined with ", ")
APPLIED = "Preference-Applied"
TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # RFC 9110's token
# One preference or parameter: a token, maybe `= value` (a token or a quoted string), then `,`, `;` or the end.
_ITEM = re.compile(rf'[ \t]*({TOKEN})[ \t]*(?:=[ \t]*({TOKEN}|"(?:[^"\\]|\\.)*"))?[ \t]*(?:[,;]|$)')
_EMPTY = re.compile(r"[ \t]*[,;]")  # an empty list element, which RFC 9110 lets a recipient skip
_STATUS = re.compile(r"[1-5][0-9][0-9]")
_QUOTED_PAIR = re.compile(r"\\(.)")
USAGE = "e.g. Prefer: code=404, or code=400, example=NAME"


def parse(header: str) -> dict[str, str | None]:
    """The preferences and parameters of a Prefer header by lower-case name (the first of each
    name), their values unquoted; a 400 when the header is not RFC 7240's syntax."""
    found: dict[str, str | None] = {}
    at = 0
    while at < len(header):
        empty = _EMPTY.match(header, at)
        if empty:
            at = empty.end()
            continue
        item = _ITEM.match(header, at)
        if not item or item.end() == at:
            if not header[at:].strip():
                break
            raise ApiError(400, f"Prefer header is not valid at {header[at:].strip()[:40]!r} ({USAGE})")
        name, value = item.group(1).lower(), item.group(2)
        if value is not None and value.startswith('"'):
            value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
        found.setdefault(name, value)
        at = item.end()
    return found


@dataclass(frozen=True)
class Declared:
    """One response an operation declares, as a forced answer gives it."""

    status: int
    body: Any  # without example=: its example, its first named example, or the envelope of its fixed message
    named: dict[str, Any]  # its named examples, in spec order


def declared_response(status: int, response: dict[str, Any], schema: dict[str, Any]) -> Declared:
    """What a forced answer of this response is; a ValueError when the spec gives no body for it."""
    media = response.get("content", {}).get("application/json", {})
    named = {name: example["value"] for name, example in media.get("examples", {}).items()}
    if "example" in media:
        body = media["example"]
    elif named:
        body = next(iter(named.values()))
    else:
        body = {"status": "error", "code": status, "message": const_message(schema)}
    return Declared(status, body, named)


def const_message(schema: dict[str, Any]) -> str:
    """The `message` const of an error response schema (an allOf of Error and the specifics)."""
    for part in schema.get("allOf", []):
        message = part.get("properties", {}).get("message", {})
        if "const" in message:
            return str(message["const"])
    raise ValueError("an error response without an example must fix its message with a const")


class Answers:
    """The responses one operation declares, and which of them a Prefer header forces."""

    def __init__(self, operation_id: str, responses: list[Declared]) -> None:
        self.operation_id = operation_id
        self.responses = {response.status: response for response in responses}
        self._codes = ", ".join(str(status) for status in self.responses)

    def forced(self, header: str) -> Response | None:
        """The forced answer a Prefer header asks for; None when it asks for none (the request is
        answered as usual); a 400 naming what it may ask for when it asks for what is not declared."""
        preferences = parse(header)
        if preferences.get("dynamic", "false") != "false":
            raise ApiError(400, f"Prefer {_said('dynamic', preferences['dynamic'])} is not supported: the mock "
                                f"answers the spec's examples ({USAGE})")
        if "code" not in preferences and "example" not in preferences:
            return None
        applied, response, body = [], None, None
        if "code" in preferences:
            response = self._by_code(preferences["code"])
            body = response.body
            applied.append(f"code={response.status}")
        if "example" in preferences:
            response, body = self._by_name(preferences["example"], response)
            applied.append(_said("example", preferences["example"]))
        assert response is not None
        answer = cast(Response, current_app.json.response(body))
        answer.status_code = response.status
        answer.headers[APPLIED] = ", ".join(applied)
        return answer

    def _by_code(self, code: str | None) -> Declared:
        if code is None or not _STATUS.fullmatch(code):
            raise ApiError(400, f"Prefer {_said('code', code)} is not an HTTP status code ({USAGE})")
        response = self.responses.get(int(code))
        if response is None:
            raise ApiError(400, f"Prefer code={code} is not a response of {self.operation_id}: it declares "
                                f"{self._codes}")
        return response

    def _by_name(self, name: str | None, response: Declared | None) -> tuple[Declared, Any]:
        if not name:
            raise ApiError(400, f"Prefer example needs the name of an example ({USAGE})")
        said = _said("example", name)
        if response is not None:
            if name not in response.named:
                raise ApiError(400, f"Prefer {said} is not an example of the {response.status} response of "
                                    f"{self.operation_id}: {_having(list(response.named))}")
            return response, response.named[name]
        holders = [response for response in self.responses.values() if name in response.named]
        if len(holders) > 1:
            raise ApiError(400, f"Prefer {said} is an example of the {' and '.join(str(r.status) for r in holders)} "
                                f"responses of {self.operation_id}: say which with code=")
        if not holders:
            raise ApiError(400, f"Prefer {said} is not an example of {self.operation_id}: " + _having(
                [f"{named} ({response.status})" for response in self.responses.values() for named in response.named]))
        return holders[0], holders[0].named[name]


def _having(names: list[str]) -> str:
    return f"its named examples are {', '.join(names)}" if names else "it has no named examples"


def _said(name: str, value: str | None) -> str:
    """A preference as RFC 7240 writes it: `name`, `name=token` or `name="quoted text"`."""
    if value is None:
        return name
    if re.fullmatch(TOKEN, value):
        return f"{name}={value}"
    return f'{name}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def enabled() -> bool:
    """Whether the app honours Prefer: PREFER on, and the control API too (without it the mock
    answers as the real API would, and no request can steer it)."""
    return bool(current_app.config["PREFER"] and current_app.config["CONTROL_API"])
