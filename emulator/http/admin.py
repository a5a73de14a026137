"""The admin and inspection API under /_emulator."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from emulator import __version__, snapshot
from emulator.calls import EVENT_TYPES, OUTCOMES, SURFACES
from emulator.errors import EmulatorError
from emulator.http.common import emulator, json_body, merchant_in_path, require_admin_token
from emulator.http.docs import ADMIN_TOKEN, MAX_WAIT, Param, documenter, enum_param, merchant_param
from emulator.limits import STATE_DEPTH

bp = Blueprint("admin", __name__, url_prefix="/_emulator")
documented = documenter(security=ADMIN_TOKEN, errors=(400, 401))
MERCHANT = merchant_param()

bp.before_request(require_admin_token)
bp.url_value_preprocessor(merchant_in_path)


def _query() -> dict[str, str]:
    # Every route's undeclared parameters are refused before the view runs (known_query_only).
    return request.args.to_dict()


def _int(args: dict[str, str], name: str, default: int = 0) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise EmulatorError(
            "invalid_parameter", f"{name} must be a whole number >= 0, got {raw[:40]!r}."
        )
    return value


def _bool(name: str, raw: str) -> bool:
    if raw.lower() not in ("true", "false"):
        raise EmulatorError("invalid_parameter", f"{name} must be true or false, got {raw[:40]!r}.")
    return raw.lower() == "true"


def _long_poll_params(what: str) -> tuple[Param, Param]:
    return (
        Param(
            "wait",
            {"type": "number", "minimum": 0, "maximum": MAX_WAIT},
            f"Long-poll: wait up to this many seconds for min_count {what}.",
        ),
        Param(
            "min_count",
            {"type": "integer", "minimum": 0},
            f"Long-poll: return once this many {what} match (default 1).",
        ),
    )


@bp.get("/health")
@documented("Readiness and version", response="health")
def health() -> Response:
    """Report readiness and the version."""
    emu = emulator()
    return jsonify(
        status="ok",
        version=__version__,
        mode="strict" if emu.settings.strict else "open",
        segment_responses=emu.settings.segment_responses,
        total_events=emu.store.total_events,
        max_events=emu.store.max_events,
        durable=emu.store.durable,
    )


def _merchant_rows() -> list[dict[str, Any]]:
    emu = emulator()
    rows = {m["id"]: {**m, "configured": False} for m in emu.store.merchants()}
    for mid in emu.settings.merchants:
        rows.setdefault(mid, {"id": mid, "lead_count": 0, "visitor_count": 0, "event_count": 0})[
            "configured"
        ] = True
    return [rows[k] for k in sorted(rows)]


@bp.get("/merchants")
@documented("Merchants with counts", response="merchants")
def merchants() -> Response:
    """List merchants with their counts, configured ones included."""
    return jsonify(merchants=_merchant_rows())


@bp.get("/merchants/<merchant_id>/leads")
@documented(
    "A merchant's leads",
    response="leads",
    params=(
        MERCHANT,
        Param("email", {"type": "string"}, "Only leads with this email (case-insensitive)."),
    ),
    extra={"x-filters": "attribute.<name>=<value> and audience.<key>=true|false also filter."},
    query_prefixes=("attribute.", "audience."),
)
def leads(merchant_id: str) -> Response:
    """List leads, filtered by email, attribute.<name> and audience.<key>."""
    args = _query()
    attributes = {k[len("attribute.") :]: v for k, v in args.items() if k.startswith("attribute.")}
    audiences = {
        k[len("audience.") :]: _bool(k, v) for k, v in args.items() if k.startswith("audience.")
    }
    found = emulator().store.leads(merchant_id, args.get("email"), attributes, audiences)
    return jsonify(leads=found)


@bp.get("/merchants/<merchant_id>/leads/<path:lead_id>")
@documented(
    "One lead with its events and audience history",
    response="lead-detail",
    errors=(400, 401, 404),
    params=(
        MERCHANT,
        Param("lead_id", {"type": "string", "minLength": 1}, "The lead's id.", "path", True),
    ),
)
def lead(merchant_id: str, lead_id: str) -> Response:
    """Show one lead with its events and audience history."""
    return jsonify(emulator().store.lead(merchant_id, lead_id))


@bp.get("/merchants/<merchant_id>/events")
@documented(
    "A merchant's events",
    response="events",
    params=(
        MERCHANT,
        Param("lead_id", {"type": "string"}, "Only events of this lead."),
        enum_param("type", "event_type", "Only events of this type."),
        Param("event", {"type": "string"}, "Only track events with this title."),
        Param("after_seq", {"type": "integer", "minimum": 0}, "Only events after this seq."),
        *_long_poll_params("events"),
    ),
)
def events(merchant_id: str) -> Response:
    """List events; with wait, long-poll until min_count match."""
    args = _query()
    kind = args.get("type")
    if kind is not None and kind not in EVENT_TYPES:
        raise EmulatorError(
            "invalid_parameter", f"type must be one of {', '.join(EVENT_TYPES)}, got {kind!r}."
        )
    found = emulator().store.events(
        merchant_id,
        lead_id=args.get("lead_id"),
        type=kind,
        event=args.get("event"),
        after_seq=_int(args, "after_seq"),
        min_count=_int(args, "min_count", 1),
        wait=_wait(args),
    )
    return jsonify(events=found)


def _wait(args: dict[str, str]) -> float:
    if "wait" not in args:
        return 0.0
    try:
        wait = float(args["wait"])
    except ValueError:
        wait = -1.0
    limit = emulator().settings.max_wait
    if not 0 <= wait <= limit:  # NaN fails too
        raise EmulatorError(
            "invalid_parameter",
            f"wait must be a number of seconds from 0 to {limit:g}, got {args['wait'][:40]!r}.",
        )
    return wait


@bp.delete("/merchants/<merchant_id>")
@documented("Reset one merchant", response="reset", params=(MERCHANT,))
def reset_merchant(merchant_id: str) -> Response:
    """Forget one merchant's leads, visitors, events and request journal entries."""
    emu = emulator()
    emu.store.reset(merchant_id)
    emu.journal.forget(merchant_id)
    emu.plans.forget(merchant_id)
    return jsonify(reset=merchant_id)


@bp.post("/reset")
@documented("Reset every merchant, the journal and the fault rules", response="reset")
def reset_all() -> Response:
    """Forget every merchant, the request journal and the fault rules; configuration stays."""
    emu = emulator()
    emu.store.reset()
    emu.journal.clear()
    emu.plans.clear()
    emu.faults.clear(reseed=True)
    return jsonify(reset="all")


@bp.get("/state")
@documented("Export the whole state", response="state")
def export_state() -> Response:
    """Export the whole state as one JSON document."""
    return jsonify(emulator().store.export())


@bp.put("/state")
@documented(
    "Import a state document",
    response="merchants",
    request="state",
    errors=(400, 401, 413, 415, 507),
    params=(
        Param(
            "mode",
            {"enum": ["replace", "merge"]},
            "replace (default) forgets everything first; merge replaces only the named merchants.",
        ),
    ),
)
def import_state() -> Response:
    """Replace the state (or, with mode=merge, the merchants named) from a document."""
    args = _query()
    mode = args.get("mode", "replace")
    if mode not in ("replace", "merge"):
        raise EmulatorError("invalid_parameter", f"mode must be replace or merge, got {mode!r}.")
    body = json_body(depth=STATE_DEPTH)
    body = snapshot.admit(body, nesting_checked=True)  # json_body checked it to STATE_DEPTH
    emulator().store.load(body, replace=mode == "replace")
    return jsonify(merchants=_merchant_rows())


@bp.get("/requests")
@documented(
    "The request journal",
    response="journal",
    params=(
        enum_param("surface", "surface", "Only this surface."),
        Param("merchant_id", {"type": "string"}, "Only calls for this merchant."),
        enum_param("outcome", "outcome", "Only this outcome."),
        Param("after_id", {"type": "integer", "minimum": 0}, "Only entries after this id."),
        *_long_poll_params("entries"),
    ),
)
def journal() -> Response:
    """Show the request journal, newest last; with wait, long-poll until min_count match."""
    args = _query()
    surface = args.get("surface")
    if surface is not None and surface not in SURFACES:
        raise EmulatorError(
            "invalid_parameter", f"surface must be one of {', '.join(SURFACES)}, got {surface!r}."
        )
    outcome = args.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        raise EmulatorError(
            "invalid_parameter", f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}."
        )
    wait, min_count = _wait(args), _int(args, "min_count", 1)
    text = emulator().journal.render(
        surface,
        args.get("merchant_id"),
        outcome,
        _int(args, "after_id"),
        min_count=min_count if wait else 0,
        wait=wait,
    )
    return Response(text, mimetype="application/json")
