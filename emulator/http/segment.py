"""Segment's HTTP Tracking API: /v1/*, answered as Segment does, through the Wishpond mapping."""

from __future__ import annotations

import zlib
from typing import Any

from flask import Blueprint, Response, request

from emulator import ingest
from emulator.calls import JSON
from emulator.errors import EmulatorError
from emulator.http.common import check, emulator, journaled, json_body, json_response
from emulator.http.docs import SEGMENT_WRITE_KEY, documenter
from emulator.http.injection import at_merchant
from emulator.journal import Note
from emulator.settings import Settings, valid_id

bp = Blueprint("segment", __name__, url_prefix="/v1")
documented = documenter(
    response="segment-response",
    errors=(400, 401, 413, 415, 507),
    security=SEGMENT_WRITE_KEY,
    content_types=("application/json", "text/plain"),
    error_schema="segment-error",
    success_headers={
        "Wishpond-Emulator-Dropped": {
            "description": "How many messages of the request were dropped, when any were.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    extra={
        "description": "As Segment answers (--segment-responses faithful, the default), a "
        "message that breaks the request schema is dropped alone with 200, counted in the "
        "Wishpond-Emulator-Dropped header and listed in the request journal's drops; with "
        "--segment-responses strict it rejects the whole request with 400."
    },
)

MAX_REQUEST = 500 * 1024  # Segment: 500 KB per request (after decompression)
SINGLE = ("identify", "track", "page", "screen", "group", "alias")
# analytics.js posts to the first letter of the call's type.
SHORT = {"identify": "i", "track": "t", "page": "p", "screen": "s", "group": "g", "alias": "a"}
DROPPED_HEADER = "Wishpond-Emulator-Dropped"


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


def _route(note: Note, settings: Settings, body: JSON) -> str | None:
    """Route the write key to its merchant; return why the messages are dropped if it can't.

    A well-formed key no source has is dropped with 200 by a faithful surface, as Segment does;
    strict answers 401. No key, or one open mode cannot use, is refused in both.
    """
    key = _write_key(body)
    try:
        note.merchant_id = route(settings, key)
    except EmulatorError as exc:
        if key is None or exc.status != 401 or settings.segment_responses == "strict":
            raise
        return exc.message
    return None


def _answer(dropped: int) -> Response:
    response = json_response({"success": True})
    if dropped:
        response.headers[DROPPED_HEADER] = str(dropped)
    return response


def _drop_all(note: Note, messages: list[Any], reason: str) -> Response:
    note.drops = [ingest.drop(i, m, reason) for i, m in enumerate(messages)]
    note.summary = f"{len(messages)} dropped"
    return _answer(len(messages))


def _handle(note: Note, kind: str | None) -> Response:
    """Read, route and check one request, then deliver what it carries (kind None: a batch)."""
    # The receive time on the app's clock: every received_at and corrected timestamp of the call.
    now = emulator().clock.now()
    settings = emulator().settings
    strict = settings.segment_responses == "strict"
    data = _raw_body()
    body = json_body(text_plain=True, data=data)
    unrouted = _route(note, settings, body)
    at_merchant(note)
    if kind is None:
        # The envelope only: ingest checks each message and lists every bad one by index.
        check(
            "segment-batch", {**body, "batch": []} if isinstance(body.get("batch"), list) else body
        )
        messages = ingest.batch_messages(body)
    else:
        if "writeKey" in body:  # the envelope of a single call: its write key, as a batch's
            check("segment-batch", {"batch": [], "writeKey": body["writeKey"]})
        messages = [{"type": kind, **{k: v for k, v in body.items() if k != "writeKey"}}]
    if unrouted is not None:
        return _drop_all(note, messages, unrouted)
    if len(messages) > ingest.MAX_BATCH:
        reason = (
            f"The batch holds {len(messages)} messages; Segment accepts at most "
            f"{ingest.MAX_BATCH:,} per batch and drops every message of a larger one. "
            "Send smaller batches."
        )
        answer = _drop_all(note, messages, reason)
        if strict:
            raise EmulatorError("too_many_messages", reason)
        return answer
    assert note.merchant_id is not None
    tracking = emulator().plans.plan_for(note.merchant_id)
    plan = ingest.plan(
        messages,
        len(data),
        now=now,
        sent_at=body.get("sentAt") if kind is None else None,
        schema="segment-message" if kind is None else f"segment-{kind}",
        tracking=tracking,
    )
    note.drops = plan.drops
    refusal = plan.refusal(strict)
    if refusal is not None:
        raise refusal
    repeats = emulator().store.deliver(note.merchant_id, plan.entries, now=now)
    note.skipped, note.summary = plan.settle(repeats)
    if tracking is not None:
        note.violations, checked = plan.verdicts(repeats)
        emulator().plans.record(note.merchant_id, tracking, checked)
    return _answer(len(plan.drops))


@bp.post("/batch")
@bp.post("/import")
@bp.post("/b")
@documented(
    "Segment batch: valid messages applied, invalid ones dropped (strict: all or none)",
    request="segment-batch",
)
@journaled
def batch(note: Note) -> Response:
    """Apply a batch of Segment messages: each valid one, or (strict) all or nothing."""
    return _handle(note, None)


def _single_view(kind: str) -> Any:
    @documented(f"Segment {kind}", request=f"segment-{kind}")
    @journaled
    def view(note: Note) -> Response:
        return _handle(note, kind)

    view.__doc__ = f"Apply one Segment {kind} message."
    return view


for _kind in SINGLE:
    _view = _single_view(_kind)
    bp.add_url_rule(f"/{_kind}", _kind, _view, methods=["POST"])
    bp.add_url_rule(f"/{SHORT[_kind]}", _kind, _view, methods=["POST"])
