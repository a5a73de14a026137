"""The WSGI servers side by side: the emulator and a bare Flask app on each, one process each.

Every server runs both apps at once (product: `wishpond-emulator serve` itself, and the
baseline on the emulator's own server class); one wrk at a time loads them in turn, round
after round, with a ~100-byte tracker track and a Segment /v1/batch of 100 messages (each
messageId new, so every message is applied). Medians over the rounds; the ratio is the
emulator's rate over the baseline's on the same server, and each server's rate is also set
beside the product's.

    python bench/servers.py --servers product,granian,gunicorn,cheroot,pyruvate --rounds 5
"""

from __future__ import annotations

import contextlib
import statistics
from typing import Any

import apps
import payloads
from common import free_port, parser, ratio, require_wrk, running, save, write_lines, wrk

LOADS = ("track", "batch")
BATCH = 100


def bodies() -> dict[str, Any]:
    """Write the request files and return {load: (path, file, auth, events per request)}."""
    batch = [payloads.compact(payloads.segment_batch(i * BATCH, BATCH)) for i in range(50)]
    return {
        "track": ("/tracker/v1/track", write_lines("small_track.jsonl",
                  payloads.lines("small_track", 2000)), None, 1),
        "batch": ("/v1/batch", write_lines("batch.jsonl", batch), payloads.segment_auth(), BATCH),
    }  # fmt: skip


def measure(
    servers: list[str], rounds: int, duration: float, connections: int, limit: int | None
) -> list[dict[str, Any]]:
    """Start every server with both apps, then load each in turn; return every row."""
    files = bodies()
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        procs = {}
        for server in servers:
            for app in ("emulator", "baseline"):
                port = free_port()
                argv = apps.command(app, server, port)
                if server == "product" and app == "emulator":
                    argv += ["--max-events", "100000000"]
                procs[server, app] = stack.enter_context(
                    running(f"servers-{server}-{app}", argv, port)
                )
        for run in procs.values():  # warm up imports, caches and the allocator
            for load in LOADS:
                path, items, auth, _ = files[load]
                wrk(run.url, path, items, 4, 1, limit=limit and 5, auth=auth, unique=True)
        for turn in range(rounds):
            for load in LOADS:
                path, items, auth, per = files[load]
                for server in servers:
                    for app in ("baseline", "emulator"):
                        run = procs[server, app]
                        figure = wrk(
                            run.url, path, items, connections, duration, limit=limit,
                            auth=auth, pid=run.proc.pid, unique=True,
                        )  # fmt: skip
                        figure["events_per_s"] = round(figure["rps"] * per, 1)
                        rows.append(
                            {"server": server, "app": app, "load": load, "round": turn, **figure}
                        )
    return rows


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.median(values), 1) if values else None


def summary(rows: list[dict[str, Any]], servers: list[str]) -> list[dict[str, Any]]:
    """Return one line per server and load: medians, the ratio, and the rate beside product's."""
    out = []
    for load in LOADS:
        product = None
        for server in servers:
            pick = {
                app: [r for r in rows if (r["server"], r["app"], r["load"]) == (server, app, load)]
                for app in ("emulator", "baseline")
            }
            emu = _median(pick["emulator"], "events_per_s") or 0.0
            base = _median(pick["baseline"], "events_per_s") or 0.0
            product = emu if server == servers[0] else product
            out.append(
                {
                    "load": load,
                    "server": server,
                    "emulator_per_s": emu,
                    "baseline_per_s": base,
                    "ratio": ratio(emu, base),
                    "emulator_cpu_us": _median(pick["emulator"], "cpu_us_per_req"),
                    "baseline_cpu_us": _median(pick["baseline"], "cpu_us_per_req"),
                    "emulator_p50_ms": _median(pick["emulator"], "p50_ms"),
                    "emulator_p99_ms": _median(pick["emulator"], "p99_ms"),
                    "errors": sum(r["errors"] for r in pick["emulator"] + pick["baseline"]),
                    f"emulator_vs_{servers[0]}": ratio(emu, product or 0.0),
                }
            )
    return out


def main() -> None:
    """Run the server comparison and save bench/out/servers.json."""
    cli = parser(__doc__, "servers")
    cli.add_argument(
        "--servers",
        default="product,granian,gunicorn,cheroot,pyruvate",
        help="comma list, the first is the reference: " + ",".join(apps.SERVERS),
    )
    cli.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians reported")
    cli.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    cli.add_argument("--connections", type=int, default=8)
    args = cli.parse_args()
    require_wrk()
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    rows = measure(
        servers,
        1 if args.tiny else args.rounds,
        1 if args.tiny else args.duration,
        args.connections,
        20 if args.tiny else None,
    )
    save("servers", {"connections": args.connections, "threads": apps.THREADS,
                     "summary": summary(rows, servers), "rows": rows}, args.json)  # fmt: skip


if __name__ == "__main__":
    main()
