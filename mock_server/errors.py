"""The GamifyHost error envelope, and the handlers that make every error use it."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

TRACK_FAILED = "Failed to track user"
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


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, exc.errors)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    response = error_response(status, HTTP_MESSAGES.get(status, exc.name))
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error", exc_info=exc)
    return error_response(500, TRACK_FAILED)


def init_app(app: Flask) -> None:
    """Register the handlers so that no answer, not even a crash, leaves the envelope."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
