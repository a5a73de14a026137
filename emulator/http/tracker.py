"""Wishpond's browser tracker surface: /tracker/v1/*."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, send_file

from emulator.calls import JSON
from emulator.http.common import authenticate, check, emulator, journaled, json_body
from emulator.http.docs import documenter
from emulator.journal import Note

bp = Blueprint("tracker", __name__)
CONNECT_JS = Path(__file__).resolve().parent.parent / "static" / "connect.js"
documented = documenter(
    errors=(400, 401, 413, 415, 507), content_types=("application/json", "text/plain")
)


def _begin(note: Note, schema: str) -> JSON:
    body = json_body(text_plain=True)
    if isinstance(body.get("merchant_id"), str):
        note.merchant_id = body["merchant_id"][:256]  # as sent, even if invalid; bounded
    check(schema, body)
    authenticate(emulator().settings, body["merchant_id"], body["write_key"])
    return body


@bp.post("/tracker/v1/identify")
@documented("Tracker identify", request="tracker-identify", response="identify-response")
@journaled
def identify(note: Note) -> Response:
    """Create or merge a lead."""
    body = _begin(note, "tracker-identify")
    lead = emulator().store.identify(
        body["merchant_id"], body["id"], body.get("attributes", {}), body.get("anonymous_id")
    )
    note.summary = f"identify {body['id']}"
    return jsonify({"lead": lead})


@bp.post("/tracker/v1/track")
@documented("Tracker track", request="tracker-track", response="track-response")
@journaled
def track(note: Note) -> Response:
    """Log a titled event on the session's lead."""
    body = _begin(note, "tracker-track")
    event = emulator().store.track(
        body["merchant_id"],
        body["event"],
        body.get("properties", {}),
        body.get("anonymous_id"),
        body.get("id"),
    )
    note.summary = f"track {body['event']!r}"
    return jsonify({"event": event})


@bp.post("/tracker/v1/page")
@documented("Tracker page", request="tracker-page", response="track-response")
@journaled
def page(note: Note) -> Response:
    """Log a page view."""
    body = _begin(note, "tracker-page")
    event = emulator().store.page(
        body["merchant_id"], body.get("properties", {}), body.get("anonymous_id"), body.get("id")
    )
    note.summary = "page"
    return jsonify({"event": event})


@bp.get("/connect.js")
@documented(
    "The browser tracker script", errors=(), content_types=(), response_types=("text/javascript",)
)
def connect_js() -> Response:
    """Serve the browser tracker script."""
    response = send_file(CONNECT_JS, mimetype="text/javascript", conditional=True, max_age=None)
    # Revalidate every load (cheap, ETag/304) so an upgraded emulator is never shadowed by a cache.
    response.headers["Cache-Control"] = "no-cache"
    return response
