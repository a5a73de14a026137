"""Batch ingest: events per second through POST /v1/batch, 100 track messages a request.

Where the emulator has no /v1/batch route, it measures single tracker track calls instead and
says so in the result ("mode"). The bare Flask baseline parsing the same bodies runs beside it.
"""

from __future__ import annotations

from typing import Any

import apps
import payloads
from common import free_port, parser, ratio, require_wrk, running, save, write_lines, wrk

BATCH = 100
CONNECTIONS = (1, 8, 32)


def has_batch_route() -> bool:
    """Return whether the emulator serves POST /v1/batch."""
    from emulator import create_app

    return any(rule.rule == "/v1/batch" for rule in create_app().url_map.iter_rules())


def main() -> None:
    """Run the batch bench and save bench/out/batch.json."""
    cli = parser(__doc__, "batch")
    cli.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    args = cli.parse_args()
    require_wrk()
    batch = has_batch_route()
    if batch:
        bodies = write_lines(
            "batch.jsonl",
            [payloads.compact(payloads.segment_batch(i * BATCH, BATCH)) for i in range(50)],
        )
        path, per_request, auth = "/v1/batch", BATCH, payloads.segment_auth()
    else:
        bodies = write_lines("track.jsonl", payloads.lines("track", 2000))
        path, per_request, auth = "/tracker/v1/track", 1, None
    limit = 6 if args.tiny else None
    duration = 1 if args.tiny else args.duration
    port, base_port = free_port(), free_port()
    emu_argv = [*apps.command("emulator", "product", port), "--max-events", "100000000"]
    rows: list[dict[str, Any]] = []
    base_argv = apps.command("baseline", "product", base_port)
    with (
        running("batch-emulator", emu_argv, port) as emu,
        running("batch-baseline", base_argv, base_port) as base,
    ):
        for run in (emu, base):
            wrk(run.url, path, bodies, 8, 1, limit=limit and 2, auth=auth, unique=True)
        for connections in CONNECTIONS:
            for app, run in (("baseline", base), ("emulator", emu)):
                figure = wrk(
                    run.url, path, bodies, connections, duration, limit=limit, auth=auth,
                    unique=True,
                )  # fmt: skip
                figure["events_per_s"] = round(figure["rps"] * per_request, 1)
                rows.append({"app": app, **figure})
    best = max((r for r in rows if r["app"] == "emulator"), key=lambda r: r["events_per_s"])
    base_best = max((r for r in rows if r["app"] == "baseline"), key=lambda r: r["events_per_s"])
    save(
        "batch",
        {
            "mode": "segment /v1/batch" if batch else "tracker track (no /v1/batch route yet)",
            "messages_per_request": per_request,
            "rows": rows,
            "best_events_per_s": best["events_per_s"],
            "best_connections": best["connections"],
            "baseline_best_events_per_s": base_best["events_per_s"],
            "ratio_to_baseline": ratio(best["events_per_s"], base_best["events_per_s"]),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
