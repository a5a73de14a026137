"""Wishpond's browser tracker surface: /tracker/v1/*."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flask import Blueprint, Response, send_file

from emulator import plans
from emulator.calls import JSON, Call
from emulator.errors import EmulatorError
from emulator.http.common import (
    authenticate,
    check,
    emulator,
    journaled,
    json_body,
    json_response,
)
from emulator.http.docs import documenter
from emulator.http.injection import at_merchant
from emulator.journal import Note

bp = Blueprint("tracker", __name__)
CONNECT_JS = Path(__file__).resolve().parent.parent / "static" / "connect.js"
documented = documenter(
    errors=(400, 401, 413, 415, 422, 507), content_types=("application/json", "text/plain")
)


def _begin(note: Note, schema: str) -> JSON:
    body = json_body(text_plain=True)
    if isinstance(body.get("merchant_id"), str):
        note.merchant_id = body["merchant_id"][:256]  # as sent, even if invalid; bounded
    at_merchant(note)
    check(schema, body)
    authenticate(emulator().settings, body["merchant_id"], body["write_key"])
    return body


def _blocked(kind: str, tracking: plans.Plan, kinds: list[str], found: Sequence[JSON]) -> Exception:
    first = found[0]
    return EmulatorError(
        "blocked_by_tracking_plan",
        f"The {kind} breaks tracking plan {tracking.name!r}, whose settings block "
        f"{', '.join(kinds)} ({first['field']}: {first['message']}), so nothing was applied. "
        "Send what the plan describes, or take the kind out of settings.block.",
        422,
        violations=list(found),
    )


def _apply(note: Note, kind: str, body: JSON, call: Call) -> tuple[JSON | None, JSON | None, bool]:
    """Check the call against the merchant's tracking plan, apply it once, and count it.

    A call whose violations the plan's settings block is refused with 422, applying nothing. A
    call whose message_id the merchant holds applies nothing: the answer is what the first made.
    Return (lead, event, whether the call was such a repeat).
    """
    emu = emulator()
    merchant_id = body["merchant_id"]
    call.message_id = body.get("message_id")
    tracking = emu.plans.plan_for(merchant_id) if kind != "page" else None  # plans: no pages
    checked = None
    if tracking is not None:
        message = plans.tracker_message(kind, body)
        call.violations = found = tracking.check(message)
        checked = [(tracking.label(message), found)]
        blocked = tracking.blocked(found) if found else []
        if found:
            event = body.get("event") if kind == "track" else None
            entry = {"index": 0, "type": kind, "event": event, "blocked": bool(blocked)}
            note.violations = [{**entry, "violations": list(found)}]
        if blocked:
            emu.plans.record(merchant_id, tracking, checked)
            raise _blocked(kind, tracking, blocked, found)
    applied = emu.store.apply(merchant_id, [call])
    if not applied:  # a retry: its first copy was checked, counted and applied already
        note.skipped = [{"reason": "duplicate message_id", "message_id": call.message_id}]
        note.violations = []
        return *emu.store.repeat_of(merchant_id, call), True
    if tracking is not None and checked is not None:
        emu.plans.record(merchant_id, tracking, checked)
    return applied[0][0], applied[0][1], False


def _answer(key: str, value: JSON | None, repeat: bool) -> Response:
    return json_response({key: value, "duplicate": True} if repeat else {key: value})


@bp.post("/tracker/v1/identify")
@documented("Tracker identify", request="tracker-identify", response="identify-response")
@journaled
def identify(note: Note) -> Response:
    """Create or merge a lead."""
    body = _begin(note, "tracker-identify")
    call = Call(
        "identify", body["id"], body.get("anonymous_id"), attributes=body.get("attributes", {})
    )
    lead, _, repeat = _apply(note, "identify", body, call)
    note.summary = f"identify {body['id']}"
    return _answer("lead", lead, repeat)


@bp.post("/tracker/v1/track")
@documented("Tracker track", request="tracker-track", response="track-response")
@journaled
def track(note: Note) -> Response:
    """Log a titled event on the session's lead."""
    body = _begin(note, "tracker-track")
    properties = body.get("properties", {})
    call = Call("track", body.get("id"), body.get("anonymous_id"), body["event"], properties)
    _, event, repeat = _apply(note, "track", body, call)
    note.summary = f"track {body['event']!r}"
    return _answer("event", event, repeat)


@bp.post("/tracker/v1/page")
@documented("Tracker page", request="tracker-page", response="track-response")
@journaled
def page(note: Note) -> Response:
    """Log a page view."""
    body = _begin(note, "tracker-page")
    call = Call("page", body.get("id"), body.get("anonymous_id"), None, body.get("properties", {}))
    _, event, repeat = _apply(note, "page", body, call)
    note.summary = "page"
    return _answer("event", event, repeat)


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
