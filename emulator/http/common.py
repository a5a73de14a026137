"""Request parsing shared by the surfaces: body, JSON, schema, credentials."""

from __future__ import annotations

import codecs
import functools
import hmac
import zlib
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

from flask import Response, current_app, request

import contract
from emulator import limits
from emulator.errors import EmulatorError, as_error
from emulator.http import injection
from emulator.http.docs import doc_of
from emulator.journal import Note
from emulator.settings import Settings, valid_id
from emulator.state import Emulator

JSON_TYPES = ("application/json",)


def emulator() -> Emulator:
    """Return the running app's emulator state."""
    return cast(Emulator, current_app.extensions["wishpond_emulator"])


_COMPACT = {"separators": (",", ":")}


def json_response(doc: Any) -> Response:
    """Return doc answered as jsonify answers it (compact, a newline), with less set-up per call."""
    app = current_app
    return app.response_class(app.json.dumps(doc, **_COMPACT) + "\n", mimetype="application/json")


def json_body(
    schema: str | None = None,
    *,
    text_plain: bool = False,
    data: bytes | None = None,
    depth: int = limits.MAX_DEPTH,
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
    value = limits.decode_json(request.get_data(cache=True) if data is None else data, depth)
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
    error document it answers with, then rendered by the app's error handlers. A fault rule
    that met the call (emulator.http.injection) may answer in place of either.
    """

    @functools.wraps(view)
    def call(**kwargs: Any) -> Response:
        note = Note(request.blueprint or "", request.method, request.path)
        response: Response | None = None
        raised: Exception | None = None
        try:
            response = view(note, **kwargs)
        except injection.Faulted:
            pass  # a fault rule answers: settle says how
        except Exception as exc:
            raised = exc
        error = as_error(raised) if raised is not None else None
        faulted = injection.settle(note, error)
        if faulted is not None:
            response, status = faulted
        capture(note, emulator().settings.journal_body_bytes)
        if response is None:
            assert error is not None and raised is not None
            emulator().journal.record(note, error.status, error.body()["error"])
            raise raised
        if faulted is None:
            status = response.status_code
        emulator().journal.record(note, status, error.body()["error"] if error else None)
        return response

    return call


# Never journaled: credentials a client sends in headers (as WSGI names them).
SECRET_HEADERS = frozenset(("HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_COOKIE"))
_BODY_HEADERS = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


@functools.cache
def _header_name(key: str) -> str:
    """Return the header name a WSGI environ key stands for: HTTP_USER_AGENT -> User-Agent."""
    return _BODY_HEADERS.get(key) or key[5:].replace("_", "-").title()


def capture(note: Note, limit: int) -> None:
    """Copy the request's headers (never credentials) and its body's first limit bytes."""
    environ = request.environ
    note.headers = {
        _header_name(k): v
        for k, v in environ.items()
        if (k[:5] == "HTTP_" and k not in SECRET_HEADERS) or k in _BODY_HEADERS
    }
    size = request.content_length
    if size is not None and size > (current_app.config["MAX_CONTENT_LENGTH"] or size):
        note.body_bytes, note.body_truncated = size, True  # refused unread: nothing to show
        return
    try:
        data = request.get_data(cache=True)
    except Exception:  # an unreadable body answered its own error; the entry says so
        return
    note.body_bytes = len(data)
    if environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
        data = _inflate_head(data, limit + 1)
    if not data:
        return
    if len(data) <= limit:
        note.body = data.decode("utf-8", "replace")
        return
    note.body_truncated = True
    # Not final: a character the cut splits is left out rather than shown as garbage.
    note.body = codecs.getincrementaldecoder("utf-8")("replace").decode(data[:limit])


def _inflate_head(data: bytes, limit: int) -> bytes:
    """Return up to limit bytes of a gzip body, inflated (the raw bytes if it is not gzip)."""
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, limit)
    except zlib.error:
        return data


def no_empty_segments() -> None:
    """Answer a path with an empty segment ('//') as no route, as '/_emulator//state' is."""
    # Servers, the router and request.path drop leading slashes, so read the path as sent.
    environ = request.environ
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or environ.get("PATH_INFO", "")
    path = raw.partition("?")[0] if raw.startswith("/") else urlsplit(raw).path
    if "//" in path:
        raise EmulatorError(
            "not_found",
            "No such route: the path has an empty segment ('//'); see GET /openapi.json for "
            "the routes the emulator serves.",
            404,
        )


def known_query_only() -> None:
    """Refuse a query parameter an admin route does not declare (its OpenAPI facts list them)."""
    if not request.environ.get("QUERY_STRING") or not request.path.startswith("/_emulator/"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    doc = doc_of(view) if view is not None else None
    if doc is None:
        return
    names = doc.query_names()
    unknown = [k for k in request.args if k not in names and not k.startswith(doc.query_prefixes)]
    if unknown:
        takes = sorted(names) + [p + "<name>" for p in doc.query_prefixes]
        raise EmulatorError(
            "unknown_parameter",
            f"Unknown query parameter {unknown[0][:100]!r}; this route takes "
            + (", ".join(takes) if takes else "no query parameters")
            + ".",
        )


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
            f"Merchant {merchant_id[:140]!r} is not configured; check the Merchant ID against "
            "the emulator's --merchant list.",
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
