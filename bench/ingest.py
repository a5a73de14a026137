"""Single-call ingest: tracker identify and track at 1, 8 and 32 connections, per WSGI server.

For each server, the emulator and a bare Flask baseline (same JSON parsing, constant answer)
run as separate processes on loopback and are loaded alternately with the same wrk, so the
ratio emulator/baseline is measured side by side. Server "product" is `wishpond-emulator serve`
(the real CLI) against the baseline on the emulator's own server class.
"""

from __future__ import annotations

import statistics
from typing import Any

import apps
import payloads
from common import free_port, parser, ratio, require_wrk, running, save, write_lines, wrk

KINDS = ("identify", "track")
CONNECTIONS = (1, 8, 32)


def _median(rows: list[dict[str, Any]], key: str) -> Any:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def bench_server(
    server: str, duration: float, limit: int | None, rounds: int = 1
) -> dict[str, Any]:
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
        for turn in range(rounds):  # alternate the apps so both see the same machine
            for kind in KINDS:
                for connections in CONNECTIONS:
                    for app in ("baseline", "emulator"):
                        figure = wrk(
                            procs[app].url, f"/tracker/v1/{kind}", bodies[kind], connections,
                            duration, limit=limit, pid=procs[app].proc.pid,
                        )  # fmt: skip
                        rows.append(
                            {"server": server, "app": app, "kind": kind, "round": turn, **figure}
                        )
    ratios = []
    for kind in KINDS:
        for connections in CONNECTIONS:
            pick = {}
            for app in ("baseline", "emulator"):
                mine = [
                    r
                    for r in rows
                    if r["kind"] == kind and r["connections"] == connections and r["app"] == app
                ]
                pick[app] = {
                    key: _median(mine, key) for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")
                }
            ratios.append(
                {
                    "server": server,
                    "kind": kind,
                    "connections": connections,
                    "emulator_rps": pick["emulator"]["rps"],
                    "baseline_rps": pick["baseline"]["rps"],
                    "ratio": ratio(pick["emulator"]["rps"], pick["baseline"]["rps"]),
                    "emulator_p50_p99_ms": [pick["emulator"]["p50_ms"], pick["emulator"]["p99_ms"]],
                    "baseline_p50_p99_ms": [pick["baseline"]["p50_ms"], pick["baseline"]["p99_ms"]],
                    "emulator_cpu_us": pick["emulator"].get("cpu_us_per_req"),
                    "baseline_cpu_us": pick["baseline"].get("cpu_us_per_req"),
                    # Baseline CPU per request over the emulator's: the rate ratio on an idle
                    # machine, where a one-process server is CPU-bound.
                    "cpu_ratio": ratio(
                        pick["baseline"].get("cpu_us_per_req") or 0,
                        pick["emulator"].get("cpu_us_per_req") or 0,
                    ),
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
    cli.add_argument("--rounds", type=int, default=1, help="alternating rounds; medians reported")
    args = cli.parse_args()
    require_wrk()
    limit = 40 if args.tiny else None
    result: dict[str, Any] = {"rows": [], "ratios": [], "sigterm": {}}
    for server in args.servers.split(","):
        part = bench_server(server.strip(), 1 if args.tiny else args.duration, limit, args.rounds)
        result["rows"] += part["rows"]
        result["ratios"] += part["ratios"]
        result["sigterm"].update(part["sigterm"])
    save("ingest", result, args.json)


if __name__ == "__main__":
    main()
