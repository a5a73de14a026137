"""Wishpond's browser tracker surface: /tracker/v1/*."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, g, jsonify, send_file

from emulator.http.common import authenticate, check, emulator, json_body

bp = Blueprint("tracker", __name__)
CONNECT_JS = Path(__file__).resolve().parent.parent / "static" / "connect.js"


def _begin(schema: str) -> dict:  # type: ignore[type-arg]
    body = json_body(text_plain=True)
    if isinstance(body.get("merchant_id"), str):
        g.merchant_id = body["merchant_id"][:256]  # as sent, even if invalid; bounded
    check(schema, body)
    authenticate(emulator().settings, body["merchant_id"], body["write_key"])
    return body


@bp.post("/tracker/v1/identify")
def identify() -> Response:
    """Create or merge a lead."""
    body = _begin("tracker-identify")
    lead = emulator().store.identify(
        body["merchant_id"], body["id"], body.get("attributes", {}), body.get("anonymous_id")
    )
    g.summary = f"identify {body['id']}"
    return jsonify({"lead": lead})


@bp.post("/tracker/v1/track")
def track() -> Response:
    """Log a titled event on the session's lead."""
    body = _begin("tracker-track")
    event = emulator().store.track(
        body["merchant_id"],
        body["event"],
        body.get("properties", {}),
        body.get("anonymous_id"),
        body.get("id"),
    )
    g.summary = f"track {body['event']!r}"
    return jsonify({"event": event})


@bp.post("/tracker/v1/page")
def page() -> Response:
    """Log a page view."""
    body = _begin("tracker-page")
    event = emulator().store.page(
        body["merchant_id"], body.get("properties", {}), body.get("anonymous_id"), body.get("id")
    )
    g.summary = "page"
    return jsonify({"event": event})


@bp.get("/connect.js")
def connect_js() -> Response:
    """Serve the browser tracker script."""
    response = send_file(CONNECT_JS, mimetype="text/javascript", conditional=True, max_age=None)
    # Revalidate every load (cheap, ETag/304) so an upgraded emulator is never shadowed by a cache.
    response.headers["Cache-Control"] = "no-cache"
    return response
