"""Journal memory: RSS per request-journal entry, for the kinds of call that weigh most.

Each kind runs twice, side by side, in fresh subprocesses that build the app as `serve` does
and send the same calls through Flask's test client (the whole request path, no sockets): once
with the journal as configured and once with a journal of one entry. Each reads VmRSS before
and after; the difference between the two growths, divided by the entries the journal holds,
is what an entry costs (whatever else the calls leave behind, stored events or allocator
slack, is in both). With `--journal-max-bytes` the journal stops growing at its bound.
Kinds:
- `accepted`: tracker tracks with about 200 B of properties (10,000, the default entry cap);
- `rejected_batch`: Segment batches of 10,000 invalid messages (each entry lists its errors);
- `big_body`: rejected tracker calls with a 100 KiB body of random text (it does not deflate),
  filling a 16 MiB journal past its bound.

`--root DIR` measures the emulator package of another checkout (for a before/after figure);
a journal without a byte bound reports null for its counted bytes.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import random
import subprocess
import sys
from typing import Any

from common import ROOT, env_for_servers, parser, python, rss_bytes, save

KINDS = ("accepted", "rejected_batch", "big_body")


def _calls(kind: str, tiny: bool) -> tuple[str, list[tuple[str, bytes]], dict[str, Any]]:
    """Return the settings note, the (path, body) calls and the Settings overrides of a kind."""
    if kind == "accepted":
        n = 200 if tiny else 10_000
        props = {f"p{i}": "v" * 16 for i in range(8)}
        calls = [
            (
                "/tracker/v1/track",
                json.dumps(
                    {"merchant_id": "m", "write_key": "k", "anonymous_id": f"a{i}",
                     "event": "Viewed", "properties": props}
                ).encode(),
            )
            for i in range(n)
        ]  # fmt: skip
        return "default journal", calls, {}
    if kind == "rejected_batch":
        n, size = (1, 300) if tiny else (20, 10_000)
        body = json.dumps({"batch": [{"type": "track", "userId": "u"}] * size}).encode()
        return f"{size}-message batches", [("/v1/batch", body)] * n, {}
    n = 10 if tiny else 2000
    noise = base64.b64encode(random.Random(7).randbytes(76_800)).decode()  # does not deflate
    body = json.dumps(
        {"merchant_id": "m", "write_key": "k", "anonymous_id": "a", "event": "", "x": noise}
    ).encode()
    return "16 MiB journal", [("/tracker/v1/track", body)] * n, {"journal_max_bytes": 16 * 2**20}


def child(kind: str, tiny: bool, minimal: bool) -> dict[str, Any]:
    """Journal one kind of call in this process and return its RSS figures."""
    import emulator
    from emulator import create_app
    from emulator.settings import Settings

    note, calls, overrides = _calls(kind, tiny)
    if minimal:
        overrides = {"journal_size": 1}
    try:
        settings = Settings(quiet=True, **overrides)
    except TypeError:  # a checkout without --journal-max-bytes
        settings = Settings(quiet=True)
    app = create_app(settings)
    client = app.test_client()
    headers = {"Authorization": "Basic bTo=", "Content-Type": "application/json"}
    for path, body in calls[:5]:  # import and warm every code path first
        client.post(path, data=body, headers=headers)
    client.post("/_emulator/reset")
    gc.collect()
    before = rss_bytes()
    for path, body in calls:
        client.post(path, data=body, headers=headers)
    gc.collect()
    after = rss_bytes()
    snap = client.get("/_emulator/requests?after_id=0").get_json()
    kept = len(snap["requests"])
    counted = snap.get("bytes")
    return {
        "kind": kind,
        "package": os.path.dirname(emulator.__file__),
        "setting": note,
        "calls": len(calls),
        "entries_kept": kept,
        "dropped": snap["dropped"],
        "rss_growth": after - before,
        "counted": counted,
    }


def measure(kind: str, tiny: bool, env: dict[str, str]) -> dict[str, Any]:
    """Run a kind with its journal and with a one-entry journal; return the entry's cost."""
    runs = []
    for minimal in (False, True):
        argv = [python(), __file__, "--child", kind] + ["--tiny"] * tiny + ["--minimal"] * minimal
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    full, bare = runs
    kept, counted = full["entries_kept"], full["counted"]
    per_entry = (full["rss_growth"] - bare["rss_growth"]) / max(kept - 1, 1)
    return {
        "kind": kind,
        "package": full["package"],
        "setting": full["setting"],
        "calls": full["calls"],
        "entries_kept": kept,
        "dropped": full["dropped"],
        "rss_growth_mb": round(full["rss_growth"] / 2**20, 1),
        "rss_growth_one_entry_journal_mb": round(bare["rss_growth"] / 2**20, 1),
        "rss_per_entry_b": round(per_entry),
        "counted_per_entry_b": round(counted / max(kept, 1)) if counted is not None else None,
        "journal_counted_mb": round(counted / 2**20, 2) if counted is not None else None,
    }


def main() -> None:
    """Measure each kind in its own process and save bench/out/journal_memory.json."""
    cli = parser(__doc__, "journal_memory")
    cli.add_argument("--kinds", default=",".join(KINDS), help="comma list of " + ",".join(KINDS))
    cli.add_argument("--root", default=str(ROOT), help="checkout whose emulator is measured")
    cli.add_argument("--child", help=argparse.SUPPRESS)
    cli.add_argument("--minimal", action="store_true", help=argparse.SUPPRESS)
    args = cli.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.tiny, args.minimal)))
        return
    env = env_for_servers()
    env["PYTHONPATH"] = os.pathsep.join((str(ROOT / "bench"), args.root))
    rows = [measure(kind, args.tiny, env) for kind in args.kinds.split(",")]
    save("journal_memory", {"root": args.root, "rows": rows}, args.json)


if __name__ == "__main__":
    sys.exit(main())
