"""`python -m emulator.bench` sizes a served emulator from outside and leaves nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from typing import Any

from tests.conftest import Served


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the bench module and return its finished process."""
    return subprocess.run(
        [sys.executable, "-m", "emulator.bench", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def get(url: str, token: str | None = None) -> Any:
    """GET a JSON document from the emulator."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def test_the_bench_reports_ingest_and_query_figures_and_resets_its_merchant(
    serve: Callable[..., Served],
) -> None:
    served = serve("--admin-token", "t0ken")
    done = bench("--url", served.url, "--duration", "0.5", "--queries", "20",
                 "--admin-token", "t0ken", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    track, batch = result["ingest"]["tracker_track"], result["ingest"]["segment_batch_100"]
    for row in (track, batch):
        assert row["requests"] > 0 and row["errors"] == 0, row
        assert row["per_s"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"], row
    assert batch["events_per_s"] == round(batch["per_s"] * 100, 1)
    listed, polled = (
        result["queries"]["events_of_a_lead"],
        result["queries"]["long_poll_after_write"],
    )
    assert listed["requests"] == 20 and polled["requests"] == 2
    assert 0 < polled["p50_ms"] < 5000  # answered by the write, not by the end of its wait
    # Its own merchant, gone afterwards; the journal forgot its calls too.
    assert result["merchant_id"].startswith("emulator-bench-")
    assert get(f"{served.url}/_emulator/merchants", "t0ken") == {"merchants": []}
    assert get(f"{served.url}/_emulator/requests", "t0ken")["requests"] == []


def test_the_bench_prints_a_table_and_refuses_an_unreachable_url(
    serve: Callable[..., Served],
) -> None:
    served = serve()
    done = bench("--url", served.url, "--duration", "0.3", "--queries", "10")
    assert done.returncode == 0, done.stderr
    assert "calls/s" in done.stdout and "events/s" in done.stdout
    gone = bench("--url", "http://127.0.0.1:9", "--duration", "0.3")
    assert gone.returncode == 2 and "cannot reach http://127.0.0.1:9" in gone.stderr
    assert "Traceback" not in gone.stderr
