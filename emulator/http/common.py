"""Request parsing shared by the surfaces: body, JSON, schema, credentials."""

from __future__ import annotations

import functools
import hmac
import json
import math
from collections.abc import Callable
from typing import Any, cast

from flask import Response, current_app, request

import contract
from emulator.errors import EmulatorError, as_error
from emulator.journal import Note
from emulator.settings import Settings, valid_id
from emulator.state import Emulator

MAX_DEPTH = 64
JSON_TYPES = ("application/json",)


def emulator() -> Emulator:
    """Return the running app's emulator state."""
    return cast(Emulator, current_app.extensions["wishpond_emulator"])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; send numbers as finite values or strings")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:40]} is too large for a JSON number; send it as a string")
    return value


# Built once: json.loads(text, parse_constant=...) would build a decoder per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def _depth_ok(value: Any) -> bool:
    """Return whether no value sits deeper than MAX_DEPTH (the top level is depth 1)."""
    # Breadth-first over containers only: scalars, most of a body, are never pushed.
    level = [value] if type(value) in (dict, list) else []
    depth = 1
    while level:
        if depth >= MAX_DEPTH and any(level):  # a non-empty container here has deeper items
            return False
        deeper = []
        for item in level:
            deeper += [
                v
                for v in (item.values() if type(item) is dict else item)
                if type(v) in (dict, list)
            ]
        level = deeper
        depth += 1
    return True


def parse_json(raw: bytes) -> Any:
    """Decode strict UTF-8 JSON (no NaN, bounded nesting) or raise a 400."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EmulatorError(
            "invalid_utf8", f"The body is not valid UTF-8 (byte {exc.start}); send UTF-8 JSON."
        ) from None
    if not text.strip():
        raise EmulatorError("invalid_json", "The body is empty; send a JSON object.")
    if text.startswith("\ufeff"):
        raise EmulatorError(
            "invalid_json", "The body starts with a byte-order mark; send JSON without one."
        )
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise EmulatorError(
            "invalid_json", f"The JSON is nested too deeply; keep it under {MAX_DEPTH} levels."
        ) from None
    except ValueError as exc:
        raise EmulatorError("invalid_json", f"The body is not valid JSON: {exc}.") from None
    # Nesting can't exceed the count of brackets; walk the value only when it might.
    if text.count("{") + text.count("[") >= MAX_DEPTH and not _depth_ok(value):
        raise EmulatorError(
            "invalid_json", f"The JSON is nested too deeply; keep it under {MAX_DEPTH} levels."
        )
    return value


def json_body(
    schema: str | None = None, *, text_plain: bool = False, data: bytes | None = None
) -> dict[str, Any]:
    """Return the request's (or the given decoded) JSON object, checked against a schema."""
    mimetype = request.mimetype
    accepted = mimetype in JSON_TYPES or mimetype.endswith("+json")
    if text_plain and mimetype in ("text/plain", ""):
        accepted = True  # navigator.sendBeacon and no-preflight fetches send text/plain
    if not accepted:
        wanted = "application/json" + (" or text/plain" if text_plain else "")
        raise EmulatorError(
            "unsupported_media_type",
            f"Content-Type {request.content_type or '(none)'!r} is not accepted; send {wanted}.",
            415,
        )
    value = parse_json(request.get_data(cache=True) if data is None else data)
    if not isinstance(value, dict):
        raise EmulatorError(
            "body_not_object",
            f"The body is a JSON {type(value).__name__ if value is not None else 'null'}; "
            "send a JSON object.",
        )
    if schema is not None:
        check(schema, value)
    return value


def journaled(view: Callable[..., Response]) -> Callable[..., Response]:
    """Journal every call of a surface's view, handing it the Note it fills in.

    The surface is the view's blueprint; an error the view raises is journaled as the
    error document it answers with, then rendered by the app's error handlers.
    """

    @functools.wraps(view)
    def call(**kwargs: Any) -> Response:
        note = Note(request.blueprint or "", request.method, request.path)
        try:
            response = view(note, **kwargs)
        except Exception as exc:
            error = as_error(exc)
            emulator().journal.record(note, error.status, error.body()["error"])
            raise
        emulator().journal.record(note, response.status_code)
        return response

    return call


def check(schema: str, value: Any) -> None:
    """Validate value against a contract schema, raising a 400 that names the field."""
    try:
        contract.validate(schema, value)
    except contract.ContractError as exc:
        raise EmulatorError("invalid_request", str(exc), 400, field=exc.field) from None


def authenticate(settings: Settings, merchant_id: str, write_key: str) -> None:
    """Check a merchant id and write key in strict mode; open mode accepts any."""
    if not settings.strict:
        return
    expected = settings.merchants.get(merchant_id)
    if expected is None:
        raise EmulatorError(
            "unknown_merchant",
            f"Merchant {merchant_id!r} is not configured; the emulator knows "
            f"{', '.join(sorted(settings.merchants))}. Check the Merchant ID.",
            401,
        )
    if write_key != expected:
        raise EmulatorError(
            "invalid_write_key",
            f"The write key does not match merchant {merchant_id!r}; "
            "copy the Tracking Key configured for that merchant.",
            401,
        )


def merchant_in_path(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Reject a merchant id in the URL that no write could ever have created."""
    merchant_id = (values or {}).get("merchant_id")
    if merchant_id is not None:
        check_merchant_id(merchant_id)


def check_merchant_id(merchant_id: str) -> None:
    """Raise a 400 for a merchant id that no write could ever have created."""
    if not valid_id(merchant_id):
        raise EmulatorError(
            "invalid_merchant_id",
            f"{merchant_id[:140]!r} is not a usable merchant id; use 1-128 letters, digits, "
            "'.', '_', '~' or '-'.",
        )


def require_admin_token() -> None:
    """Demand 'Authorization: Bearer <token>' on /_emulator/* when --admin-token is set."""
    token = emulator().settings.admin_token
    if not token:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise EmulatorError(
            "admin_token_required",
            "The admin API needs 'Authorization: Bearer <token>' (the --admin-token value).",
            401,
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise EmulatorError(
            "invalid_admin_token", "The bearer token does not match --admin-token.", 401
        )
