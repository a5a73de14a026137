"""The production WSGI server (waitress): long-polls off the workers, JSON framing errors, a drain.

Everything specific to waitress lives here: which requests park, the connection limits, and
the error task that answers what waitress refuses before the app sees it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import resource
import threading
import time
from collections import deque
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from waitress import wasyncore
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from emulator.errors import FLAT_CONFIG, EmulatorError
from emulator.faults import DROP_ENVIRON
from emulator.settings import Settings

DRAIN_SECONDS = 1.5
# Long-polls parked at once, each on a thread of its own; more wait their turn, writes never do.
MAX_PARKED = 512
# A parking thread with nothing to do for this long ends; the next long-poll starts another.
PARKED_IDLE_SECONDS = 30.0
# A keep-alive connection idle this long is closed (a request in progress never is).
IDLE_SECONDS = 60
# Open connections beyond which waitress stops accepting; kept under the file-descriptor limit.
MAX_CONNECTIONS = 10_000
# Bodies waitress buffers (to a temporary file past 512 KiB) before the app refuses them.
MAX_BUFFERED = 64 * 1024 * 1024
# The request line and headers together; a larger block is a 431.
MAX_HEADER_BYTES = 64 * 1024
# Waitress warns on every request queued behind busy threads: a log write on the hot path
# under load.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)
log = logging.getLogger("wishpond_emulator.server")


def parks(method: str, path: str, query: str) -> bool:
    """Return whether a request is a long-poll: a GET under /_emulator with a wait."""
    if method != "GET" or not path.startswith("/_emulator/") or "wait=" not in query:
        return False
    return any(k == "wait" and v.strip() not in ("", "0") for k, v in parse_qsl(query))


class ParkingPool:
    """Threads for long-polls, started on demand up to a cap, so a wait never holds a worker."""

    def __init__(self, limit: int = MAX_PARKED, idle: float = PARKED_IDLE_SECONDS) -> None:
        self.limit = limit
        self.idle_seconds = idle
        self._queue: deque[Any] = deque()
        self._cv = threading.Condition()
        self._threads = 0
        self._idle = 0
        self._stopped = False

    @property
    def threads(self) -> int:
        """Return how many parking threads exist now."""
        return self._threads

    def submit(self, task: Any) -> None:
        """Run task.service() on an idle parking thread, a new one, or the first one free."""
        with self._cv:
            self._queue.append(task)
            if self._idle:
                self._cv.notify()
            elif self._threads < self.limit:
                self._threads += 1
                threading.Thread(target=self._run, name="wishpond-park", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stopped:
                    self._idle += 1
                    woken = self._cv.wait(self.idle_seconds)
                    self._idle -= 1
                    if not woken and not self._queue:
                        break
                if not self._queue:
                    self._threads -= 1
                    return
                task = self._queue.popleft()
            try:
                task.service()
            except BaseException:
                log.exception("Exception when servicing %r", task)

    def shutdown(self) -> None:
        """Let every parking thread end once the queue is empty."""
        with self._cv:
            self._stopped = True
            self._cv.notify_all()


class Dispatcher(ThreadedTaskDispatcher):
    """Waitress's worker pool, handing each long-poll to a parking thread instead."""

    def __init__(self, parking: ParkingPool | None) -> None:
        super().__init__()
        self.parking = parking

    def add_task(self, task: Any) -> None:
        """Queue a channel's next request: a long-poll parks, anything else goes to a worker."""
        requests = getattr(task, "requests", None)
        if self.parking is not None and requests:
            first = requests[0]
            if first.error is None and parks(first.command, first.path, first.query):
                self.parking.submit(task)
                return
        super().add_task(task)

    def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool:
        """Stop the workers and the parking threads."""
        if self.parking is not None:
            self.parking.shutdown()
        return bool(super().shutdown(cancel_pending, timeout))


def framing_error(error: Any) -> EmulatorError:
    """Return the emulator's error for a request waitress refused while reading it."""
    detail = str(getattr(error, "body", "") or "").strip().rstrip(".")
    code = int(getattr(error, "code", 400))
    if code == 431:
        return EmulatorError(
            "request_header_fields_too_large",
            f"The request line and headers are over {MAX_HEADER_BYTES} bytes; send a shorter "
            "URL and fewer or smaller headers.",
            431,
        )
    if code == 413:
        return EmulatorError(
            "payload_too_large",
            "The request body is far larger than the emulator accepts; send less, or raise "
            "--max-body-bytes.",
            413,
        )
    if code == 501:
        return EmulatorError(
            "unsupported_transfer_encoding",
            "The Transfer-Encoding is not supported; send the body with a Content-Length or "
            "with 'Transfer-Encoding: chunked'.",
        )
    if code >= 500:
        return EmulatorError("internal_error", f"The emulator failed: {detail}.", 500)
    return EmulatorError(
        "malformed_request",
        f"The HTTP request is malformed ({detail or 'unreadable'}); send a well-formed "
        "HTTP/1.1 request: a Content-Length of digits that matches the body, or valid chunks.",
    )


class JSONErrorTask(ErrorTask):
    """Waitress's answer to a request it could not read, as the emulator's JSON error."""

    def execute(self) -> None:
        """Write the JSON error document and close the connection."""
        request: Any = self.request  # the stubs type it as waitress's Error
        error = framing_error(request.error)
        # Under the app's flat prefixes (Segment's /v1), code and message are at the top too.
        flat = getattr(self.channel.server, "flat_prefixes", ())
        path = getattr(request, "path", None) or ""
        doc = error.flat_body() if flat and path.startswith(flat) else error.body()
        body = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        self.status = f"{error.status} {HTTPStatus(error.status).phrase}"
        self.response_headers = [*self.response_headers, ("Content-Type", "application/json")]
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


def dropping(app: Any) -> Any:
    """Wrap a WSGI app so that a request it marks (a fault's drop) gets no answer at all.

    Raised before a byte is written, waitress's ClientDisconnected closes the connection.
    """

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        body = app(environ, start_response)
        if environ.get(DROP_ENVIRON):
            getattr(body, "close", lambda: None)()
            raise ClientDisconnected
        return body

    return serve


class Channel(HTTPChannel):
    """A waitress channel whose framing errors answer in JSON."""

    error_task_class = JSONErrorTask


def raise_fd_limit(wanted: int = MAX_CONNECTIONS + 256) -> int:
    """Raise the soft open-file limit toward wanted (never past the hard one); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft if soft != resource.RLIM_INFINITY else wanted


class Server:
    """A threaded waitress server sharing one app (and so one store) across threads."""

    def __init__(self, app: Any, settings: Settings, *, park: bool = True) -> None:
        fds = raise_fd_limit()
        dispatcher = Dispatcher(ParkingPool() if park else None)
        dispatcher.set_thread_count(settings.threads)
        self.dispatcher = dispatcher
        try:
            # One host gives one TcpWSGIServer, whose attributes the stubs do not declare.
            server: Any = create_server(
                dropping(app),
                _dispatcher=dispatcher,
                host=settings.host,
                port=settings.port,
                threads=settings.threads,
                ident="wishpond-emulator",
                clear_untrusted_proxy_headers=True,
                channel_timeout=IDLE_SECONDS,
                connection_limit=max(100, min(MAX_CONNECTIONS, fds - 256)),
                max_request_header_size=MAX_HEADER_BYTES,
                # Bodies over the app's limit still reach it, for its own 413 (read whole, so
                # the client sees it) and the journal; far larger ones are refused unread.
                max_request_body_size=max(MAX_BUFFERED, 8 * settings.max_body_bytes),
                asyncore_use_poll=True,  # select() fails past 1,024 descriptors
            )
        except BaseException:
            dispatcher.shutdown(timeout=0)
            raise
        self._server: Any = server
        self._server.channel_class = Channel  # every connection from now on
        self._server.flat_prefixes = tuple(getattr(app, "config", {}).get(FLAT_CONFIG, ()))
        host = settings.host
        shown = f"[{host}]" if ":" in host else host
        self.port = int(getattr(self._server, "effective_port"))  # noqa: B009
        self.url = f"http://{shown}:{self.port}"

    @classmethod
    def bind(cls, app: Any, settings: Settings) -> Server:
        """Start a server on the configured address, or raise one clear line saying why not."""
        try:
            return cls(app, settings)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                problem = (
                    f"--port {settings.port} is in use by another process on {settings.host}; "
                    "stop it, or choose another --port (0 picks a free one)."
                )
            elif exc.errno == errno.EADDRNOTAVAIL:
                problem = (
                    f"--host {settings.host} is not an address of this machine; use 127.0.0.1 "
                    "(this machine only) or 0.0.0.0 (every interface)."
                )
            else:
                problem = (
                    f"--host {settings.host} --port {settings.port} cannot be bound "
                    f"({exc.strerror or exc}); choose another address."
                )
        except ValueError:  # waitress: a host name that resolves to nothing
            problem = (
                f"--host {settings.host} does not resolve to an address; use 127.0.0.1 (this "
                "machine only) or 0.0.0.0 (every interface)."
            )
        raise EmulatorError("invalid_setting", problem)

    def wake(self) -> None:
        """Interrupt the event loop's wait, from a signal handler or another thread."""
        with contextlib.suppress(OSError):  # the trigger may be closed already
            self._server.pull_trigger()

    def _loop(self, timeout: float) -> None:
        wasyncore.loop(timeout=timeout, map=self._server._map, count=1, use_poll=True)

    def run_until(self, stop: threading.Event) -> None:
        """Serve until stop is set."""
        while not stop.is_set():
            self._loop(0.2)

    def drain(self, seconds: float = DRAIN_SECONDS) -> None:
        """Stop accepting, let in-flight requests finish and flush, then close."""
        self._server.accepting = False
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(
            ch.requests or ch.total_outbufs_len
            for ch in list(self._server.active_channels.values())
        ):
            self._loop(0.05)
        self._server.task_dispatcher.shutdown(timeout=max(0.1, deadline - time.monotonic()))
        wasyncore.close_all(self._server._map)
