"""The OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from emulator.http import openapi
from emulator.http.common import emulator
from emulator.http.docs import documenter

bp = Blueprint("meta", __name__)
documented = documenter()


@bp.get("/openapi.json")
@documented("This document", response_types=("application/json",))
def openapi_document() -> Response:
    """Serve the OpenAPI 3.1 document of every route."""
    return jsonify(openapi.build(current_app, emulator().settings.max_wait))
