"""Who may call the admin API and the dashboard: a Host allow-list and a cross-site refusal.

A DNS-rebinding page reaches the emulator under its own name, so on a loopback bind the admin
API and the dashboard answer only loopback names (and --allowed-host ones). A page on another
site can send a state-changing request without reading the answer, so any such request a
browser marks as cross-site is refused. The tracker, connect.js and Segment surfaces take any
Host and any origin: browser tests map cdn.wishpond.net and Segment's hosts onto the emulator.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import request

from emulator.errors import EmulatorError
from emulator.settings import Settings

OPEN_PREFIXES = ("/tracker/", "/connect.js", "/v1/")
CHANGES_STATE = frozenset(("POST", "PUT", "PATCH", "DELETE"))
LOOPBACK_NAMES = frozenset(("localhost",))


def is_loopback(name: str) -> bool:
    """Return whether a host name or address (without port or brackets) means this machine."""
    name = name.lower().rstrip(".")
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """Return the name part of a Host header value: no port, no IPv6 brackets."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") > 1:  # a bare IPv6 address
        return host
    return host.partition(":")[0]


class Guard:
    """The checks one app makes before any admin or dashboard view runs."""

    def __init__(self, settings: Settings) -> None:
        allowed = {h.strip("[]").lower().rstrip(".") for h in settings.allowed_hosts}
        # On any other bind, callers reach the emulator under names it cannot know.
        self.any_host = "*" in allowed or not is_loopback(settings.host)
        self.allowed = allowed

    def host_ok(self, host: str) -> bool:
        """Return whether the admin API and dashboard answer this Host header."""
        if self.any_host:
            return True
        name = host_name(host).lower().rstrip(".")
        return is_loopback(name) or name in self.allowed

    def check(self) -> None:
        """Refuse a foreign Host, or a state change a browser marks as cross-site."""
        path = request.path
        if path.startswith(OPEN_PREFIXES):
            return
        host = request.headers.get("Host")
        if host is not None and not self.host_ok(host):
            raise EmulatorError(
                "host_not_allowed",
                f"Host {host[:100]!r} is not a loopback name, and the admin API and dashboard "
                "answer only localhost, 127.0.0.1 and [::1] (a guard against DNS rebinding). "
                "Use http://127.0.0.1:<port>/, or start the emulator with --allowed-host "
                f"{host_name(host)[:100]}.",
                403,
            )
        if path.startswith("/_emulator") and request.method in CHANGES_STATE:
            site = request.headers.get("Sec-Fetch-Site", "").lower()
            origin = request.headers.get("Origin")
            if site in ("cross-site", "same-site") or (
                origin is not None and (_origin(origin) or ()) != _origin(request.host_url)
            ):
                raise EmulatorError(
                    "cross_site_request",
                    f"A page on another origin ({(origin or site)[:100]}) may not change the "
                    "emulator's state; call the admin API from tests or the command line, or "
                    "from the dashboard on the emulator's own origin.",
                    403,
                )


def _origin(url: str) -> tuple[str, str, int] | None:
    """Return (scheme, host, port) of an origin or URL; None for an opaque one ('null')."""
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port
