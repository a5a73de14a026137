"""Profile the request path in-process with pyinstrument, and time it in CPU µs per request.

    python bench/profile.py track            # tracker track through the whole Flask app
    python bench/profile.py identify --app baseline
    python bench/profile.py batch            # POST /v1/batch, 100 messages a request

Requests go straight to the WSGI callable (no server, no sockets), so the figure is the app's
own cost; the bench scripts measure it behind a real server.
"""

from __future__ import annotations

import argparse
import io
import itertools
import time
from collections.abc import Callable
from typing import Any

import apps
import payloads
from werkzeug.test import EnvironBuilder


def caller(kind: str, app_name: str) -> Callable[[int], None]:
    """Return call(i): send the i-th prepared request through the app."""
    app = apps.emulator() if app_name == "emulator" else apps.baseline()
    if "wishpond_emulator" in app.extensions:  # never hit the event cap while timing
        app.extensions["wishpond_emulator"].store.max_events = 10**9
    if kind == "batch":
        path, headers = "/v1/batch", {"Authorization": payloads.segment_auth()}
        bodies = [payloads.compact(payloads.segment_batch(i * 100, 100)) for i in range(50)]
    else:
        path, headers = f"/tracker/v1/{kind}", {}
        bodies = payloads.lines(kind, 2000)
    prepared = []
    for body in bodies:
        data = body.encode()
        environ = EnvironBuilder(
            path=path, method="POST", data=data, content_type="application/json", headers=headers
        ).get_environ()
        prepared.append((environ, data))

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"{path} answered {status}")

    fresh = itertools.count()

    def call(i: int) -> None:
        environ, data = prepared[i % len(prepared)]
        if kind == "batch":  # fresh messageIds, so every message is applied, none a repeat
            data = data.replace(b'"messageId":"', b'"messageId":"%d-' % next(fresh))
            environ = {**environ, "CONTENT_LENGTH": str(len(data))}
        out = app({**environ, "wsgi.input": io.BytesIO(data)}, start_response)
        for _ in out:
            pass
        getattr(out, "close", lambda: None)()

    return call


def main() -> None:
    """Warm up, time N requests in CPU time, then profile N more."""
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("kind", choices=("track", "identify", "batch"))
    cli.add_argument("--app", choices=("emulator", "baseline"), default="emulator")
    cli.add_argument("-n", type=int, default=3000, help="requests to time and to profile")
    cli.add_argument("--no-profile", action="store_true")
    args = cli.parse_args()
    call = caller(args.kind, args.app)
    for i in range(200):
        call(i)
    start = time.process_time()
    for i in range(args.n):
        call(i)
    per = (time.process_time() - start) / args.n * 1e6
    print(f"{args.app} {args.kind}: {per:.1f} CPU µs per request ({args.n} requests)")
    if not args.no_profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        with profiler:
            for i in range(args.n):
                call(i)
        print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
