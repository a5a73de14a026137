"""Ingest with a 50-rule tracking plan against the same ingest without one, side by side.

Two `wishpond-emulator serve` processes run at once, one with `--tracking-plan` (50 TRACK
rules in Segment's draft-07 form: typed properties, an enum, a pattern, a range, required
ones) and one without, and the same wrk loads them in alternation: Segment batches of 100
track messages spread over the 50 planned events, all conforming, and single tracker track
calls. Ratio = with plan / without. The same two apps are also timed in this process, straight
through WSGI in alternating slices, in CPU time, which other load on the machine hardly moves.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from pathlib import Path
from typing import Any

import apps
import payloads
from common import (
    MERCHANT,
    OUT,
    free_port,
    get,
    parser,
    ratio,
    require_wrk,
    running,
    save,
    write_lines,
    wrk,
)

RULES = 50
BATCH = 100
CONNECTIONS = (1, 8)
D7 = "http://json-schema.org/draft-07/schema#"


def event_name(i: int) -> str:
    """Return the name of planned event i."""
    return f"Planned Event {i % RULES:02d}"


def plan() -> dict[str, Any]:
    """Return a plan of RULES track events, each describing payloads.properties()."""
    properties = {
        "plan": {"type": "string", "enum": ["Startup", "Growth", "Enterprise"]},
        "price": {"type": "number", "minimum": 0},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "coupon": {"type": "string", "maxLength": 40},
        "url": {"type": "string"},
        "referrer": {"type": "string"},
        "items": {"type": "integer", "minimum": 1},
    }
    rules = [
        {
            "type": "TRACK",
            "key": event_name(i),
            "version": 1,
            "jsonSchema": {
                "$schema": D7,
                "type": "object",
                "properties": {
                    "context": {},
                    "traits": {},
                    "properties": {
                        "type": "object",
                        "properties": properties,
                        "required": ["plan", "price", "currency"],
                    },
                },
            },
        }
        for i in range(RULES)
    ]
    return {"name": "bench", "rules": rules}


def message(i: int) -> dict[str, Any]:
    """Return a conforming Segment track message (no messageId: every one is applied)."""
    return {
        "type": "track",
        "userId": f"lead-{i % 1000}",
        "event": event_name(i),
        "properties": payloads.properties(i),
    }


def tracker_track(i: int) -> dict[str, Any]:
    """Return a conforming tracker track body."""
    return {**payloads.track(i), "event": event_name(i)}


def in_process(plan_file: Path, bodies: dict[str, tuple[str, list[str]]], slices: int) -> Any:
    """Time both apps through WSGI in alternating slices; return CPU µs per request of each."""
    from werkzeug.test import EnvironBuilder

    from emulator import create_app
    from emulator.settings import Settings

    headers = {"Authorization": payloads.segment_auth()}
    apps_by_name = {
        "with_plan": create_app(Settings(max_events=10**9, tracking_plans=(str(plan_file),))),
        "without": create_app(Settings(max_events=10**9)),
    }

    def done(status: str, _headers: Any, _exc: Any = None) -> None:
        assert status.startswith("200"), status

    out = []
    for load, (path, lines) in bodies.items():
        prepared = [
            (
                EnvironBuilder(
                    path=path, method="POST", data=b, content_type="application/json",
                    headers=headers,
                ).get_environ(),
                b.encode(),
            )
            for b in lines
        ]  # fmt: skip
        cpu = {name: 0.0 for name in apps_by_name}
        count = 0
        for turn in range(slices + 1):
            for name, app in apps_by_name.items():
                start = time.process_time()
                for environ, data in prepared:
                    for _ in app({**environ, "wsgi.input": io.BytesIO(data)}, done):
                        pass
                if turn:  # the first slice warms up
                    cpu[name] += time.process_time() - start
            count += len(prepared) if turn else 0
        per = {name: round(c / count * 1e6, 1) for name, c in cpu.items()}
        out.append(
            {
                "load": load,
                "requests": count,
                "with_plan_cpu_us_per_req": per["with_plan"],
                "without_cpu_us_per_req": per["without"],
                "cpu_ratio": ratio(per["without"], per["with_plan"]),
            }
        )
    return out


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def main() -> None:
    """Run the plan bench and save bench/out/plans.json."""
    cli = parser(__doc__, "plans")
    cli.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    cli.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians reported")
    args = cli.parse_args()
    require_wrk()
    plan_file = OUT / "plan-50.json"
    OUT.mkdir(exist_ok=True)
    plan_file.write_text(payloads.compact(plan()) + "\n", encoding="utf-8")
    loads = {
        "batch": (
            "/v1/batch",
            write_lines(
                "plan-batch.jsonl",
                [
                    payloads.compact({"batch": [message(r * BATCH + j) for j in range(BATCH)]})
                    for r in range(20)
                ],
            ),
            BATCH,
        ),
        "track": (
            "/tracker/v1/track",
            write_lines(
                "plan-track.jsonl", [payloads.compact(tracker_track(i)) for i in range(2000)]
            ),
            1,
        ),
    }
    limit = 6 if args.tiny else None
    duration = 1 if args.tiny else args.duration
    rounds = 1 if args.tiny else args.rounds
    ports = {"with_plan": free_port(), "without": free_port()}
    argv = {
        name: [*apps.command("emulator", "product", port), "--max-events", "100000000"]
        for name, port in ports.items()
    }
    argv["with_plan"] += ["--tracking-plan", str(plan_file)]
    rows: list[dict[str, Any]] = []
    with (
        running("plans-with", argv["with_plan"], ports["with_plan"]) as with_plan,
        running("plans-without", argv["without"], ports["without"]) as without,
    ):
        procs = {"with_plan": with_plan, "without": without}
        auth = payloads.segment_auth()
        for run in procs.values():  # warm up
            for path, items, _ in loads.values():
                wrk(run.url, path, items, 8, 1, limit=limit and 2, auth=auth)
        for turn in range(rounds):
            for load, (path, items, per_request) in loads.items():
                for connections in CONNECTIONS:
                    for app, run in procs.items():
                        figure = wrk(
                            run.url, path, items, connections, duration,
                            limit=limit, auth=auth, pid=run.proc.pid,
                        )  # fmt: skip
                        figure["events_per_s"] = round(figure["rps"] * per_request, 1)
                        rows.append({"app": app, "load": load, "round": turn, **figure})
        # The plan was applied: every planned event seen on both surfaces, no violation.
        checked = {}
        for merchant in (MERCHANT, "bench-key"):  # the tracker's merchant, the write key's
            path = f"/_emulator/merchants/{merchant}/tracking-plan/report"
            body = json.loads(get(with_plan.url, path)[1])
            checked[merchant] = {
                "planned_seen": len(body["planned_seen"]),
                "violations": len(body["violations"]),
            }
    ratios = []
    for load in loads:
        for connections in CONNECTIONS:
            pick = {
                app: [
                    r
                    for r in rows
                    if r["app"] == app and r["load"] == load and r["connections"] == connections
                ]
                for app in procs
            }
            eps = {app: _median([r["events_per_s"] for r in mine]) for app, mine in pick.items()}
            cpu = {
                app: _median([r["cpu_us_per_req"] for r in mine if "cpu_us_per_req" in r])
                for app, mine in pick.items()
            }
            ratios.append(
                {
                    "load": load,
                    "connections": connections,
                    "with_plan_events_per_s": eps["with_plan"],
                    "without_events_per_s": eps["without"],
                    "ratio": ratio(eps["with_plan"] or 0, eps["without"] or 0),
                    "with_plan_cpu_us_per_req": cpu["with_plan"],
                    "without_cpu_us_per_req": cpu["without"],
                    "cpu_ratio": ratio(cpu["without"] or 0, cpu["with_plan"] or 0),
                }
            )
    bodies = {
        load: (path, items.read_text(encoding="utf-8").splitlines()[: 4 if args.tiny else None])
        for load, (path, items, _) in loads.items()
    }
    wsgi = in_process(plan_file, bodies, 1 if args.tiny else 10)
    result = {
        "rules": RULES,
        "checked": checked,
        "rows": rows,
        "ratios": ratios,
        "in_process": wsgi,
    }
    save("plans", result, args.json)


if __name__ == "__main__":
    main()
