"""Tracking plans over the admin API: a merchant's plan, and its coverage report."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from emulator import plans
from emulator.errors import EmulatorError
from emulator.http.common import emulator, json_body, merchant_in_path, require_admin_token
from emulator.http.docs import ADMIN_TOKEN, Param, documenter, merchant_param
from emulator.planbook import SINCE

bp = Blueprint("plans", __name__, url_prefix="/_emulator")
documented = documenter(security=ADMIN_TOKEN, errors=(400, 401))
MERCHANT = merchant_param()
PLAN = "/merchants/<merchant_id>/tracking-plan"
SINCE_PARAM = Param(
    "since",
    {"enum": list(SINCE)},
    "reset (default): since each merchant's last reset; start: since the emulator started.",
)

bp.before_request(require_admin_token)
bp.url_value_preprocessor(merchant_in_path)


def _since() -> str:
    # Undeclared query parameters are refused before any view runs (known_query_only).
    since = request.args.get("since", "reset")
    if since not in SINCE:
        raise EmulatorError(
            "invalid_parameter", f"since must be reset or start, got {since[:40]!r}."
        )
    return since


def _state(merchant_id: str) -> Response:
    scope, plan = emulator().plans.scope(merchant_id)
    return jsonify(
        merchant_id=merchant_id, scope=scope, plan=plan.document if plan is not None else None
    )


def _missing(merchant_id: str) -> EmulatorError:
    return EmulatorError(
        "tracking_plan_not_found",
        f"No tracking plan applies to merchant {merchant_id!r}; load one with "
        f"PUT /_emulator/merchants/{merchant_id}/tracking-plan, or start the emulator with "
        "--tracking-plan FILE (WISHPOND_EMULATOR_TRACKING_PLAN).",
        404,
    )


@bp.put(PLAN)
@documented(
    "Give a merchant its own tracking plan",
    request="tracking-plan",
    response="tracking-plan-state",
    errors=(400, 401, 413, 415),
    params=(MERCHANT,),
)
def put_plan(merchant_id: str) -> Response:
    """Load a merchant's own plan, replacing the plan for every merchant for it."""
    plan = plans.parse(json_body())
    emulator().plans.put(merchant_id, plan)
    return _state(merchant_id)


@bp.get(PLAN)
@documented(
    "The tracking plan that applies to a merchant",
    response="tracking-plan-state",
    errors=(400, 401, 404),
    params=(MERCHANT,),
)
def get_plan(merchant_id: str) -> Response:
    """Show the plan that applies to a merchant: its own, or the one for every merchant."""
    if emulator().plans.plan_for(merchant_id) is None:
        raise _missing(merchant_id)
    return _state(merchant_id)


@bp.delete(PLAN)
@documented(
    "Remove a merchant's own tracking plan",
    response="tracking-plan-state",
    params=(MERCHANT,),
)
def delete_plan(merchant_id: str) -> Response:
    """Remove a merchant's own plan; the plan for every merchant, if any, applies again."""
    emulator().plans.remove(merchant_id)
    return _state(merchant_id)


@bp.get(PLAN + "/report")
@documented(
    "A merchant's tracking plan coverage since its last reset",
    response="tracking-plan-report",
    errors=(400, 401, 404),
    params=(MERCHANT, SINCE_PARAM),
)
def report(merchant_id: str) -> Response:
    """Report the planned events seen and unseen, unplanned ones, and violation counts."""
    found = emulator().plans.report(merchant_id, _since())
    if found is None:
        raise _missing(merchant_id)
    return jsonify(found)


@bp.get("/tracking-plans/reports")
@documented(
    "Every merchant's tracking plan coverage",
    response="tracking-plan-reports",
    params=(SINCE_PARAM,),
)
def reports() -> Response:
    """Report the coverage of every merchant whose calls a plan checked."""
    since = _since()
    return jsonify(since=since, reports=emulator().plans.reports(since))
