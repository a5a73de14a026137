"""The CLI as users run it: a served process, signals, export/import, env vars."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.cli import PLURAL_ENV, SERVE_OPTIONS, _resolve, build_parser, main, settings_from
from tests.conftest import Served, cli


def ready(url: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli(), "ready", "--url", url, "--timeout", str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 5,
    )


def test_serve_export_on_sigterm_then_import(serve: Callable[..., Served], tmp_path: Path) -> None:
    export = tmp_path / "out" / "state.json"
    served = serve("--export-on-exit", str(export))
    assert ready(served.url).returncode == 0
    s = requests.Session()
    base = {"merchant_id": "m1", "write_key": "k"}
    s.post(f"{served.url}/tracker/v1/track", json={**base, "anonymous_id": "a", "event": "Early"})
    r = s.post(
        f"{served.url}/tracker/v1/identify",
        json={**base, "anonymous_id": "a", "id": "u1", "attributes": {"email": "j@x.com"}},
    )
    assert r.status_code == 200
    s.post(f"{served.url}/tracker/v1/track", json={**base, "id": "u1", "event": "Paid"})
    live = s.get(f"{served.url}/_emulator/state").json()
    started = time.monotonic()
    served.proc.terminate()
    assert served.proc.wait(5) == 0
    assert time.monotonic() - started < 2
    saved = json.loads(export.read_text())
    assert saved == live
    assert [e["event"] for e in saved["merchants"]["m1"]["events"]] == ["Early", None, "Paid"]
    assert not list(export.parent.glob(".*.tmp"))

    again = serve("--import", str(export))
    assert ready(again.url).returncode == 0
    assert requests.get(f"{again.url}/_emulator/state").json() == live
    lead = requests.get(f"{again.url}/_emulator/merchants/m1/leads/u1").json()
    assert [e["event"] for e in lead["events"]] == ["Early", None, "Paid"]


def test_sigint_also_exports(serve: Callable[..., Served], tmp_path: Path) -> None:
    export = tmp_path / "state.json"
    served = serve("--export-on-exit", str(export))
    requests.post(
        f"{served.url}/tracker/v1/identify", json={"merchant_id": "m", "write_key": "k", "id": "u"}
    )
    served.proc.send_signal(2)
    assert served.proc.wait(5) == 0
    assert json.loads(export.read_text())["merchants"]["m"]["leads"][0]["id"] == "u"


def test_sigterm_releases_a_long_poll(serve: Callable[..., Served]) -> None:
    served = serve()
    with ThreadPoolExecutor(1) as pool:

        def long_poll() -> tuple[Any, float]:
            reply = requests.get(f"{served.url}/_emulator/merchants/m/events?wait=30")
            return reply.json(), time.monotonic()

        poll = pool.submit(long_poll)
        time.sleep(1.0)  # time for the request to reach the server and start waiting
        started = time.monotonic()
        served.proc.terminate()
        assert served.proc.wait(5) == 0
        assert time.monotonic() - started < 2
        body, answered = poll.result(5)
        assert body == {"events": []}
        assert answered >= started  # released by the shutdown, not answered before it


def test_ready_fails_when_nothing_listens() -> None:
    with socket.socket() as sock:  # a port nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = ready(f"http://127.0.0.1:{port}", timeout=0.3)
    assert result.returncode == 1
    assert "not ready" in result.stderr


def test_environment_variables_configure_serve(serve: Callable[..., Served]) -> None:
    served = serve(
        env={"WISHPOND_EMULATOR_MERCHANTS": "m1:k1,m2:k2", "WISHPOND_EMULATOR_ADMIN_TOKEN": "tok"}
    )
    r = requests.post(
        f"{served.url}/tracker/v1/identify",
        json={"merchant_id": "m1", "write_key": "bad", "id": "u"},
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_write_key"
    assert requests.get(f"{served.url}/_emulator/health").status_code == 401
    health = requests.get(f"{served.url}/_emulator/health", headers={"Authorization": "Bearer tok"})
    assert health.json()["mode"] == "strict"
    check = subprocess.run(
        [sys.executable, "-m", "emulator", "ready", "--url", served.url, "--timeout", "2"],
        env={"WISHPOND_EMULATOR_ADMIN_TOKEN": "tok", "PATH": ""},
        capture_output=True,
    )
    assert check.returncode == 0


def test_every_serve_flag_has_an_environment_variable() -> None:
    parser = build_parser()
    ns = parser.parse_args(["serve"])
    env = {
        "WISHPOND_EMULATOR_HOST": "0.0.0.0",
        "WISHPOND_EMULATOR_PORT": "1234",
        "WISHPOND_EMULATOR_MERCHANTS": "a:1",
        "WISHPOND_EMULATOR_SOURCES": "wk:a",
        "WISHPOND_EMULATOR_MAX_EVENTS": "5",
        "WISHPOND_EMULATOR_JOURNAL_SIZE": "6",
        "WISHPOND_EMULATOR_MAX_BODY_BYTES": "7",
        "WISHPOND_EMULATOR_ADMIN_TOKEN": "t",
        "WISHPOND_EMULATOR_IMPORT": "in.json",
        "WISHPOND_EMULATOR_EXPORT_ON_EXIT": "out.json",
        "WISHPOND_EMULATOR_THREADS": "3",
        "WISHPOND_EMULATOR_QUIET": "true",
        "WISHPOND_EMULATOR_MAX_WAIT": "2.5",
        "WISHPOND_EMULATOR_ALLOWED_HOSTS": "emulator.test,ci.internal",
        "WISHPOND_EMULATOR_JOURNAL_MAX_BYTES": "100000",
        "WISHPOND_EMULATOR_JOURNAL_BODY_BYTES": "512",
        "WISHPOND_EMULATOR_SEGMENT_RESPONSES": "strict",
        "WISHPOND_EMULATOR_TRACKING_PLAN": "all.json,m1=m1.json",
        "WISHPOND_EMULATOR_SEED": "42",
        "WISHPOND_EMULATOR_DATA_FILE": "state.db",
        "WISHPOND_EMULATOR_DATA_SYNC": "full",
        "WISHPOND_EMULATOR_IMPORT_MODE": "merge",
    }
    assert {PLURAL_ENV.get(o.dest, o.env) for o in SERVE_OPTIONS} == set(env)
    settings = settings_from(_resolve(ns, SERVE_OPTIONS, env))
    assert (settings.host, settings.port, settings.merchants, settings.sources) == (
        "0.0.0.0",
        1234,
        {"a": "1"},
        {"wk": "a"},
    )
    assert (settings.max_events, settings.journal_size, settings.max_body_bytes) == (5, 6, 7)
    assert (settings.admin_token, settings.import_path, settings.export_on_exit) == (
        "t",
        "in.json",
        "out.json",
    )
    assert settings.threads == 3 and settings.quiet is True and settings.max_wait == 2.5
    assert settings.allowed_hosts == ("emulator.test", "ci.internal")
    assert (settings.journal_max_bytes, settings.journal_body_bytes) == (100_000, 512)
    assert settings.segment_responses == "strict" and settings.seed == 42
    assert settings.tracking_plans == ("all.json", "m1=m1.json")
    assert (settings.data_file, settings.data_sync, settings.import_mode) == (
        "state.db",
        "full",
        "merge",
    )
    # Flags win over the environment.
    ns = parser.parse_args(
        ["serve", "--port", "99", "--merchant", "b:2", "--merchant", "c:3", "--source", "wk:b"]
    )
    flagged = settings_from(_resolve(ns, SERVE_OPTIONS, env))
    assert flagged.port == 99 and flagged.merchants == {"b": "2", "c": "3"}


@pytest.mark.parametrize(
    "argv,env,fragment",
    [
        (["--merchant", "nokey"], {}, "ID:KEY"),
        (["--max-events", "0"], {}, "--max-events must be at least 1"),
        (["--merchant", "m1:k", "--source", "sk:zz"], {}, "add --merchant zz:KEY"),
        (["--source", "sk:bad id"], {}, "not a usable merchant id"),
        ([], {"WISHPOND_EMULATOR_PORT": "eighty"}, "WISHPOND_EMULATOR_PORT"),
        (["--import", "/does/not/exist.json"], {}, "Cannot read"),
        (["--segment-responses", "lenient"], {}, "must be faithful or strict"),
        (["--tracking-plan", "/no/plan.json"], {}, "--tracking-plan /no/plan.json: cannot read"),
        (["--tracking-plan", "a.json", "--tracking-plan", "b.json"], {}, "two plans for every"),
        (
            [],
            {"WISHPOND_EMULATOR_TRACKING_PLAN": "m1=a.json,m1=b.json"},
            "names merchant 'm1' twice",
        ),
    ],
)
def test_bad_settings_exit_2_with_a_message(
    argv: list[str], env: dict[str, str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv, env) == 2
    assert fragment in capsys.readouterr().err


def test_import_of_a_bad_state_file_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"merchants": {"m": {"events": [{"type": "click"}]}}}))
    assert main(["--import", str(bad)], {}) == 2
    assert "not a state file" in capsys.readouterr().err


def test_a_tracking_plan_that_is_not_valid_is_one_line_naming_rule_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"rules": [{"type": "TRACK", "key": "Signed Up", "jsonSchema": 1}]}))
    assert main(["--tracking-plan", f"shop={plan}"], {}) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"--tracking-plan shop={plan}: " in err
    assert "rule 0 (TRACK 'Signed Up') at rules.0.jsonSchema" in err


def test_a_served_plan_checks_calls(tmp_path: Path, serve: Callable[..., Served]) -> None:
    plan = tmp_path / "shop.json"
    plan.write_text(json.dumps({"rules": [{"type": "TRACK", "key": "Paid", "jsonSchema": {}}]}))
    served = serve(env={"WISHPOND_EMULATOR_TRACKING_PLAN": str(plan)})
    body = {"merchant_id": "m", "write_key": "k", "anonymous_id": "v", "event": "Other"}
    event = requests.post(f"{served.url}/tracker/v1/track", json=body, timeout=5).json()["event"]
    assert [v["kind"] for v in event["violations"]] == ["unplanned_event"]
    report = requests.get(f"{served.url}/_emulator/merchants/m/tracking-plan/report", timeout=5)
    assert report.json()["plan"] == "shop" and report.json()["unplanned_seen"] == ["Other"]


def test_concurrent_calls_to_a_served_process_are_all_kept(serve: Callable[..., Served]) -> None:
    served = serve("--threads", "8")
    per_thread, threads = 500, 8

    def work(n: int) -> list[int]:
        s = requests.Session()
        statuses = []
        for i in range(per_thread):
            base = {"merchant_id": "m", "write_key": "k", "anonymous_id": f"v{n}"}
            if i % 5 == 0:
                r = s.post(
                    f"{served.url}/tracker/v1/identify",
                    json={**base, "id": f"u{n}", "attributes": {"i": i}},
                )
            else:
                r = s.post(
                    f"{served.url}/tracker/v1/track",
                    json={**base, "event": f"t{n}", "properties": {"i": i}},
                )
            statuses.append(r.status_code)
        return statuses

    with ThreadPoolExecutor(threads) as pool:
        results = [s for batch in pool.map(work, range(threads)) for s in batch]
    assert results == [200] * (per_thread * threads)
    events = requests.get(f"{served.url}/_emulator/merchants/m/events").json()["events"]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, per_thread * threads + 1))
    for n in range(threads):
        mine = [e for e in events if e["anonymous_id"] == f"v{n}"]
        assert [e["properties"] or e["attributes"] for e in mine] == [
            {"i": i} for i in range(per_thread)
        ]
        assert all(e["lead_id"] == f"u{n}" for e in mine)
        lead = requests.get(f"{served.url}/_emulator/merchants/m/leads/u{n}").json()
        assert lead["event_count"] == per_thread
        assert lead["attributes"] == {"i": per_thread - 5}


@pytest.mark.parametrize(
    "settings, problem",
    [
        ({"threads": 0}, "--threads must be at least 1"),
        ({"max_wait": -1.0}, "--max-wait must be 0 or more seconds"),
        ({"merchants": {"bad id": "k"}}, "not a usable merchant id"),
        ({"merchants": {"m1": "k"}, "sources": {"sk": "m2"}}, "add --merchant m2:KEY"),
    ],
)
def test_every_way_of_building_an_app_checks_the_settings(
    settings: dict[str, Any], problem: str
) -> None:
    from emulator import create_app
    from emulator.errors import EmulatorError
    from emulator.settings import Settings

    with pytest.raises(EmulatorError, match=problem):
        create_app(Settings(**settings))
