"""POST/GET/DELETE /_emulator/faults: rules that make the surfaces fail on purpose."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from emulator.faults import refuse_admin
from emulator.http.common import check, emulator, json_body, require_admin_token
from emulator.http.docs import ADMIN_TOKEN, Param, documenter

bp = Blueprint("faults", __name__, url_prefix="/_emulator")
documented = documenter(security=ADMIN_TOKEN, errors=(400, 401))
FAULT_ID = Param("fault_id", {"type": "string", "minLength": 1}, "The rule's id.", "path", True)

bp.before_request(require_admin_token)


@bp.post("/faults")
@documented(
    "Add a fault rule: matching surface calls are answered in the emulator's place",
    request="fault-request",
    response="fault",
    status=201,
    errors=(400, 401, 413, 415),
)
def add_fault() -> tuple[Response, int]:
    """Add a rule; matching tracker, Segment and Engage calls meet it from now on."""
    body = json_body()
    refuse_admin(body)
    check("fault-request", body)
    return jsonify(fault=emulator().faults.add(body)), 201


@bp.get("/faults")
@documented("The fault rules, oldest first, with their hits", response="faults")
def list_faults() -> Response:
    """List every rule with its hits and remaining calls, and the seed of the draws."""
    return jsonify(emulator().faults.rules())


@bp.delete("/faults")
@documented("Remove every fault rule", response="faults-removed")
def clear_faults() -> Response:
    """Remove every rule."""
    return jsonify(removed=emulator().faults.clear())


@bp.delete("/faults/<fault_id>")
@documented(
    "Remove one fault rule; the answer is the rule as it was, hits and all",
    response="fault",
    params=(FAULT_ID,),
    errors=(400, 401, 404),
)
def remove_fault(fault_id: str) -> Response:
    """Remove one rule by its id; answer with it as it was when removed."""
    return jsonify(fault=emulator().faults.remove(fault_id))
