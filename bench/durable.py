"""Durable state: ingest with --data-file (sync normal and full) beside in memory; start-up.

Three `wishpond-emulator serve` processes run side by side: in memory, `--data-file` with
`--data-sync normal`, and with `--data-sync full`, each with a data file of its own under
bench/out/. wrk loads them in alternation with the same bodies (tracker track and identify,
Segment batches of 100 messages), so each ratio (data file rate / in-memory rate) is measured
on the same machine in the same minute.

Start-up: a data file holding 100,000 events (written once through `--import`), from starting
`serve` until health answers (polled every 5 ms), median of N runs; beside it `--import` of the
same state file into memory, which is what a restart cost before.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from typing import Any

import apps
import payloads
from common import (
    OUT,
    cpu_seconds,
    env_for_servers,
    free_port,
    get,
    parser,
    python,
    ratio,
    require_wrk,
    running,
    save,
    wait_http,
    write_lines,
    wrk,
)
from startup import import_file

MODES = ("memory", "normal", "full")
KINDS = ("track", "identify", "batch")
CONNECTIONS = (1, 8, 32)
BATCH = 100
FILES = OUT / "durable"


def serve_argv(mode: str, port: int) -> list[str]:
    """Return the CLI that serves one mode: in memory, or on a fresh data file."""
    argv = [*apps.command("emulator", "product", port), "--max-events", "100000000"]
    if mode == "memory":
        return argv
    return [*argv, "--data-file", str(FILES / f"ingest-{mode}.db"), "--data-sync", mode]


def bodies() -> dict[str, tuple[Any, str, str | None, int]]:
    """Return each kind's bodies file, path, auth header and messages per request."""
    batches = [payloads.compact(payloads.segment_batch(i * BATCH, BATCH)) for i in range(50)]
    return {
        "track": (write_lines("track.jsonl", payloads.lines("track", 2000)), "/tracker/v1/track",
                  None, 1),
        "identify": (write_lines("identify.jsonl", payloads.lines("identify", 2000)),
                     "/tracker/v1/identify", None, 1),
        "batch": (write_lines("batch.jsonl", batches), "/v1/batch", payloads.segment_auth(),
                  BATCH),
    }  # fmt: skip


def ingest(
    duration: float, limit: int | None, rounds: int, connections: tuple[int, ...] = CONNECTIONS
) -> dict[str, Any]:
    """Load the three servers in alternation; return rows and each mode's ratio to memory."""
    shutil.rmtree(FILES, ignore_errors=True)
    FILES.mkdir(parents=True)
    work = bodies()
    ports = {mode: free_port() for mode in MODES}
    rows: list[dict[str, Any]] = []
    with (
        running("durable-memory", serve_argv("memory", ports["memory"]), ports["memory"]) as mem,
        running("durable-normal", serve_argv("normal", ports["normal"]), ports["normal"]) as nor,
        running("durable-full", serve_argv("full", ports["full"]), ports["full"]) as full,
    ):
        runs = {"memory": mem, "normal": nor, "full": full}
        for run in runs.values():  # warm up imports, caches, the allocator and the file
            items, path, auth, _ = work["track"]
            wrk(run.url, path, items, 8, 1, limit=limit and 50, auth=auth)
        for turn in range(rounds):
            for kind in KINDS:
                items, path, auth, per_request = work[kind]
                for conns in connections:
                    for mode, run in runs.items():
                        figure = wrk(
                            run.url, path, items, conns, duration, limit=limit,
                            auth=auth, pid=run.proc.pid,
                        )  # fmt: skip
                        figure["events_per_s"] = round(figure["rps"] * per_request, 1)
                        figure["per_request"] = per_request
                        rows.append({"mode": mode, "kind": kind, "round": turn, **figure})
        totals = {m: json.loads(get(r.url, "/_emulator/health")[1])["total_events"]
                  for m, r in runs.items()}  # fmt: skip
    return {"rows": rows, "ratios": _ratios(rows, connections), "total_events": totals}


def _ratios(rows: list[dict[str, Any]], connections: tuple[int, ...]) -> list[dict[str, Any]]:
    out = []
    for kind in KINDS:
        for conns in connections:
            rate = {}
            for mode in MODES:
                mine = [
                    r["events_per_s"]
                    for r in rows
                    if (r["kind"], r["connections"], r["mode"]) == (kind, conns, mode)
                ]
                rate[mode] = round(statistics.median(mine), 1)
            cpu = {
                mode: statistics.median(
                    r["cpu_us_per_req"] / r.get("per_request", 1)
                    for r in rows
                    if (r["kind"], r["connections"], r["mode"]) == (kind, conns, mode)
                )
                for mode in MODES
            }
            out.append(
                {
                    "kind": kind,
                    "connections": conns,
                    "memory_events_per_s": rate["memory"],
                    "normal_events_per_s": rate["normal"],
                    "full_events_per_s": rate["full"],
                    "normal_ratio": ratio(rate["normal"], rate["memory"]),
                    "full_ratio": ratio(rate["full"], rate["memory"]),
                    # In-memory CPU per event over the data file's: the rate ratio on an idle
                    # machine, where one server process is CPU-bound.
                    "normal_cpu_ratio": ratio(cpu["memory"], cpu["normal"]),
                    "full_cpu_ratio": ratio(cpu["memory"], cpu["full"]),
                }
            )
    return out


def start_once(extra: list[str]) -> tuple[float, float]:
    """Start `serve` once; return the seconds until health answers and its CPU seconds then."""
    port = free_port()
    argv = [python(), "-m", "emulator", "serve", "--port", str(port), "--quiet", *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env_for_servers(), stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{port}", "/_emulator/health", 120, proc)
        return time.perf_counter() - start, cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def startup(events: int, runs: int) -> dict[str, Any]:
    """Time start-up from a data file of events beside --import of the same state."""
    state = import_file(events)
    data = FILES / f"startup-{events}.db"
    data.unlink(missing_ok=True)
    start_once(["--data-file", str(data), "--import", str(state)])  # fill it once
    series: dict[str, list[tuple[float, float]]] = {"data_file": [], "import": []}
    for _ in range(runs):
        for name, extra in (
            ("data_file", ["--data-file", str(data)]),
            ("import", ["--import", str(state)]),
        ):
            series[name].append(start_once(extra))
    out = {}
    for name, got in series.items():
        times = [wall for wall, _ in got]
        out[name] = {
            "runs": runs,
            "median_s": round(statistics.median(times), 3),
            "min_s": round(min(times), 3),
            "max_s": round(max(times), 3),
            "median_cpu_s": round(statistics.median(cpu for _, cpu in got), 3),
        }
    return {
        "events": events,
        "data_file_bytes": data.stat().st_size,
        "state_file_bytes": state.stat().st_size,
        **out,
        "ratio_to_import": ratio(out["data_file"]["median_s"], out["import"]["median_s"]),
    }


def main() -> None:
    """Run the durable bench and save bench/out/durable.json."""
    cli = parser(__doc__, "durable")
    cli.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    cli.add_argument("--rounds", type=int, default=1, help="alternating rounds; medians reported")
    cli.add_argument("--runs", type=int, default=5, help="start-up runs per series")
    cli.add_argument("--events", type=int, default=100_000, help="events in the data file")
    args = cli.parse_args()
    require_wrk()
    tiny = args.tiny
    conns = (8,) if tiny else CONNECTIONS
    result = ingest(1 if tiny else args.duration, 20 if tiny else None, args.rounds, conns)
    result["startup"] = startup(1000 if tiny else args.events, 1 if tiny else args.runs)
    save("durable", result, args.json)


if __name__ == "__main__":
    main()
