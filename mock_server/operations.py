"""One request pipeline for every operation in openapi.yaml, keyed by operationId.

    latency fault -> auth -> path, query and body checks from the spec -> Prefer -> error fault -> handler

Paths and methods are read from the spec only; a handler receives a checked `Call` and returns
the answer's `data`. An operation added to the spec needs a handler and nothing else here. A
request with a Prefer header may be answered a declared response instead (prefer.py).
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import BaseConverter

from .auth import Principal
from .errors import ApiError
from .parameters import Parameters
from .prefer import PREFER_KEY, Answers, const_message, declared_response, enabled
from .spec import PATH_PARAMETER, AcceptFast, Contract, PathOwners, pointer
from .validation import ErrorSource, parse_json_body, validate_body

if TYPE_CHECKING:
    from .state import MockState

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Call:
    """One checked request: who calls, its parameters (path and query) and its body."""

    state: MockState
    principal: Principal
    params: dict[str, Any]
    body: Any


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Operation:
    """What the spec says of one operation, compiled once."""

    id: str
    method: str
    path: str  # the spec's template, /v1/user-journeys/users/{externalId}
    path_params: Parameters
    query_params: Parameters
    body: ErrorSource | None  # None: the operation takes no body
    failure: str  # the message of its 500
    answers: Answers  # its declared responses, as Prefer forces them

    @property
    def rule(self) -> str:
        """The Flask rule: a path parameter takes any text, '/' included (a decoded %2F)."""
        return PATH_PARAMETER.sub(r"<text:\1>", self.path)


class AnyText(BaseConverter):
    """One or more characters of any kind, newlines too. Werkzeug's `path` refuses a leading '/', so the
    valid externalId "/x" (sent as %2Fx) was answered 404 "Route not found" or redirected; and `.` alone
    stops at a newline (%0A), which the path must reach to be refused as an invalid externalId."""

    regex = r"[\s\S]+?"
    part_isolating = False


def compile_operations(contract: Contract) -> dict[str, Operation]:
    """Every operation in the contract, by operationId."""
    compiled = {}
    for path, item in contract.document["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            op_id = item[method]["operationId"]
            op_pointer = pointer("paths", path, method)
            operation = contract.resolve(op_pointer)
            parameters = [{**contract.resolve(ref), "schema": contract.bundled(ref + "/schema")}
                          for ref in _parameter_refs(contract, path, method)]
            body: AcceptFast | None = (contract.request_checker(contract.request_schema_ref(op_id))
                                       if "requestBody" in operation else None)
            failure = contract.resolve(contract.response_schema_ref(op_id, 500))
            compiled[op_id] = Operation(op_id, method.upper(), path, Parameters("path", parameters),
                                        Parameters("query", parameters), body, const_message(failure),
                                        _answers(contract, op_id, op_pointer, operation["responses"]))
    return compiled


def _answers(contract: Contract, op_id: str, op_pointer: str, statuses: Iterable[str]) -> Answers:
    """What a Prefer header may force: each declared response, with the schema its body keeps."""
    return Answers(op_id, [declared_response(int(status), contract.resolve(op_pointer + pointer("responses", status)),
                                             contract.resolve(contract.response_schema_ref(op_id, status)))
                           for status in statuses])


def _parameter_refs(contract: Contract, path: str, method: str) -> list[str]:
    """References of the parameters of the path item, then of the operation."""
    refs = []
    for at in (pointer("paths", path), pointer("paths", path, method)):
        for index, parameter in enumerate(contract.resolve(at).get("parameters", [])):
            refs.append(parameter["$ref"] if "$ref" in parameter else "#" + at + pointer("parameters", str(index)))
    return refs


def blueprint(operations: dict[str, Operation], handlers: dict[str, Handler],
              state: Callable[[], MockState]) -> Blueprint:
    """A blueprint serving each operation through the pipeline; every operation needs a handler.

    `state` gives the state of the app handling the request.
    """
    missing, unknown = set(operations) - set(handlers), set(handlers) - set(operations)
    if missing or unknown:
        raise ValueError(f"operations without a handler: {sorted(missing)}; handlers without an operation: "
                         f"{sorted(unknown)}")
    bp = Blueprint("api", __name__)
    bp.record_once(lambda setup: setup.app.url_map.converters.update(text=AnyText))
    owners = PathOwners(op.path for op in operations.values())
    methods: dict[str, set[str]] = {}
    for op in operations.values():
        methods.setdefault(op.path, {"OPTIONS"}).update([op.method, "HEAD"] if op.method == "GET" else [op.method])
    allowed = {path: ", ".join(sorted(names)) for path, names in methods.items()}  # as an Allow header says them
    bp.after_app_request(partial(_spec_allow, owners, allowed))
    for op in operations.values():
        # The more literal templates that can take this operation's paths but not its method: werkzeug
        # routes such a request here (GET /users/u1/offers/o1/claim to getUser), their owner says 405.
        shadows = [pattern for template, pattern in owners.patterns
                   if len(PATH_PARAMETER.sub("", template)) > len(PATH_PARAMETER.sub("", op.path))
                   and op.method not in methods[template]]
        # Slashes are kept as sent: merging them (with a redirect) would change an externalId like "a//b".
        bp.add_url_rule(op.rule, endpoint=op.id, view_func=_view(op.id, handlers[op.id], state, shadows, owners,
                                                                 allowed), methods=[op.method], merge_slashes=False)
    return bp


def _spec_allow(owners: PathOwners, allowed: dict[str, str], response: Response) -> Response:
    """An Allow header (OPTIONS, 405) names the methods of the spec path that owns the request path,
    in one order. werkzeug's gathered every rule matching the path, so the claim's path also
    offered getUser's GET; and came from a set, whose order varied from run to run."""
    if "Allow" in response.headers:
        owner = owners.owner(request.path)
        response.headers["Allow"] = (allowed[owner] if owner is not None
                                     else ", ".join(sorted(response.headers["Allow"].split(", "))))
    return response


def _view(op_id: str, handler: Handler, state_of: Callable[[], MockState], shadows: list[re.Pattern[str]],
          owners: PathOwners, allowed: dict[str, str]) -> Callable[..., ResponseReturnValue]:
    def view(**path: str) -> ResponseReturnValue:
        if shadows and any(pattern.fullmatch(request.path) for pattern in shadows):
            owner = owners.owner(request.path)
            raise MethodNotAllowed(valid_methods=allowed[owner].split(", ") if owner else None)
        state = state_of()
        data = run(state, state.operations[op_id], handler, path)
        if isinstance(data, Response):  # a forced answer (Prefer)
            return data
        return current_app.json.response({"status": "success", "data": data})
    view.__name__ = op_id
    return view


def run(state: MockState, op: Operation, handler: Handler, path: dict[str, str]) -> Any:
    """The pipeline for one request; what it raises is answered in the error envelope.

    Injected latency is served first; an injected error strikes only a request that would
    otherwise have succeeded, like a storage failure would, and changes nothing. A valid request
    that asks for a declared response with Prefer gets it (a Response) without reaching the
    handler; it neither uses up an error fault nor changes anything.
    """
    delay = sum(f.latencyMs or 0 for f in state.faults.draw(op.id, "latency"))
    if delay:
        time.sleep(delay / 1000)
    environ = request.environ
    principal = state.authenticator.authenticate(environ.get("HTTP_X_API_KEY"))
    # request.args parses the query string on first use (about 3 µs): only operations with query
    # parameters pay for it.
    params = {**op.path_params.read(path), **(op.query_params.read(request.args) if op.query_params else {})}
    body = None
    if op.body is not None:
        body = parse_json_body(request)
        validate_body(op.body, body)
    # A request without Prefer pays for this one lookup; the header is read only when sent.
    prefer = environ.get(PREFER_KEY)
    if prefer is not None and enabled():
        forced = op.answers.forced(prefer)
        if forced is not None:
            return forced
    if state.faults.draw(op.id, "error"):
        raise ApiError(500, op.failure)
    return handler(Call(state, principal, params, body))
