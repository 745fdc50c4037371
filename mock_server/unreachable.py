"""Saying in one line why a server could not be reached, for the tools that call one (seed, contract)."""
from __future__ import annotations

from urllib3.exceptions import ConnectTimeoutError, NewConnectionError


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and everything behind it: requests wraps urllib3's errors, which keep theirs in `reason`."""
    found: list[BaseException] = []
    todo = [exc]
    while todo:
        error = todo.pop(0)
        if any(error is seen for seen in found):
            continue
        found.append(error)
        todo += [c for c in (getattr(error, "reason", None), error.__cause__, error.__context__, *error.args)
                 if isinstance(c, BaseException)]
    return found


def connect_failure(exc: BaseException) -> str | None:
    """The system's words (e.g. "Connection refused") if `exc` means no connection could be made at
    all; None for an error after connecting (a dropped connection, a read timeout)."""
    chain = _chain(exc)
    if not any(isinstance(error, (NewConnectionError, ConnectTimeoutError, ConnectionRefusedError))
               for error in chain):
        return None
    return next((error.strerror for error in chain if isinstance(error, OSError) and error.strerror),
                type(chain[-1]).__name__)
