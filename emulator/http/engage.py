"""The Engage simulator: drive Segment Engage audience syncs from tests."""

from __future__ import annotations

import threading
import uuid
from typing import Any, cast

from flask import Blueprint, Response, current_app, g, jsonify

import contract
from emulator import engage
from emulator.errors import EmulatorError
from emulator.http.common import emulator, json_body, merchant_in_path, require_admin_token
from emulator.model import Call, utc_now

bp = Blueprint("engage", __name__, url_prefix="/_emulator")
bp.before_request(require_admin_token)
bp.url_value_preprocessor(merchant_in_path)


def _lock() -> threading.Lock:
    """Return the app's sync lock, so two syncs of one app never diff the same state."""
    return cast(
        threading.Lock, current_app.extensions.setdefault("wishpond_engage", threading.Lock())
    )


def _merchant(merchant_id: str) -> str:
    settings = emulator().settings
    if settings.strict and merchant_id not in settings.merchants:
        raise EmulatorError(
            "unknown_merchant",
            f"Merchant {merchant_id!r} is not configured; the emulator knows "
            f"{', '.join(sorted(settings.merchants))}.",
            404,
        )
    return merchant_id


def _key(key: str) -> str:
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


def _sync(merchant_id: str, key: str, name: str | None, members: list[str]) -> Response:
    store = emulator().store
    with _lock():
        previous = [lead["id"] for lead in store.leads(merchant_id, audiences={key: True})]
        first = not previous and not store.leads(merchant_id, audiences={key: False})
        result = engage.sync(key, previous, members, first)
        now = utc_now()
        for message in result.messages:
            message["messageId"] = f"engage-{uuid.uuid4()}"
            message["timestamp"] = now
        calls = [engage.to_call(m) for m in result.messages]
        store.apply(merchant_id, [c for c in calls if isinstance(c, Call)])
    g.summary = f"sync {key}: +{len(result.joined)} -{len(result.left)}"
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
def put_audience(merchant_id: str, key: str) -> Response:
    """Sync an audience's complete membership; emit Engage's identify calls."""
    _merchant(merchant_id)
    _key(key)
    body: dict[str, Any] = json_body("engage-sync")
    return _sync(merchant_id, key, body.get("name"), body["members"])


@bp.post("/merchants/<merchant_id>/audiences")
def post_audience(merchant_id: str) -> Response:
    """Sync an audience whose key defaults to the snake_cased name."""
    _merchant(merchant_id)
    body: dict[str, Any] = json_body("engage-create")
    key = body.get("key") or engage.audience_key(body["name"])
    if not key:
        raise EmulatorError(
            "invalid_request",
            f"name {body['name']!r} has no letters or digits to make an audience key from; "
            "send key explicitly (letters, digits and underscores).",
            field="key",
        )
    return _sync(merchant_id, _key(key), body["name"], body["members"])
