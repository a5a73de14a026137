"""Query scaling: lead by id, leads by email and one lead's events, at 10,000 vs 1,000,000 events.

Two emulators run side by side on the product server, each filled in-process before it
serves (one lead per 10 events), and wrk asks each for 1,000 different leads in turn over one
keep-alive connection. The ratio large/small of p50 latency shows whether lookups scan.
"""

from __future__ import annotations

import random
from typing import Any

import apps
from common import (
    MERCHANT,
    free_port,
    parser,
    python,
    ratio,
    require_wrk,
    running,
    save,
    write_lines,
    wrk,
)

QUERIES = {
    "lead_by_id": "/_emulator/merchants/{m}/leads/lead-{k}",
    "leads_by_email": "/_emulator/merchants/{m}/leads?email=lead{k}%40example.com",
    "events_of_lead": "/_emulator/merchants/{m}/events?lead_id=lead-{k}",
}


def main() -> None:
    """Run the query bench and save bench/out/queries.json."""
    cli = parser(__doc__, "queries")
    cli.add_argument("--small", type=int, default=10_000)
    cli.add_argument("--large", type=int, default=1_000_000)
    cli.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    args = cli.parse_args()
    require_wrk()
    small, large = (1000, 10_000) if args.tiny else (args.small, args.large)
    limit = 30 if args.tiny else None
    duration = 1 if args.tiny else args.duration
    sizes = {"small": small, "large": large}
    ports = {name: free_port() for name in sizes}
    argv = {
        name: [python(), apps.__file__, "emulator", "--port", str(ports[name]), "--fill", str(n)]
        for name, n in sizes.items()
    }
    rows: list[dict[str, Any]] = []
    with (
        running("queries-small", argv["small"], ports["small"], timeout=600) as low,
        running("queries-large", argv["large"], ports["large"], timeout=600) as high,
    ):
        for query, template in QUERIES.items():
            # Leads every size has, so both answer the same-sized documents.
            picks = random.Random(1).sample(range(small // 10), min(1000, small // 10))
            paths = write_lines(f"{query}.paths", [template.format(m=MERCHANT, k=k) for k in picks])
            for name, run in (("small", low), ("large", high)):
                wrk(run.url, "", paths, 1, 1, limit=limit and 5, get_paths=True)
                figure = wrk(run.url, "", paths, 1, duration, limit=limit, get_paths=True)
                rows.append({"query": query, "events": sizes[name], **figure})
    ratios = []
    for query in QUERIES:
        lo, hi = (
            next(r for r in rows if r["query"] == query and r["events"] == n)
            for n in (small, large)
        )
        ratios.append(
            {
                "query": query,
                "p50_ms_small": lo["p50_ms"],
                "p50_ms_large": hi["p50_ms"],
                "p50_ratio": ratio(hi["p50_ms"], lo["p50_ms"]),
                "rps_ratio": ratio(lo["rps"], hi["rps"]),
            }
        )
    save("queries", {"small": small, "large": large, "rows": rows, "ratios": ratios}, args.json)


if __name__ == "__main__":
    main()
