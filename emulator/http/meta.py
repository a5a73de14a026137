"""The OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from emulator import openapi
from emulator.http.common import emulator

bp = Blueprint("meta", __name__)


@bp.get("/openapi.json")
def openapi_document() -> Response:
    """Serve the OpenAPI 3.1 document of every route."""
    return jsonify(openapi.build(emulator().settings.max_wait))
