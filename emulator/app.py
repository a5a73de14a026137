"""The Flask app factory: surfaces, JSON errors, and CORS for what browsers post to."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from flask import Flask
from flask.json.provider import DefaultJSONProvider

# Paths a browser page on another origin calls; everything else sends no CORS headers.
CORS_PREFIXES = ("/tracker/", "/connect.js")
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type"),
    # connect.js waits as long as a 429 asks.
    ("Access-Control-Expose-Headers", "Retry-After"),
    ("Access-Control-Max-Age", "600"),
)
# Segment's API, where analytics.js posts: a page may also send the key as Basic auth, gzip,
# and read how many messages were dropped.
SEGMENT_PREFIX = "/v1/"
SEGMENT_CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type, Authorization, Content-Encoding"),
    ("Access-Control-Expose-Headers", "Wishpond-Emulator-Dropped, Retry-After"),
    ("Access-Control-Max-Age", "600"),
)
# Segment's libraries read an error's code and message at the top level of the body.
FLAT_ERROR_PREFIXES = (SEGMENT_PREFIX,)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, keeping key order and one encoder instead of one per response."""

    sort_keys = False
    # What response() asks for outside debug mode.
    _COMPACT: ClassVar[dict[str, Any]] = {"separators": (",", ":")}

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self._compact = json.JSONEncoder(
            default=self.default, ensure_ascii=self.ensure_ascii, sort_keys=False, **self._COMPACT
        ).encode

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise obj; only other options build a new encoder."""
        return self._compact(obj) if kwargs == self._COMPACT else super().dumps(obj, **kwargs)


def build(settings: Any = None) -> Flask:
    """Build one isolated emulator app with its own store."""
    from emulator import errors
    from emulator.http import admin, common, dashboard, guard, meta, segment, tracker
    from emulator.http import clock as clock_http
    from emulator.http import computed as computed_http
    from emulator.http import engage as engage_http
    from emulator.http import faults as faults_http
    from emulator.http import plans as plans_http
    from emulator.settings import Settings
    from emulator.state import Emulator

    settings = settings or Settings()
    app = Flask(__name__, static_folder=None)  # each surface serves its own files
    # No redirect to a merged path (a 308 with an HTML body and a Host-built Location): a
    # path with '//' is simply not a route.
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = JSONProvider(app)
    app.extensions["wishpond_emulator"] = Emulator.build(settings)
    errors.register(app, FLAT_ERROR_PREFIXES)
    # One hook for every request's checks, in this order: each hook Flask runs costs a call.
    checks = (
        guard.Guard(settings).check,
        common.no_empty_segments,
        common.known_query_only,
        clock_http.run_due_syncs,
    )

    def before() -> None:
        for check in checks:
            check()

    app.before_request(before)
    app.register_blueprint(tracker.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(segment.bp)
    app.register_blueprint(engage_http.bp)
    app.register_blueprint(meta.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(plans_http.bp)
    app.register_blueprint(clock_http.bp)
    app.register_blueprint(computed_http.bp)
    app.register_blueprint(faults_http.bp)
    app.wsgi_app = _cors(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _cors(wsgi_app: Any) -> Any:
    """Wrap the app: CORS headers on every answer under the prefixes a browser page calls."""

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        path = "/" + environ.get("PATH_INFO", "").lstrip("/")  # as request.path reads it
        if path.startswith(CORS_PREFIXES):
            extra = CORS_HEADERS
        elif path.startswith(SEGMENT_PREFIX):
            extra = SEGMENT_CORS_HEADERS
        else:
            return wsgi_app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *extra], exc_info)  # none set before

        return wsgi_app(environ, start)

    return serve
