"""Segment's HTTP Tracking API: /v1/*, through the Wishpond destination mapping."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

import contract
from emulator import destination, engage
from emulator.errors import EmulatorError
from emulator.http.common import check, emulator, json_body
from emulator.model import Call
from emulator.settings import Settings, valid_id

bp = Blueprint("segment", __name__, url_prefix="/v1")

MAX_MESSAGE = 32 * 1024  # Segment: 32 KB per message
MAX_REQUEST = 500 * 1024  # Segment: 500 KB per request (after decompression)
SINGLE = ("identify", "track", "page", "screen", "group", "alias")
JSON = dict[str, Any]


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress a gzip body, refusing to produce more than limit bytes."""
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            raise EmulatorError(
                "invalid_gzip",
                f"Content-Encoding is gzip but the body is not valid gzip ({exc}); "
                "compress the JSON with gzip, or drop the header.",
            ) from None
        if len(out) > limit:
            raise EmulatorError(
                "request_too_large",
                f"The gzip body inflates to more than {limit} bytes; Segment accepts at most "
                f"{MAX_REQUEST} bytes (500 KB) per request. Send fewer messages per batch.",
            )
        if not inflater.eof:
            raise EmulatorError(
                "invalid_gzip", "The gzip body is truncated; send the complete gzip stream."
            )
        data = inflater.unused_data.lstrip(b"\x00")
    return bytes(out)


def _raw_body() -> bytes:
    data = request.get_data(cache=True)
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding == "gzip":
        data = gunzip(data, MAX_REQUEST)
    elif encoding not in ("", "identity"):
        raise EmulatorError(
            "unsupported_content_encoding",
            f"Content-Encoding {encoding!r} is not supported; send gzip or an uncompressed body.",
            415,
        )
    if len(data) > MAX_REQUEST:
        raise EmulatorError(
            "request_too_large",
            f"The request is {len(data)} bytes; Segment accepts at most {MAX_REQUEST} bytes "
            "(500 KB) per request. Send fewer messages per batch.",
        )
    return data


def _write_key(body: JSON) -> str | None:
    if request.headers.get("Authorization", "")[:6].lower() == "basic ":
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            raise EmulatorError(
                "invalid_write_key",
                "The Authorization header carries no usable write key: send 'Basic ' and the "
                "base64 of 'WRITE_KEY:' (the write key, a colon, an empty password).",
                401,
            )
        return auth.username
    key = body.get("writeKey")
    return key if isinstance(key, str) and key else None


def route(settings: Settings, write_key: str | None) -> str:
    """Return the merchant a write key's source is connected to."""
    configured = bool(settings.sources or settings.merchants)
    if write_key is None:
        raise EmulatorError(
            "invalid_write_key",
            "The request carries no write key; send it as the HTTP Basic user name "
            "(empty password) or as writeKey in the body.",
            401,
        )
    merchant_id = settings.sources.get(write_key)
    if merchant_id is not None:
        return merchant_id
    shown = write_key if len(write_key) <= 64 else write_key[:64] + "..."
    if configured:
        raise EmulatorError(
            "invalid_write_key",
            f"Write key {shown!r} is not a configured Segment source; connect it to a merchant "
            f"with --source {shown}:MERCHANT_ID (or WISHPOND_EMULATOR_SOURCES).",
            401,
        )
    if not valid_id(write_key):
        raise EmulatorError(
            "unusable_write_key",
            f"In open mode a write key names its merchant, and {shown!r} is not a usable "
            "merchant id (1-128 letters, digits, '.', '_', '~' or '-'). Use such a key, or "
            "map it with --source WRITE_KEY:MERCHANT_ID.",
        )
    return write_key


def _size(message: Any) -> int:
    return len(
        json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    )


def plan(messages: Sequence[Any]) -> tuple[list[Call], list[JSON]]:
    """Check every message and map it; raise one 400 listing each bad message."""
    calls: list[Call] = []
    skipped: list[JSON] = []
    errors: list[JSON] = []
    for index, message in enumerate(messages):
        size = _size(message)
        try:
            if size > MAX_MESSAGE:
                raise engage.MessageError(
                    "(message)",
                    f"message is {size} bytes; Segment accepts at most {MAX_MESSAGE} bytes "
                    "(32 KB) per message.",
                )
            contract.validate("segment-message", message)
            mapped = engage.to_call(message)
        except contract.ContractError as exc:
            field = "(message)" if exc.field == "(body)" else exc.field
            errors.append({"index": index, "field": field, "message": str(exc)})
            continue
        except engage.MessageError as exc:
            errors.append({"index": index, "field": exc.field, "message": str(exc)})
            continue
        if isinstance(mapped, destination.Skip):
            skipped.append({"index": index, "type": mapped.type, "reason": mapped.reason})
            continue
        calls.append(mapped)
        note = engage.ignored_toggle(message)
        if note is not None:
            skipped.append({"index": index, "type": "identify", "reason": note})
    if errors:
        detail = "; ".join(f"message {e['index']}: {e['message'].rstrip('.')}" for e in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise EmulatorError(
            "invalid_batch",
            f"{len(errors)} of {len(messages)} messages are invalid, so nothing was applied: "
            f"{detail}{more}.",
            errors=errors,
        )
    return calls, skipped


def _summary(calls: list[Call], skipped: list[JSON]) -> str:
    parts = [f"{c.type} {c.event!r}" if c.event else f"{c.type} {c.lead_id}" for c in calls[:3]]
    if len(calls) > 3:
        parts.append(f"+{len(calls) - 3} more")
    if skipped:
        parts.append(f"{len(skipped)} skipped")
    return ", ".join(parts) or "nothing applied"


def _begin(schema: str, kind: str | None = None) -> JSON:
    """Read the body, route its write key to a merchant, and check it against schema."""
    body = json_body(text_plain=True, data=_raw_body())
    g.merchant_id = route(emulator().settings, _write_key(body))
    if kind is not None:
        body.setdefault("type", kind)
        check(schema, body)
    elif isinstance(body.get("batch"), list):
        # The envelope only: plan() checks each message and lists every bad one by index.
        check(schema, {**body, "batch": []})
    else:
        check(schema, body)
    return body


def _ingest(messages: list[Any]) -> Response:
    calls, skipped = plan(messages)
    g.skipped = skipped
    emulator().store.apply(g.merchant_id, calls, answer=False)
    g.summary = _summary(calls, skipped)
    return jsonify(success=True)


@bp.post("/batch")
@bp.post("/import")
def batch() -> Response:
    """Apply a batch of Segment messages, all or nothing."""
    body = _begin("segment-batch")
    shared = body.get("context") or {}
    messages = [
        {**m, "context": {**shared, **(m.get("context") or {})}}
        if shared and isinstance(m, dict) and isinstance(m.get("context") or {}, dict)
        else m  # anything else is left for the message schema to report
        for m in body["batch"]
    ]
    return _ingest(messages)


def _single_view(kind: str) -> Any:
    def view() -> Response:
        body = _begin(f"segment-{kind}", kind)
        return _ingest([{k: v for k, v in body.items() if k != "writeKey"}])

    view.__doc__ = f"Apply one Segment {kind} message."
    return view


for _kind in SINGLE:
    bp.add_url_rule(f"/{_kind}", _kind, _single_view(_kind), methods=["POST"])
