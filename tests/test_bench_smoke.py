"""The bench scripts run in their tiny mode and produce figures (their speed is not judged)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool

BENCH = Path(__file__).resolve().parent.parent / "bench"


def run_bench(name: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    """Run bench/<name>.py --tiny and return the JSON it wrote."""
    out = tmp_path / f"{name}.json"
    # Its own session, so a timeout ends the servers, wrk and java it started too.
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / f"{name}.py"), "--tiny", "--json", str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, f"{name} failed:\n{stdout[-2000:]}\n{stderr[-3000:]}"
    result: dict[str, Any] = json.loads(out.read_text())
    assert result["bench"] == name
    assert result["machine"]["cores"] >= 1
    return result


def assert_load_figures(row: dict[str, Any]) -> None:
    """Check one wrk row: requests answered without errors, positive rate and latencies."""
    assert row["requests"] > 0 and row["errors"] == 0, row
    assert row["rps"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"], row


def test_ingest_measures_both_apps_and_their_ratio(tmp_path: Path) -> None:
    require_tool("wrk", "the load generator of the bench")
    result = run_bench("ingest", tmp_path, "--servers", "product")
    assert {(r["app"], r["kind"], r["connections"]) for r in result["rows"]} == {
        (app, kind, c)
        for app in ("emulator", "baseline")
        for kind in ("identify", "track")
        for c in (1, 8, 32)
    }
    for row in result["rows"]:
        assert_load_figures(row)
    assert all(r["ratio"] > 0 for r in result["ratios"])
    assert result["sigterm"]["product"]["emulator"]["exit_code"] == 0


def test_batch_reports_events_per_second(tmp_path: Path) -> None:
    require_tool("wrk", "the load generator of the bench")
    result = run_bench("batch", tmp_path)
    for row in result["rows"]:
        assert_load_figures(row)
        assert row["events_per_s"] == pytest.approx(row["rps"] * result["messages_per_request"])
    assert result["best_events_per_s"] > 0


def test_startup_reports_medians(tmp_path: Path) -> None:
    result = run_bench("startup", tmp_path, "--runs", "1")
    for series in ("empty_ready", "empty_poll", "import_ready", "import_poll"):
        assert 0 < result[series]["min_s"] <= result[series]["median_s"] <= result[series]["max_s"]


def test_memory_reports_bytes_per_event(tmp_path: Path) -> None:
    (row,) = run_bench("memory", tmp_path)["rows"]
    assert row["rss_after_mb"] > row["rss_before_mb"]
    assert row["payload_per_event_b"] > 100
    # Each figure is rounded on its own, so the difference may be one byte off.
    assert (
        abs(row["overhead_per_event_b"] - (row["rss_per_event_b"] - row["payload_per_event_b"]))
        <= 1
    )


def test_queries_compare_two_sizes(tmp_path: Path) -> None:
    require_tool("wrk", "the load generator of the bench")
    result = run_bench("queries", tmp_path)
    assert {r["query"] for r in result["ratios"]} == {
        "lead_by_id",
        "leads_by_email",
        "events_of_lead",
    }
    for row in result["rows"]:
        assert_load_figures(row)
    assert all(r["p50_ratio"] > 0 for r in result["ratios"])


def test_wiremock_is_measured_beside_the_emulator(tmp_path: Path) -> None:
    require_tool("wrk", "the load generator of the bench")
    require_tool("java", "WireMock runs on a JRE")
    require_tool("npm", "WireMock is installed from the npm package wiremock")
    result = run_bench("wiremock", tmp_path)
    assert {r["server"] for r in result["rows"]} == {"wiremock", "emulator"}
    for row in result["rows"]:
        assert_load_figures(row)
    assert all(r["ratio"] > 0 for r in result["ratios"])


def test_longpoll_measures_writes_beside_parked_long_polls(tmp_path: Path) -> None:
    (row,) = run_bench("longpoll", tmp_path)["rows"]
    assert row["arrangement"] == "parked" and row["parked_polls"] > 0
    for what in ("writes_alone", "writes_with_polls_parked", "writes_with_500_idle_connections"):
        assert row[what]["timed_out"] == 0 and 0 < row[what]["p50_ms"] <= row[what]["max_ms"]
    assert row["release_all_at_once"]["released"] == row["parked_polls"]
    assert row["release_one_by_one"]["released"] == row["parked_polls"]


def test_journal_memory_reports_bytes_per_entry(tmp_path: Path) -> None:
    rows = run_bench("journal_memory", tmp_path)["rows"]
    assert [r["kind"] for r in rows] == ["accepted", "rejected_batch", "big_body"]
    for row in rows:
        assert row["entries_kept"] > 0 and row["counted_per_entry_b"] > 0


def test_durable_measures_the_data_file_beside_memory_and_its_startup(tmp_path: Path) -> None:
    require_tool("wrk", "the load generator of the bench")
    result = run_bench("durable", tmp_path)
    kinds = ("track", "identify", "batch")
    assert {(r["mode"], r["kind"]) for r in result["rows"]} == {
        (mode, kind) for mode in ("memory", "normal", "full") for kind in kinds
    }
    for row in result["rows"]:
        assert_load_figures(row)
    for row in result["ratios"]:
        assert row["normal_ratio"] > 0 and row["full_ratio"] > 0 and row["normal_cpu_ratio"] > 0
    assert result["total_events"]["normal"] > 0 and result["total_events"]["full"] > 0
    startup = result["startup"]
    for series in ("data_file", "import"):
        assert 0 < startup[series]["min_s"] <= startup[series]["max_s"]
        assert startup[series]["median_cpu_s"] > 0
    assert startup["data_file_bytes"] > 0 and startup["ratio_to_import"] > 0


def test_without_wrk_the_bench_says_how_to_install_it(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(BENCH / "ingest.py"), "--tiny"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "wrk is not installed" in done.stderr and "apt-get install wrk" in done.stderr


def test_plans_measure_ingest_with_a_plan_beside_without(tmp_path: Path) -> None:
    require_tool("wrk", "the load generator of the bench")
    result = run_bench("plans", tmp_path)
    assert result["rules"] == 50
    # The plan was applied on both surfaces, and the conforming calls broke none of it.
    assert all(c["planned_seen"] > 0 and c["violations"] == 0 for c in result["checked"].values())
    assert {(r["app"], r["load"]) for r in result["rows"]} == {
        (app, load) for app in ("with_plan", "without") for load in ("batch", "track")
    }
    for row in result["rows"]:
        assert_load_figures(row)
    assert all(r["ratio"] > 0 for r in result["ratios"])
    assert {r["load"] for r in result["in_process"]} == {"batch", "track"}
    assert all(r["cpu_ratio"] > 0 for r in result["in_process"])


def test_servers_sets_each_server_beside_the_bare_app(tmp_path: Path) -> None:
    require_tool("wrk", "the load generator of the bench")
    result = run_bench("servers", tmp_path, "--servers", "product")
    assert {(r["app"], r["load"]) for r in result["rows"]} == {
        (app, load) for app in ("emulator", "baseline") for load in ("track", "batch")
    }
    for row in result["rows"]:
        assert_load_figures(row)
    for row in result["summary"]:
        assert row["ratio"] > 0 and row["emulator_per_s"] > 0 and row["baseline_per_s"] > 0, row


def test_promises_checks_each_promise_of_the_served_path(tmp_path: Path) -> None:
    (row,) = run_bench("promises", tmp_path, "--servers", "product")["rows"]
    assert row["server"] == "product"
    assert row["drain"]["kept"] and row["in_process"]["kept"], row
    (served,) = row["served"]
    kept = {name: value for name, value in served.items() if name.endswith("kept")}
    assert kept == {"long_polls_kept": True, "idle_kept": True}, served
    assert served["framing"]["kept"] and served["no_answer"]["kept"] and served["host"]["kept"]
