"""Computed audiences: define them once, and Engage syncs them on the emulator's clock."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from emulator.computed import check_durations
from emulator.http.clock import engage_journaled, refuse_query
from emulator.http.common import check, emulator, json_body, require_admin_token
from emulator.http.docs import ADMIN_TOKEN, documenter, merchant_param
from emulator.http.engage import KEY, admit, check_key
from emulator.journal import Note

bp = Blueprint("computed", __name__, url_prefix="/_emulator/merchants/<merchant_id>")
documented = documenter(
    response="computed-audience",
    security=ADMIN_TOKEN,
    errors=(400, 401, 404),
    params=(merchant_param(), KEY),
)
ROUTE = "/computed-audiences/<key>"

bp.before_request(require_admin_token)
bp.before_request(refuse_query)


@bp.put(ROUTE)
@documented(
    "Define a computed audience that Engage syncs on the clock",
    request="computed-audience-request",
    errors=(400, 401, 404, 413, 415),
)
def put_audience(merchant_id: str, key: str) -> Response:
    """Define (or redefine) a computed audience; its first sync falls due first_sync_after.

    The answer is the audience, 200 whether it is new or replaced an older definition.
    """
    admit(merchant_id)
    check_key(key)
    body = json_body()
    check_durations(body)  # before the schema, which cannot say what a duration is as plainly
    check("computed-audience-request", body)
    return jsonify(emulator().scheduler.define(merchant_id, key, body))


@bp.get("/computed-audiences")
@documented(
    "A merchant's computed audiences", response="computed-audiences", params=(merchant_param(),)
)
def list_audiences(merchant_id: str) -> Response:
    """List the merchant's computed audiences with their members and next sync."""
    admit(merchant_id)
    return jsonify(computed_audiences=emulator().scheduler.audiences(merchant_id))


@bp.get(ROUTE)
@documented("One computed audience")
def get_audience(merchant_id: str, key: str) -> Response:
    """Show one computed audience."""
    admit(merchant_id)
    return jsonify(emulator().scheduler.audience(merchant_id, check_key(key)))


@bp.delete(ROUTE)
@documented("Remove a computed audience (members keep what they were sent)")
def delete_audience(merchant_id: str, key: str) -> Response:
    """Remove a computed audience; no more syncs, and no calls are sent."""
    admit(merchant_id)
    return jsonify(emulator().scheduler.delete(merchant_id, check_key(key)))


@bp.post(ROUTE + "/sync")
@documented(
    "Run a computed audience's sync now", response="computed-sync", errors=(400, 401, 404, 507)
)
@engage_journaled
def sync_audience(note: Note, merchant_id: str, key: str) -> Response:
    """Run a sync now, off the schedule: send true to who entered and false to who left."""
    note.merchant_id = merchant_id
    admit(merchant_id)
    sync, calls = emulator().scheduler.sync(merchant_id, check_key(key))
    note.summary = f"sync {key}: +{len(sync['entered'])} -{len(sync['exited'])}"
    return jsonify({**sync, "calls": calls})
