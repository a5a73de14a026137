"""The production WSGI server (waitress), with a graceful drain on shutdown."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

from emulator.settings import Settings

DRAIN_SECONDS = 1.5
# Waitress warns on every request queued behind busy threads: a log write on the hot path
# under load, and long-polls make a queue normal here.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class Server:
    """A threaded waitress server sharing one app (and so one store) across threads."""

    def __init__(self, app: Any, settings: Settings) -> None:
        # One host gives one TcpWSGIServer, whose attributes the stubs do not declare.
        self._server: Any = create_server(
            app,
            host=settings.host,
            port=settings.port,
            threads=settings.threads,
            ident="wishpond-emulator",
            clear_untrusted_proxy_headers=True,
            # Long-polls hold a worker; don't warn about a queue while they wait.
            channel_timeout=120,
        )
        host = settings.host
        shown = f"[{host}]" if ":" in host else host
        self.port = int(getattr(self._server, "effective_port"))  # noqa: B009
        self.url = f"http://{shown}:{self.port}"

    def wake(self) -> None:
        """Interrupt the event loop's wait, from a signal handler or another thread."""
        with contextlib.suppress(OSError):  # the trigger may be closed already
            self._server.pull_trigger()

    def run_until(self, stop: threading.Event) -> None:
        """Serve until stop is set."""
        while not stop.is_set():
            wasyncore.loop(timeout=0.2, map=self._server._map, count=1)

    def drain(self, seconds: float = DRAIN_SECONDS) -> None:
        """Stop accepting, let in-flight requests finish and flush, then close."""
        self._server.accepting = False
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(
            ch.requests or ch.total_outbufs_len
            for ch in list(self._server.active_channels.values())
        ):
            wasyncore.loop(timeout=0.05, map=self._server._map, count=1)
        self._server.task_dispatcher.shutdown(timeout=max(0.1, deadline - time.monotonic()))
        wasyncore.close_all(self._server._map)
