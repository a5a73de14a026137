"""Memory: RSS per stored event at 100,000 and 1,000,000 events of about 200 B of properties.

Each size runs in a fresh subprocess that builds the state through the store's public API
(one lead per 10 events: an identify, then tracks), every body decoded from its own JSON text
as a request's is. It reads VmRSS before and after, and subtracts the payload (the JSON size
of the properties and attributes) to give the overhead per event.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from typing import Any

from common import env_for_servers, parser, python, rss_bytes, save


def child(events: int) -> dict[str, Any]:
    """Fill a store in this process and return its RSS figures."""
    import payloads

    from emulator.store import Store

    store = Store(max_events=max(events, 1))
    payloads.fill(store, 100)  # import and warm every code path first
    store.reset()
    gc.collect()
    before = rss_bytes()
    payload = payloads.fill(store, events)
    gc.collect()
    after = rss_bytes()
    per_event = (after - before) / events
    return {
        "events": events,
        "rss_before_mb": round(before / 2**20, 1),
        "rss_after_mb": round(after / 2**20, 1),
        "rss_per_event_b": round(per_event),
        "payload_per_event_b": round(payload / events),
        "overhead_per_event_b": round(per_event - payload / events),
    }


def main() -> None:
    """Measure each size in its own process and save bench/out/memory.json."""
    cli = parser(__doc__, "memory")
    cli.add_argument("--sizes", default="100000,1000000", help="comma list of event counts")
    cli.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = cli.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    sizes = [2000] if args.tiny else [int(s) for s in args.sizes.split(",")]
    rows = []
    for events in sizes:
        done = subprocess.run(
            [python(), __file__, "--child", str(events)],
            capture_output=True,
            text=True,
            env=env_for_servers(),
            check=True,
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    save("memory", {"rows": rows}, args.json)


if __name__ == "__main__":
    sys.exit(main())
