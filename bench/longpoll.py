"""Long-polls against writes: write latency with and without parked long-polls, and release.

For each server arrangement, a fresh emulator process is started and measured in turn:
1. the latency of sequential tracker writes on one keep-alive connection, nothing else running;
2. the same with N long-polls parked (`GET .../events?wait=...&min_count=1`, each on its own
   socket, waiting on a merchant nobody writes to);
3. release all at once: one write to the merchant every long-poll waits on, and the time from
   sending it to each long-poll's answer (the condition is met when that write is applied);
4. release one by one: N long-polls parked on N merchants, each condition met by its own write
   in turn, and the time from each write to its long-poll's answer, the others still parked;
5. the write latency again with 500 idle connections open beside it.

Arrangements: `parked` (the emulator: long-polls on parking threads, 32 workers for the rest),
`shared-32` (long-polls on the 32 workers, as before) and `shared-wide` (long-polls on the
workers, with N + 32 of them).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import selectors
import socket
import statistics
import sys
import time
from typing import Any

from common import env_for_servers, free_port, parser, python, running, save

ARRANGEMENTS = {
    "parked": {"threads": 32, "park": True},
    "shared-32": {"threads": 32, "park": False},
    "shared-wide": {"threads": None, "park": False},  # N + 32 workers
}


def serve(port: int, threads: int, park: bool) -> None:
    """Serve the emulator app with the given worker count and long-poll arrangement."""
    from apps import serve_product

    from emulator import create_app
    from emulator.settings import Settings

    serve_product(create_app(Settings(quiet=True)), port, threads, park)


def _track(merchant: str, i: int) -> bytes:
    return json.dumps(
        {"merchant_id": merchant, "write_key": "k", "anonymous_id": "a", "event": f"E{i}"}
    ).encode()


def writes(port: int, count: int, timeout: float, give_up: int | None = None) -> dict[str, Any]:
    """Send count sequential writes; return their latency figures in ms (None if timed out).

    With give_up, stop after that many writes timed out (the rest are not sent).
    """
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    took: list[float] = []
    timed_out = 0
    for i in range(count):
        start = time.perf_counter()
        try:
            conn.request(
                "POST", "/tracker/v1/track", _track("writer", i), {"Content-Type": "text/plain"}
            )
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        except (TimeoutError, OSError):
            timed_out += 1
            conn.close()
            if give_up is not None and timed_out >= give_up:
                break
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            continue
        took.append((time.perf_counter() - start) * 1000)
    conn.close()
    return _figures(took) | {"writes": count, "timed_out": timed_out}


def _figures(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def park(port: int, count: int, wait: float, merchant: str = "parked") -> list[socket.socket]:
    """Open count sockets, each sending one long-poll on the merchant."""
    out = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            f"GET /_emulator/merchants/{merchant}/events?wait={wait:g}&min_count=1 HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        out.append(sock)
    return out


def release(
    port: int, socks: list[socket.socket], timeout: float, merchant: str = "parked"
) -> dict[str, Any]:
    """Write once to the parked merchant; return how long each long-poll took to answer."""
    selector = selectors.DefaultSelector()
    received: dict[socket.socket, bytes] = {}
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        received[sock] = b""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("POST", "/tracker/v1/track", _track(merchant, 0), {"Content-Type": "text/plain"})
    conn.getresponse().read()
    conn.close()
    done: dict[socket.socket, float] = {}
    deadline = started + timeout
    while len(done) < len(socks) and time.perf_counter() < deadline:
        for key, _ in selector.select(timeout=0.05):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            chunk = sock.recv(65536)
            received[sock] += chunk
            if not chunk:
                done[sock] = time.perf_counter() - started
                selector.unregister(sock)
    for sock in socks:
        sock.close()
    got = [b'"event":"E0"' in received[s] for s in done]
    return _figures([t * 1000 for t in done.values()]) | {
        "released": len(done),
        "saw_the_event": sum(got),
    }


def release_each(port: int, count: int, wait: float, timeout: float) -> dict[str, Any]:
    """Park count long-polls on as many merchants, then meet each condition by its own write.

    Returns the time from sending each write to its long-poll's answer, while the long-polls
    not yet released stay parked.
    """
    socks = [park(port, 1, wait, f"each-{i}")[0] for i in range(count)]
    time.sleep(1.0)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    took: list[float] = []
    give_up = time.perf_counter() + 2 * timeout  # writes stuck behind the polls: stop there
    for i, sock in enumerate(socks):
        if time.perf_counter() > give_up:
            break
        sock.settimeout(timeout)
        started = time.perf_counter()
        try:
            conn.request(
                "POST", "/tracker/v1/track", _track(f"each-{i}", i), {"Content-Type": "text/plain"}
            )
            conn.getresponse().read()
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            continue
        data = b""
        with contextlib.suppress(TimeoutError):
            while chunk := sock.recv(65536):
                data += chunk
        if f'"event":"E{i}"'.encode() in data:
            took.append((time.perf_counter() - started) * 1000)
        sock.close()
    conn.close()
    return _figures(took) | {"released": len(took)}


def measure(name: str, polls: int, count: int, wait: float) -> dict[str, Any]:
    """Run the four measurements against one arrangement."""
    spec = ARRANGEMENTS[name]
    threads = spec["threads"] or polls + 32
    port = free_port()
    argv = [python(), __file__, "--serve", str(port), "--threads", str(threads)]
    argv += ["--park"] if spec["park"] else []
    with running(f"longpoll-{name}", argv, port, env=env_for_servers()) as run:
        alone = writes(port, count, timeout=wait + 5)
        socks = park(port, polls, wait)
        time.sleep(1.0)  # every long-poll reaches the server and parks
        parked = writes(port, count, timeout=wait + 5)
        freed = release(port, socks, timeout=wait + 5)
        each = release_each(port, polls, wait, timeout=wait + 5)
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
        time.sleep(0.2)
        with_idle = writes(port, count, timeout=wait + 5)
        for sock in idle:
            sock.close()
        return {
            "arrangement": name,
            "workers": threads,
            "parked_polls": polls,
            "writes_alone": alone,
            "writes_with_polls_parked": parked,
            "release_all_at_once": freed,
            "release_one_by_one": each,
            "writes_with_500_idle_connections": with_idle,
            "exit_code": None if run.proc.poll() is None else run.proc.returncode,
        }


def main() -> None:
    """Measure every arrangement and save bench/out/longpoll.json."""
    cli = parser(__doc__, "longpoll")
    cli.add_argument("--polls", type=int, default=200, help="long-polls to park (default 200)")
    cli.add_argument("--writes", type=int, default=200, help="writes per measurement")
    cli.add_argument("--wait", type=float, default=10.0, help="each long-poll's wait in seconds")
    cli.add_argument("--only", help="comma list of arrangements: " + ",".join(ARRANGEMENTS))
    cli.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    cli.add_argument("--threads", type=int, default=32, help=argparse.SUPPRESS)
    cli.add_argument("--park", action="store_true", help=argparse.SUPPRESS)
    args = cli.parse_args()
    if args.serve:
        serve(args.serve, args.threads, args.park)
        return
    if args.tiny:
        args.polls, args.writes, args.wait = 20, 20, 3.0
    names = args.only.split(",") if args.only else list(ARRANGEMENTS)
    if args.tiny and not args.only:
        names = ["parked"]
    rows = [measure(name, args.polls, args.writes, args.wait) for name in names]
    save("longpoll", {"rows": rows}, args.json)


if __name__ == "__main__":
    sys.exit(main())
