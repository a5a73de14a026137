"""Size a running emulator from outside: ingest and query figures (`python -m emulator.bench`).

Standard library only: each thread keeps its own keep-alive connection. The bench writes to a
merchant of its own (a fresh id unless --merchant-id names one) and resets it at the end.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

JSON = dict[str, Any]
BATCH = 100


class Target:
    """Where the emulator is, and the credentials the bench sends."""

    def __init__(self, args: argparse.Namespace) -> None:
        parts = urlsplit(args.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(
                f"--url {args.url!r} is not an http:// URL; give one like http://127.0.0.1:9474."
            )
        self.host, self.port = parts.hostname, parts.port or 80
        self.merchant = args.merchant_id or f"emulator-bench-{uuid.uuid4().hex[:12]}"
        self.write_key = args.write_key
        key = args.segment_write_key or self.merchant  # open mode: the key names the merchant
        self.basic = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        self.admin = {"Authorization": f"Bearer {args.admin_token}"} if args.admin_token else {}

    def connect(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        """Return a new keep-alive connection."""
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:  # fmt: skip
    """Send one request on conn and return (status, body)."""
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    sent = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, data, {**sent, **(headers or {})})
    response = conn.getresponse()
    return response.status, response.read()


def _track(target: Target, n: int) -> JSON:
    return {
        "merchant_id": target.merchant, "write_key": target.write_key,
        "anonymous_id": f"bench-visitor-{n % 1000}", "id": f"bench-lead-{n % 100}",
        "event": ("Signed Up", "Viewed Pricing", "Completed Order")[n % 3],
        "properties": {"plan": "Growth", "price": 49.0 + n % 50, "url": f"https://shop.example/p/{n}"},
    }  # fmt: skip


def _batch(run: str, n: int) -> JSON:
    return {
        "batch": [
            {
                "type": "track",
                "userId": f"bench-lead-{i % 100}",
                "event": "Completed Order",
                "properties": {"plan": "Growth", "price": 49.0 + i % 50, "items": i % 7},
                "messageId": f"{run}-{n}-{i}",
                "timestamp": "2026-01-01T00:00:00.000Z",
            }
            for i in range(BATCH)
        ]
    }


def figures(ms: Sequence[float]) -> JSON:
    """Return the median and 99th percentile of latencies in ms."""
    if not ms:
        return {"p50_ms": None, "p99_ms": None}
    ordered = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


def load(
    target: Target,
    connections: int,
    seconds: float,
    send: Callable[[http.client.HTTPConnection, int], int],
) -> JSON:
    """Run send(conn, n) on every connection until the time is up; return rate and latency."""
    took: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    statuses: set[int] = set()
    deadline = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        conn, n = target.connect(), slot
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                status = send(conn, n)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = target.connect()
            if status == 200:
                took[slot].append((time.perf_counter() - start) * 1000)
            else:
                errors[slot] += 1
                statuses.add(status)
            n += connections
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    done = [x for row in took for x in row]
    out: JSON = {
        "requests": len(done),
        "errors": sum(errors),
        "per_s": round(len(done) / elapsed, 1),
    }
    if statuses:
        out["error_statuses"] = sorted(statuses)
    return out | figures(done)


def ingest(target: Target, connections: int, seconds: float) -> JSON:
    """Measure tracker track calls and Segment batches of 100 messages."""
    run = uuid.uuid4().hex[:8]
    segment = {"Authorization": target.basic}

    def track(conn: http.client.HTTPConnection, n: int) -> int:
        return call(conn, "POST", "/tracker/v1/track", _track(target, n))[0]

    def batch(conn: http.client.HTTPConnection, n: int) -> int:
        return call(conn, "POST", "/v1/batch", _batch(run, n), segment)[0]

    tracks = load(target, connections, seconds, track)
    batches = load(target, connections, seconds, batch)
    batches["events_per_s"] = round(batches["per_s"] * BATCH, 1)
    return {"tracker_track": tracks, "segment_batch_100": batches}


def queries(target: Target, count: int) -> JSON:
    """Time listing one lead's events, and how soon a long-poll sees the write it waits for."""
    base = f"/_emulator/merchants/{quote(target.merchant, safe='')}/events"
    conn, writer = target.connect(), target.connect()
    listed = []
    for i in range(count):
        start = time.perf_counter()
        status, _ = call(conn, "GET", f"{base}?lead_id=bench-lead-{i % 100}", headers=target.admin)
        if status == 200:
            listed.append((time.perf_counter() - start) * 1000)
    polls = []
    for i in range(max(1, count // 10)):
        title = f"Bench Poll {uuid.uuid4().hex[:8]}"
        path = f"{base}?event={quote(title)}&min_count=1&wait=5"
        conn.request("GET", path, headers=target.admin)
        time.sleep(0.02)  # the long-poll is parked before the write it waits for
        start = time.perf_counter()
        call(writer, "POST", "/tracker/v1/track", {**_track(target, i), "event": title})
        response = conn.getresponse()
        response.read()
        if response.status == 200:
            polls.append((time.perf_counter() - start) * 1000)
    conn.close()
    writer.close()
    return {"events_of_a_lead": figures(listed) | {"requests": len(listed)},
            "long_poll_after_write": figures(polls) | {"requests": len(polls)}}  # fmt: skip


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Return the command line's options."""
    cli = argparse.ArgumentParser(prog="python -m emulator.bench", description=__doc__)
    cli.add_argument("--url", required=True, help="the emulator, e.g. http://127.0.0.1:9474")
    cli.add_argument(
        "--duration", type=float, default=5.0, help="seconds per ingest load (default 5)"
    )
    cli.add_argument(
        "--connections", type=int, default=4, help="keep-alive connections (default 4)"
    )
    cli.add_argument("--queries", type=int, default=200, help="event listings timed (default 200)")
    cli.add_argument(
        "--merchant-id", help="merchant to write to (default: a fresh one); reset at the end"
    )
    cli.add_argument(
        "--write-key", default="bench", help="tracker write key (strict mode: the merchant's)"
    )
    cli.add_argument(
        "--segment-write-key", help="Segment write key (default: the merchant id, open mode)"
    )
    cli.add_argument("--admin-token", help="the emulator's --admin-token, if it has one")
    cli.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = cli.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.queries < 1:
        cli.error("--duration, --connections and --queries must be positive")
    return args


def report(result: JSON) -> str:
    """Return the figures as a few lines of text."""
    t, b = result["ingest"]["tracker_track"], result["ingest"]["segment_batch_100"]
    q, p = result["queries"]["events_of_a_lead"], result["queries"]["long_poll_after_write"]
    rows = [
        ("tracker track", f"{t['per_s']} calls/s", t),
        ("Segment batch of 100", f"{b['events_per_s']} events/s", b),
        ("events of one lead", "", q),
        ("long-poll after its write", "", p),
    ]
    lines = [
        f"{result['url']}: merchant {result['merchant_id']}, {result['connections']} connections"
    ]
    for name, rate, row in rows:
        errors = f", {row['errors']} errors" if row.get("errors") else ""
        lines.append(
            f"  {name:<26} {rate:>18}  p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms{errors}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench against --url and print its figures; reset its merchant afterwards."""
    args = parse(argv)
    try:
        target = Target(args)
        conn = target.connect(timeout=5)
        status, _ = call(conn, "GET", "/_emulator/health", headers=target.admin)
    except ValueError as exc:
        print(f"emulator.bench: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"emulator.bench: cannot reach {args.url} ({exc}); start it or fix --url.",
            file=sys.stderr,
        )
        return 2
    if status != 200:
        print(f"emulator.bench: {args.url}/_emulator/health answered {status}; "
              "pass --admin-token if the emulator has one.", file=sys.stderr)  # fmt: skip
        return 2
    try:
        result = {"url": args.url, "merchant_id": target.merchant, "connections": args.connections,
                  "ingest": ingest(target, args.connections, args.duration),
                  "queries": queries(target, args.queries)}  # fmt: skip
    finally:
        conn.close()
        cleanup = target.connect(timeout=10)
        call(cleanup, "DELETE", f"/_emulator/merchants/{quote(target.merchant, safe='')}",
             headers=target.admin)  # fmt: skip
        cleanup.close()
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
