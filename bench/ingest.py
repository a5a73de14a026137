"""Single-call ingest: tracker identify and track at 1, 8 and 32 connections, per WSGI server.

For each server, the emulator and a bare Flask baseline (same JSON parsing, constant answer)
run as separate processes on loopback and are loaded alternately with the same wrk, so the
ratio emulator/baseline is measured side by side. Server "product" is `wishpond-emulator serve`
(the real CLI) against the baseline on the emulator's own server class.
"""

from __future__ import annotations

from typing import Any

import apps
import payloads
from common import free_port, parser, ratio, require_wrk, running, save, write_lines, wrk

KINDS = ("identify", "track")
CONNECTIONS = (1, 8, 32)


def bench_server(server: str, duration: float, limit: int | None) -> dict[str, Any]:
    """Measure both apps on one server; return rows, ratios and the SIGTERM exits."""
    bodies = {kind: write_lines(f"{kind}.jsonl", payloads.lines(kind, 2000)) for kind in KINDS}
    rows: list[dict[str, Any]] = []
    ports = {name: free_port() for name in ("emulator", "baseline")}
    with (
        running(f"{server}-emulator", apps.command("emulator", server, ports["emulator"]),
                ports["emulator"]) as emu,
        running(f"{server}-baseline", apps.command("baseline", server, ports["baseline"]),
                ports["baseline"]) as base,
    ):  # fmt: skip
        procs = {"emulator": emu, "baseline": base}
        for run in procs.values():  # warm up imports, caches and the allocator
            wrk(run.url, "/tracker/v1/track", bodies["track"], 8, 1, limit=limit and 50)
        for kind in KINDS:
            for connections in CONNECTIONS:
                for app in ("baseline", "emulator"):
                    figure = wrk(
                        procs[app].url, f"/tracker/v1/{kind}", bodies[kind], connections,
                        duration, limit=limit,
                    )  # fmt: skip
                    rows.append({"server": server, "app": app, "kind": kind, **figure})
    ratios = []
    for kind in KINDS:
        for connections in CONNECTIONS:
            pick = {
                r["app"]: r for r in rows if r["kind"] == kind and r["connections"] == connections
            }
            ratios.append(
                {
                    "server": server,
                    "kind": kind,
                    "connections": connections,
                    "emulator_rps": pick["emulator"]["rps"],
                    "baseline_rps": pick["baseline"]["rps"],
                    "ratio": ratio(pick["emulator"]["rps"], pick["baseline"]["rps"]),
                }
            )
    shutdown = {
        name: {"exit_code": run.exit_code, "seconds": round(run.stop_seconds or 0, 3)}
        for name, run in procs.items()
    }
    return {"rows": rows, "ratios": ratios, "sigterm": {server: shutdown}}


def main() -> None:
    """Run the ingest bench and save bench/out/ingest.json."""
    cli = parser(__doc__, "ingest")
    cli.add_argument("--servers", default="product", help="comma list: " + ",".join(apps.SERVERS))
    cli.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    args = cli.parse_args()
    require_wrk()
    limit = 40 if args.tiny else None
    result: dict[str, Any] = {"rows": [], "ratios": [], "sigterm": {}}
    for server in args.servers.split(","):
        part = bench_server(server.strip(), 1 if args.tiny else args.duration, limit)
        result["rows"] += part["rows"]
        result["ratios"] += part["ratios"]
        result["sigterm"].update(part["sigterm"])
    save("ingest", result, args.json)


if __name__ == "__main__":
    main()
