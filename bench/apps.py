"""The apps under test and how each WSGI server runs them as one process.

`emulator()` is the real emulator app; `baseline()` is a bare Flask app that parses the same
JSON and returns a constant. `python bench/apps.py APP --server NAME --port P` serves one.
For bench/promises.py, the environment adds to the emulator: BENCH_THREADS (worker threads,
default 8), BENCH_EXPORT (write the state there when the process that holds it exits) and
BENCH_PROBE (a /probe/drop route that tries to close its connection without an answer).
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import json
import os
import signal
import sys
import threading
from typing import Any

from common import free_port, python
from flask import Flask, Response, request

THREADS = int(os.environ.get("BENCH_THREADS") or 8)
SERVERS = ("product", "waitress", "gunicorn", "granian", "cheroot", "pyruvate")
# Servers from the bench extra (waitress is a core dependency).
EXTRA = ("gunicorn", "granian", "cheroot", "pyruvate")


def emulator() -> Any:
    """Build the emulator app as `wishpond-emulator serve` does (with no cap on events)."""
    from emulator import create_app
    from emulator.settings import Settings

    app = create_app(Settings(quiet=True, max_events=10**9))
    target = os.environ.get("BENCH_EXPORT")
    if target:  # in the process that holds the state, whichever that is
        from emulator.snapshot import write_atomically

        state = app.extensions["wishpond_emulator"]
        atexit.register(lambda: write_atomically(target, state.store.export()))
    return probed(app) if os.environ.get("BENCH_PROBE") else app


def probed(app: Any) -> Any:
    """Wrap app: GET /probe/drop?how tries to end the connection with no answer at all.

    how=raise raises waitress's ClientDisconnected (the emulator's way on waitress; elsewhere
    just an exception); how=socket closes the socket the server exposes (gunicorn.socket).
    """

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/probe/drop":
            sock = environ.get("gunicorn.socket")
            if environ.get("QUERY_STRING") == "socket" and sock is not None:
                sock.close()
            from waitress.channel import ClientDisconnected

            raise ClientDisconnected
        return app(environ, start_response)

    wsgi.extensions, wsgi.config = app.extensions, app.config  # type: ignore[attr-defined]
    return wsgi


def baseline() -> Flask:
    """Build a bare Flask app that parses the JSON body and answers a constant."""
    app = Flask("baseline")
    constant = b'{"ok":true}'

    @app.post("/tracker/v1/identify")
    @app.post("/tracker/v1/track")
    @app.post("/v1/batch")
    def ingest() -> Response:
        json.loads(request.get_data())
        return Response(constant, mimetype="application/json")

    @app.get("/_emulator/health")
    def health() -> Response:
        return Response(b'{"status":"ok"}', mimetype="application/json")

    return app


def command(app: str, server: str, port: int) -> list[str]:
    """Return the argv that serves app ('emulator' or 'baseline') on server at port."""
    if server in EXTRA and importlib.util.find_spec(server) is None:
        raise SystemExit(
            f"bench: {server} is not installed; install the bench extra: pip install -e '.[bench]'"
        )
    if server == "product" and app == "emulator":
        # The real CLI, so the figure is what users get.
        return [python(), "-m", "emulator", "serve", "--port", str(port), "--quiet"]
    if server in ("product", "waitress", "cheroot", "pyruvate"):
        return [python(), __file__, app, "--server", server, "--port", str(port)]
    if server == "gunicorn":
        return [
            python(), "-m", "gunicorn", f"apps:{app}()",
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread",
            "--threads", str(THREADS), "--graceful-timeout", "2", "--log-level", "warning",
        ]  # fmt: skip
    if server == "granian":
        return [
            python(), "-m", "granian", "--interface", "wsgi", "--factory", f"apps:{app}",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--blocking-threads", str(THREADS), "--no-access-log", "--log-level", "warning",
            "--workers-kill-timeout", "2",
        ]  # fmt: skip
    raise ValueError(f"unknown server {server!r}; choose one of {', '.join(SERVERS)}")


def serve_product(app: Flask, port: int, threads: int = THREADS, park: bool = True) -> None:
    """Serve app on the emulator's own server class until SIGTERM."""
    from emulator.server import Server
    from emulator.settings import Settings

    server = Server(app, Settings(port=port, threads=threads, quiet=True), park=park)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        server.wake()

    signal.signal(signal.SIGTERM, on_signal)
    server.run_until(stop)
    emulator_state = getattr(app, "extensions", {}).get("wishpond_emulator")
    if emulator_state is not None:
        emulator_state.close()  # release long-polls, as `serve` does
    server.drain()


def _serve_waitress(app: Flask, port: int) -> None:
    from waitress.server import create_server

    server: Any = create_server(app, host="127.0.0.1", port=port, threads=THREADS)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.run()


def _serve_cheroot(app: Flask, port: int) -> None:
    from cheroot.wsgi import Server as Cheroot

    server = Cheroot(("127.0.0.1", port), app, numthreads=THREADS)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.stop).start())
    server.start()  # returns once stop() has let the in-flight requests finish


def _serve_pyruvate(app: Flask, port: int) -> None:
    import pyruvate

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        # pyruvate 1.6 passes CONTENT_LENGTH as an int; PEP 3333 (and Werkzeug) want a string.
        if "CONTENT_LENGTH" in environ:
            environ["CONTENT_LENGTH"] = str(environ["CONTENT_LENGTH"])
        return app(environ, start_response)

    pyruvate.serve(wsgi, f"127.0.0.1:{port}", THREADS)


def main() -> None:
    """Serve one app on one server until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app", choices=("emulator", "baseline"))
    parser.add_argument(
        "--server", choices=("product", "waitress", "cheroot", "pyruvate"), default="product"
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fill", type=int, default=0, help="store this many events first")
    args = parser.parse_args()
    app = emulator() if args.app == "emulator" else baseline()
    if args.fill:
        import payloads

        payloads.fill(app.extensions["wishpond_emulator"].store, args.fill, batch=1000)
    port = args.port or free_port()
    serve = {"product": serve_product, "waitress": _serve_waitress, "cheroot": _serve_cheroot}
    serve.get(args.server, _serve_pyruvate)(app, port)


if __name__ == "__main__":
    main()
