"""The GamifyHost error envelope, and the handlers that make every error use it."""
from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any, cast

from flask import Flask, Request, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream

INTERNAL_ERROR = "Internal server error"
INVALID_BODY = "Invalid request body"
UNSUPPORTED_MEDIA = "Content-Type must be application/json"

# Messages for errors raised by routing and the WSGI layer rather than by the API's own code.
HTTP_MESSAGES = {
    400: INVALID_BODY,
    404: "Route not found",
    405: "Method not allowed",
    413: "Request body too large",
}


class ApiError(Exception):
    """An error answer: raised anywhere while handling a request, rendered as the envelope."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def error_response(
    status: int, message: str, errors: list[dict[str, str]] | None = None
) -> Response:
    """`{status: "error", code, message}` with the given HTTP status (plus `errors` if any)."""
    body: dict[str, Any] = {"status": "error", "code": status, "message": message}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    return response


class _AtMost(LimitedStream):
    """A body of at most `limit` bytes: reading a byte more raises 413."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(stream, limit + 1, is_max=True)

    def readinto(self, b: bytearray) -> int | None:  # type: ignore[override]
        size = super().readinto(b)
        if self.is_exhausted:
            raise RequestEntityTooLarge()
        return size


class BoundedRequest(Request):
    """Flask's request, with a body over MAX_CONTENT_LENGTH a 413 however it is sent.

    werkzeug refuses a Content-Length over the limit, but reads a chunked body up to the limit
    and hands that much over as the whole body: 1.1 MB of JSON padded with spaces was stored
    (200), and any other chunked body over the limit was a 400 for its cut-off JSON.
    """

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if self.content_length is None and limit is not None and "wsgi.input_terminated" in self.environ:
            return cast(IO[bytes], _AtMost(self.environ["wsgi.input"], limit))  # as werkzeug does
        return super().stream


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, exc.errors)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    response = error_response(status, HTTP_MESSAGES.get(status, exc.name))
    allowed = getattr(exc, "valid_methods", None)  # werkzeug's MethodNotAllowed carries them
    if status == 405 and allowed:
        response.headers["Allow"] = ", ".join(sorted(allowed))  # werkzeug's is a set: its order varies by run
    return response


def init_app(app: Flask, failures: Mapping[str, str]) -> None:
    """Register the handlers so that no answer, not even a crash, leaves the envelope.

    `failures`: the 500 message of each operation, by operationId (its Flask endpoint).
    """
    def unexpected(exc: Exception) -> Response:
        current_app.logger.exception("unhandled error", exc_info=exc)
        operation = (request.endpoint or "").rpartition(".")[2]  # "api.trackUser": blueprint, operationId
        return error_response(500, failures.get(operation, INTERNAL_ERROR))

    app.request_class = BoundedRequest
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, unexpected)
