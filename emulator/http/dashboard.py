"""The live dashboard at GET /: a static page that reads only the admin API."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_file

from emulator.errors import EmulatorError
from emulator.http.docs import Param, documenter

bp = Blueprint("dashboard", __name__)
documented = documenter()

STATIC = Path(__file__).resolve().parent.parent / "static"
# The page's own files (dashboard.js is the entry module; it imports the other scripts);
# nothing else under static/ is reachable through this route.
ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard-api.js": "text/javascript; charset=utf-8",
    "dashboard-dom.js": "text/javascript; charset=utf-8",
    "dashboard-durable.js": "text/javascript; charset=utf-8",
    "dashboard-engage.js": "text/javascript; charset=utf-8",
    "dashboard-journal.js": "text/javascript; charset=utf-8",
    "dashboard-leads.js": "text/javascript; charset=utf-8",
    "dashboard-live.js": "text/javascript; charset=utf-8",
    "dashboard-plan.js": "text/javascript; charset=utf-8",
    "dashboard-route.js": "text/javascript; charset=utf-8",
    "dashboard-state.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
ASSET_PREFIX = "/_dashboard/"

# No inline script or style, no eval, and fetches only to this origin.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


def _harden(response: Response) -> Response:
    response.headers.pop("Content-Disposition", None)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    # Revalidate every time, so a newer emulator never runs a stale script.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/")
@documented("The live dashboard", response_types=("text/html",))
def index() -> Response:
    """Serve the dashboard page; it holds no data, the script fetches it."""
    response = send_file(STATIC / "dashboard.html", mimetype="text/html", conditional=True)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return _harden(response)


@bp.get(ASSET_PREFIX + "<name>")
@documented(
    "A dashboard asset",
    response_types=tuple(sorted({t.partition(";")[0] for t in ASSETS.values()})),
    params=(Param("name", {"enum": sorted(ASSETS)}, "The asset.", "path", True),),
)
def asset(name: str) -> Response:
    """Serve one of the dashboard's script, style or icon files."""
    mimetype = ASSETS.get(name)
    if mimetype is None:
        raise EmulatorError(
            "not_found",
            f"The dashboard has no asset {name!r}; it serves {', '.join(sorted(ASSETS))}.",
            404,
        )
    response = send_file(STATIC / name, mimetype=mimetype, conditional=True)
    response.headers["Content-Type"] = mimetype
    return _harden(response)
