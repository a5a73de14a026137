"""Run every bench in turn, then print the figures as the Markdown tables of RESULTS.md.

python bench/run_all.py            # full run, a few minutes on 2 cores
python bench/run_all.py --tiny     # seconds: checks that every script still works
python bench/run_all.py --report   # only print the tables from bench/out/*.json
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from common import BENCH, OUT, parser, python

SCRIPTS = {
    "ingest": ["--servers", "product,waitress,gunicorn,granian", "--duration", "2"],
    "servers": ["--servers", "product,granian,gunicorn,cheroot,pyruvate", "--rounds", "3"],
    "promises": ["--servers", "product,granian,gunicorn,cheroot,pyruvate"],
    "batch": [],
    "startup": [],
    "memory": [],
    "queries": [],
    "wiremock": [],
    "plans": [],
    "longpoll": [],
    "journal_memory": [],
    "durable": [],
}


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def report(results: dict[str, dict[str, Any]]) -> str:
    """Return Markdown tables for whichever results exist."""
    out = []
    if "ingest" in results:
        r = results["ingest"]
        out.append("### Single-call ingest (medians; emulator vs baseline on the same server)")
        out.append(
            _table(
                ["server", "call", "conns", "emulator req/s", "baseline req/s", "ratio",
                 "emulator CPU µs/req", "baseline CPU µs/req", "CPU ratio",
                 "emulator p50 / p99 ms", "baseline p50 / p99 ms"],
                [
                    [x["server"], x["kind"], x["connections"], x["emulator_rps"],
                     x["baseline_rps"], x["ratio"], x["emulator_cpu_us"], x["baseline_cpu_us"],
                     x["cpu_ratio"], " / ".join(map(str, x["emulator_p50_p99_ms"])),
                     " / ".join(map(str, x["baseline_p50_p99_ms"]))]
                    for x in r["ratios"]
                ],
            )
        )  # fmt: skip
        out.append("SIGTERM: " + json.dumps(r["sigterm"]))
    if "batch" in results:
        r = results["batch"]
        out.append(f"### Batch ingest ({r['mode']}, {r['messages_per_request']} per request)")
        out.append(
            _table(
                ["app", "conns", "req/s", "events/s", "p50 ms", "p99 ms"],
                [
                    [x["app"], x["connections"], x["rps"], x["events_per_s"], x["p50_ms"],
                     x["p99_ms"]]
                    for x in r["rows"]
                ],
            )
        )  # fmt: skip
    if "startup" in results:
        r = results["startup"]
        out.append(f"### Start-up (import: {r['import_events']} events, {r['import_bytes']} B)")
        out.append(
            _table(
                ["series", "runs", "median s", "min s", "max s"],
                [
                    [k, v["runs"], v["median_s"], v["min_s"], v["max_s"]]
                    for k, v in r.items()
                    if isinstance(v, dict) and "median_s" in v
                ],
            )
        )
    if "memory" in results:
        out.append("### Memory")
        rows = results["memory"]["rows"]
        out.append(_table(list(rows[0]), [list(x.values()) for x in rows]))
    if "queries" in results:
        out.append("### Query latency (1 connection)")
        rows = results["queries"]["ratios"]
        out.append(_table(list(rows[0]), [list(x.values()) for x in rows]))
    if "wiremock" in results:
        r = results["wiremock"]
        out.append(f"### Versus WireMock ({r['jar']}, start {r['wiremock_start_s']} s)")
        out.append(_table(list(r["ratios"][0]), [list(x.values()) for x in r["ratios"]]))
        out.append("RSS MB after the run: " + json.dumps(r["rss_mb"]))
    if "plans" in results:
        r = results["plans"]
        out.append(f"### Ingest with a {r['rules']}-rule tracking plan beside without")
        out.append(_table(list(r["ratios"][0]), [list(x.values()) for x in r["ratios"]]))
        out.append(_table(list(r["in_process"][0]), [list(x.values()) for x in r["in_process"]]))
    if "longpoll" in results:
        out.append("### Writes and long-polls (ms; one keep-alive connection writes in turn)")
        rows = []
        for x in results["longpoll"]["rows"]:
            for what in (
                "writes_alone",
                "writes_with_polls_parked",
                "release_all_at_once",
                "release_one_by_one",
                "writes_with_500_idle_connections",
            ):
                f = x[what]
                rows.append(
                    [
                        x["arrangement"],
                        x["workers"],
                        what,
                        f["p50_ms"],
                        f["p99_ms"],
                        f["max_ms"],
                        f.get("timed_out", ""),
                        f.get("released", ""),
                        f.get("saw_the_event", ""),
                    ]
                )
        out.append(_table(["arrangement", "workers", "measure", "p50", "p99", "max",
                           "timed out", "released", "with the event"], rows))  # fmt: skip
    if "journal_memory" in results:
        out.append("### Journal memory per entry")
        rows = results["journal_memory"]["rows"]
        out.append(_table(list(rows[0]), [list(x.values()) for x in rows]))
    if "durable" in results:
        r = results["durable"]
        out.append("### Durable state (events/s; ratio = data file / in memory, same run)")
        out.append(_table(list(r["ratios"][0]), [list(x.values()) for x in r["ratios"]]))
        s = r["startup"]
        out.append(f"Start-up from a data file of {s['events']} events ({s['data_file_bytes']} B)")
        out.append(
            _table(
                ["series", "runs", "median s", "min s", "max s", "median CPU s"],
                [
                    [k, v["runs"], v["median_s"], v["min_s"], v["max_s"], v["median_cpu_s"]]
                    for k, v in s.items()
                    if isinstance(v, dict)
                ],
            )
        )
    for name, r in results.items():
        out.append(f"{name}: load {r['machine']['loadavg']} at {r['machine']['utc']}")
    return "\n\n".join(out)


def main() -> None:
    """Run the benches (or only report) and print the tables."""
    cli = parser(__doc__, "all")
    cli.add_argument("--report", action="store_true", help="only print tables from bench/out")
    cli.add_argument("--only", help="comma list of benches to run: " + ",".join(SCRIPTS))
    args = cli.parse_args()
    names = args.only.split(",") if args.only else list(SCRIPTS)
    if not args.report:
        for name in names:
            argv = [python(), str(BENCH / f"{name}.py"), *SCRIPTS[name]]
            if args.tiny:
                argv.append("--tiny")
            print("+", " ".join(argv[1:]), flush=True)
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    results = {
        name: json.loads((OUT / f"{name}.json").read_text())
        for name in SCRIPTS
        if (OUT / f"{name}.json").exists()
    }
    print(report(results))


if __name__ == "__main__":
    sys.exit(main())
