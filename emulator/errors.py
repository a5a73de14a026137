"""Typed domain errors and the one JSON error handler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports this module; only the app needs Flask
    from flask import Flask, Response
    from werkzeug.exceptions import HTTPException

FLAT_CONFIG = "WISHPOND_FLAT_ERROR_PREFIXES"
# Werkzeug's HTTP errors, named in the emulator's snake_case codes.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    431: "request_header_fields_too_large",
}


class EmulatorError(Exception):
    """An error the client caused, carrying a code, a message and an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """Return the JSON error document."""
        return {"error": {"code": self.code, "message": self.message, **self.extra}}

    def flat_body(self) -> dict[str, Any]:
        """Return the error document with code and message at the top level too."""
        return {"code": self.code, "message": self.message, **self.body()}


def error_response(err: EmulatorError) -> Response:
    """Render an EmulatorError as a JSON response (flat on the paths that want it)."""
    from flask import current_app, jsonify, request

    flat = request.path.startswith(current_app.config.get(FLAT_CONFIG, ()))
    response = jsonify(err.flat_body() if flat else err.body())
    response.status_code = err.status
    return response


def from_http(exc: HTTPException) -> EmulatorError:
    """Return the emulator's error for one of Werkzeug's HTTP errors."""
    status = exc.code or 500
    if status == 413:
        message = (
            "The request body is larger than the emulator accepts; "
            "send less, or raise --max-body-bytes."
        )
    elif status == 405:
        allowed = ", ".join(getattr(exc, "valid_methods", None) or [])
        message = f"This route does not accept that method; use {allowed}."
    elif status == 404:
        message = "No such route; see GET /openapi.json for the routes the emulator serves."
    else:
        message = exc.description or exc.name
    return EmulatorError(_HTTP_CODES.get(status, "http_error"), message, status)


def as_error(exc: BaseException) -> EmulatorError:
    """Return the EmulatorError a request that raised exc answers with."""
    from werkzeug.exceptions import HTTPException

    if isinstance(exc, EmulatorError):
        return exc
    if isinstance(exc, HTTPException):
        return from_http(exc)
    # A bug, never the client's fault; still answer in JSON rather than HTML.
    return EmulatorError("internal_error", f"The emulator failed: {type(exc).__name__}: {exc}", 500)


def _http_error(exc: HTTPException) -> Response:
    response = error_response(from_http(exc))
    methods = getattr(exc, "valid_methods", None)
    if exc.code == 405 and methods:
        response.headers["Allow"] = ", ".join(methods)
    return response


def _unexpected(exc: Exception) -> Response:
    return error_response(as_error(exc))


def register(app: Flask, flat_prefixes: tuple[str, ...] = ()) -> None:
    """Install the JSON error handlers on an app; under flat_prefixes errors are flat too."""
    from werkzeug.exceptions import HTTPException

    app.config[FLAT_CONFIG] = flat_prefixes
    app.register_error_handler(EmulatorError, error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
