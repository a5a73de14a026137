"""GET/POST /_emulator/clock: read the emulator's clock, and move it forward to run due syncs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator.clock import duration, format_duration, parse_time
from emulator.errors import EmulatorError
from emulator.http.common import check, emulator, journaled, json_body, require_admin_token
from emulator.http.docs import ADMIN_TOKEN, documenter
from emulator.journal import Note

bp = Blueprint("clock", __name__, url_prefix="/_emulator")
documented = documenter(security=ADMIN_TOKEN, errors=(400, 401, 413, 415))


def refuse_query() -> None:
    """Refuse any query parameter: these routes take none."""
    if request.args:
        name = next(iter(request.args))
        raise EmulatorError(
            "unknown_parameter",
            f"Unknown query parameter {name[:100]!r}; this route takes no query parameters.",
        )


bp.before_request(require_admin_token)
bp.before_request(refuse_query)


def run_due_syncs() -> None:
    """Before any request (the app's hook calls it), run the syncs that real time made due.

    POST /clock runs them itself, so that its answer lists them.
    """
    if request.endpoint != "clock.move_clock":
        emulator().scheduler.run_due()


def engage_journaled(view: Callable[..., Response]) -> Callable[..., Response]:
    """Journal a view as a call on the Engage surface: it emits Engage's identifies."""

    @functools.wraps(view)
    def call(note: Note, **kwargs: Any) -> Response:
        note.surface = "engage"
        return view(note, **kwargs)

    return journaled(call)


def _negative(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().startswith("-")
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0


@bp.get("/clock")
@documented("The emulator's clock", response="clock")
def get_clock() -> Response:
    """Show the clock's time and how far it is ahead of real time."""
    return jsonify(emulator().clock.to_json())


@bp.post("/clock")
@documented(
    "Move the clock forward and run every sync that falls due",
    request="clock-move",
    response="clock-moved",
    errors=(400, 401, 413, 415, 507),
)
@engage_journaled
def move_clock(note: Note) -> Response:
    """Advance the clock by a duration, or set it to a later time; run the due syncs in order."""
    body = json_body()
    scheduler = emulator().scheduler
    if "advance" in body:
        field = "advance"
        if _negative(body["advance"]):
            raise EmulatorError(
                "clock_backwards",
                f"advance {body['advance']!r} is negative; the clock only moves forward. "
                "Advance by a duration >= 0, like '6h'.",
                field=field,
            )
        ms = duration(body[field], field, 0)
        check("clock-move", body)
        clock, syncs = scheduler.move_clock(field, by=ms)
        note.summary = f"advance {format_duration(ms)}"
    else:
        check("clock-move", body)
        field, given = "set", parse_time(body["set"])
        if given is None:
            raise EmulatorError(
                "invalid_time",
                f"set {body['set']!r} is not an ISO-8601 time; send one like "
                "'2030-01-01T09:00:00Z'.",
                field=field,
            )
        clock, syncs = scheduler.move_clock(field, to=given)
        note.summary = f"set {body['set']}"
    note.summary += f": {len(syncs)} sync(s)"
    return jsonify({**clock, "syncs": syncs})
