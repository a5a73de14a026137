"""The Engage simulator: drive Segment Engage audience syncs from tests."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

import contract
from emulator import engage
from emulator.errors import EmulatorError
from emulator.http.common import (
    check_merchant_id,
    emulator,
    journaled,
    json_body,
    require_admin_token,
)
from emulator.http.docs import ADMIN_TOKEN, Param, documenter, merchant_param
from emulator.http.injection import at_merchant
from emulator.journal import Note

bp = Blueprint("engage", __name__, url_prefix="/_emulator")
documented = documenter(
    response="engage-sync-response",
    security=ADMIN_TOKEN,
    errors=(400, 401, 404, 413, 415, 507),
)
KEY = Param(
    "key",
    {"$ref": "#/components/schemas/engage-audience-key"},
    "The audience key (the trait name).",
    "path",
    True,
)


def admit(merchant_id: str) -> str:
    """Admit an Engage call (admin token, usable merchant id) and return the merchant id."""
    check_merchant_id(merchant_id)
    require_admin_token()
    settings = emulator().settings
    if settings.strict and merchant_id not in settings.merchants:
        raise EmulatorError(
            "unknown_merchant",
            f"Merchant {merchant_id!r} is not configured; configure it with --merchant "
            f"{merchant_id}:KEY, or check the id against GET /_emulator/merchants.",
            404,
        )
    return merchant_id


def _merchant(note: Note, merchant_id: str) -> str:
    note.merchant_id = merchant_id
    admit(merchant_id)
    at_merchant(note)
    return merchant_id


def check_key(key: str) -> str:
    """Return an audience key, or raise a 400 saying what a key may hold."""
    try:
        contract.validate("engage-audience-key", key)
    except contract.ContractError:
        raise EmulatorError(
            "invalid_audience_key",
            f"Audience key {key[:140]!r} is not usable; use 1-128 letters, digits or "
            "underscores, e.g. order_completed_last_30days.",
            field="key",
        ) from None
    return key


def _sync(note: Note, key: str, name: str | None, members: list[str]) -> Response:
    merchant_id = note.merchant_id
    assert merchant_id is not None
    result = emulator().scheduler.sync_members(merchant_id, key, members)
    note.skipped, note.violations = result.skipped, result.violations
    note.summary = f"sync {key}: +{len(result.joined)} -{len(result.left)}"
    return jsonify(
        merchant_id=merchant_id,
        key=key,
        name=name or key,
        first_sync=result.first,
        members=len(result.members),
        joined=result.joined,
        left=result.left,
        calls=result.messages,
    )


@bp.put("/merchants/<merchant_id>/audiences/<key>")
@documented(
    "Sync an Engage audience's members", request="engage-sync", params=(merchant_param(), KEY)
)
@journaled
def put_audience(note: Note, merchant_id: str, key: str) -> Response:
    """Sync an audience's complete membership; emit Engage's identify calls."""
    _merchant(note, merchant_id)
    check_key(key)
    body: dict[str, Any] = json_body("engage-sync")
    return _sync(note, key, body.get("name"), body["members"])


@bp.post("/merchants/<merchant_id>/audiences")
@documented(
    "Sync an Engage audience keyed by its snake_cased name",
    request="engage-create",
    params=(merchant_param(),),
)
@journaled
def post_audience(note: Note, merchant_id: str) -> Response:
    """Sync an audience whose key defaults to the snake_cased name."""
    _merchant(note, merchant_id)
    body: dict[str, Any] = json_body("engage-create")
    key = body.get("key") or engage.audience_key(body["name"])
    if not key:
        raise EmulatorError(
            "invalid_request",
            f"name {body['name']!r} has no letters or digits to make an audience key from; "
            "send key explicitly (letters, digits and underscores).",
            field="key",
        )
    return _sync(note, check_key(key), body["name"], body["members"])
