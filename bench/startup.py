"""Start-up: from process start until `wishpond-emulator ready` succeeds, median of N runs.

Each run starts `wishpond-emulator serve` and, at the same instant, `wishpond-emulator ready`
(which polls health every 20 ms), and times the ready command's exit 0. A second series polls
health from the bench itself every 5 ms, which shows the time without the ready command's own
start-up and polling interval. Runs cover an empty start and `--import` of a state file.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import payloads
from common import OUT, env_for_servers, free_port, parser, python, save, wait_http


def one_run(extra: list[str], how: str) -> float:
    """Start the emulator once and return the seconds until it is ready."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = env_for_servers()
    serve = [python(), "-m", "emulator", "serve", "--port", str(port), "--quiet", *extra]
    start = time.perf_counter()
    proc = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if how == "ready":
            ready = [python(), "-m", "emulator", "ready", "--url", url, "--timeout", "120"]
            code = subprocess.run(ready, env=env, capture_output=True, check=False).returncode
            seconds = time.perf_counter() - start
            if code != 0:
                raise RuntimeError(f"ready exited {code}")
        else:
            wait_http(url, "/_emulator/health", 120, proc)
            seconds = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(10)
    return seconds


def series(extra: list[str], how: str, runs: int) -> dict[str, Any]:
    """Run one series and return its median and spread."""
    times = [one_run(extra, how) for _ in range(runs)]
    return {
        "runs": runs,
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
    }


def import_file(events: int) -> Path:
    """Write (once) a state file with this many events and return its path."""
    path = OUT / f"state-{events}.json"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        path.write_text(json.dumps(payloads.state(events)), encoding="utf-8")
    return path


def main() -> None:
    """Run the start-up bench and save bench/out/startup.json."""
    cli = parser(__doc__, "startup")
    cli.add_argument("--runs", type=int, default=10)
    cli.add_argument("--events", type=int, default=100_000, help="events in the imported state")
    args = cli.parse_args()
    runs, events = (min(args.runs, 2), 1000) if args.tiny else (args.runs, args.events)
    state = import_file(events)
    with_import = ["--import", str(state)]
    save(
        "startup",
        {
            "import_events": events,
            "import_bytes": state.stat().st_size,
            "empty_ready": series([], "ready", runs),
            "empty_poll": series([], "poll", runs),
            "import_ready": series(with_import, "ready", runs),
            # Only shows what the ready command adds; fewer runs keep the bench short.
            "import_poll": series(with_import, "poll", max(1, min(runs, 3))),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
