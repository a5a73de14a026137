"""Wishpond emulator: a local, stateful fake of Wishpond's marketing tracker."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request

__version__ = "0.1.0"

# Paths a browser page on another origin calls; everything else sends no CORS headers.
CORS_PREFIXES = ("/tracker/", "/connect.js")


def create_app(settings: Any = None) -> Flask:
    """Build one isolated emulator app with its own store."""
    from emulator import errors
    from emulator.http import admin, dashboard, meta, segment, tracker
    from emulator.http import engage as engage_http
    from emulator.settings import Settings
    from emulator.state import Emulator

    settings = settings or Settings()
    app = Flask(__name__, static_folder=None)  # each surface serves its own files
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["wishpond_emulator"] = Emulator.build(settings)
    errors.register(app)
    app.register_blueprint(tracker.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(segment.bp)
    app.register_blueprint(engage_http.bp)
    app.register_blueprint(meta.bp)
    app.register_blueprint(dashboard.bp)
    app.after_request(_cors)
    app.after_request(_journal)
    return app


def _surface(path: str) -> str | None:
    if path.startswith("/tracker/"):
        return "tracker"
    if path.startswith("/v1/"):
        return "segment"
    if path.startswith("/_emulator/merchants/") and path.split("/")[4:5] == ["audiences"]:
        return "engage"
    return None


def _cors(response: Response) -> Response:
    if request.path.startswith(CORS_PREFIXES):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def _journal(response: Response) -> Response:
    surface = _surface(request.path)
    if surface is None or request.method == "OPTIONS":
        return response
    from emulator.http.common import emulator

    error = None
    if response.status_code >= 400 and response.is_json:
        error = (response.get_json(silent=True) or {}).get("error")
    emulator().journal.record(
        surface=surface,
        method=request.method,
        path=request.path,
        merchant_id=g.get("merchant_id"),
        status=response.status_code,
        error=error,
        skipped=g.get("skipped", []),
        summary=g.get("summary"),
    )
    return response
