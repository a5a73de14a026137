"""Every CLI mistake: one line naming the flag or variable used, the problem and the fix; exit 2."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from emulator.cli import main
from tests.conftest import Served, cli


@pytest.fixture
def busy_port() -> Iterator[int]:
    """Return a loopback port another socket listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run(argv: list[str], environ: dict[str, str]) -> int | str | None:
    """Run the CLI in-process; argparse's own refusals exit through SystemExit."""
    try:
        return main(argv, environ)
    except SystemExit as exited:
        return exited.code


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wishpond-emulator: "), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "flag,env,value,words",
    [
        ("--port", "PORT", "70000", ["out of range", "1 to 65535"]),
        ("--port", "PORT", "-5", ["out of range"]),
        ("--port", "PORT", "eighty", ["whole number"]),
        ("--host", "HOST", "999.1.1.1", ["not an IP address or host name", "127.0.0.1"]),
        ("--host", "HOST", "no-such-host.invalid", ["does not resolve", "127.0.0.1"]),
        ("--source", "SOURCES", "foo", ["WRITE_KEY:MERCHANT_ID", "'foo'"]),
        ("--merchant", "MERCHANTS", "nokey", ["ID:KEY"]),
        ("--max-events", "MAX_EVENTS", "0", ["at least 1"]),
        ("--journal-max-bytes", "JOURNAL_MAX_BYTES", "0", ["at least 1"]),
        ("--allowed-host", "ALLOWED_HOSTS", "http://x/", ["not a host name"]),
        ("--admin-token", "ADMIN_TOKEN", "", ["empty", "leave the option out"]),
        ("--data-file", "DATA_FILE", "/", ["/ is a directory", "name a file in it"]),
        ("--data-sync", "DATA_SYNC", "sometimes", ["normal or full", "'sometimes'"]),
        ("--import-mode", "IMPORT_MODE", "append", ["replace or merge", "'append'"]),
    ],
)
def test_a_bad_value_names_the_flag_or_the_variable_that_gave_it(
    flag: str,
    env: str,
    value: str,
    words: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run([flag, value], {}) == 2
    err = one_line(capsys)
    assert flag in err and all(w in err for w in words), err
    variable = "WISHPOND_EMULATOR_" + env
    assert main([], {variable: value}) == 2
    err = one_line(capsys)
    assert variable in err and flag not in err and all(w in err for w in words), err


def test_a_busy_port_is_one_line(busy_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", str(busy_port)], {}) == 2
    err = one_line(capsys)
    assert f"--port {busy_port} is in use" in err and "0 picks a free one" in err
    assert main([], {"WISHPOND_EMULATOR_PORT": str(busy_port)}) == 2
    assert f"WISHPOND_EMULATOR_PORT {busy_port} is in use" in one_line(capsys)


def test_an_address_of_another_machine_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "192.0.2.1", "--port", "0"], {}) == 2  # TEST-NET-1, never local
    assert "not an address of this machine" in one_line(capsys)


def test_an_unknown_flag_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--colour", "red"], {}) == 2
    assert "--colour" in one_line(capsys)


@pytest.mark.parametrize("kind", ["under a file", "a directory"])
def test_an_export_path_that_cannot_be_written_is_found_at_start(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = blocker / "state.json" if kind == "under a file" else tmp_path
    started = time.monotonic()
    assert main(["--export-on-exit", str(path), "--port", "0"], {}) == 2
    assert time.monotonic() - started < 5  # refused at once, never served
    err = one_line(capsys)
    assert f"--export-on-exit {path}" in err
    assert ("is a file, not a directory" if kind == "under a file" else "is a directory") in err


def test_ready_against_a_token_protected_server_says_the_token_is_needed(
    serve: Callable[..., Served],
) -> None:
    served = serve("--admin-token", "s3cret")
    started = time.monotonic()
    done = subprocess.run(
        [*cli(), "ready", "--url", served.url, "--timeout", "10"],
        capture_output=True,
        text=True,
        timeout=15,
        env={k: v for k, v in os.environ.items() if not k.startswith("WISHPOND_EMULATOR_")},
    )
    assert done.returncode == 2 and time.monotonic() - started < 5  # no 10 s of retries
    assert done.stderr.count("\n") == 1 and "--admin-token" in done.stderr
    wrong = subprocess.run(
        [*cli(), "ready", "--url", served.url, "--admin-token", "nope"],
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert wrong.returncode == 2 and "does not match" in wrong.stderr


def test_an_export_keeps_the_files_mode_and_leaves_no_temporary_file(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    kept.chmod(0o640)
    # A kill -9 during an earlier export left its temporary file behind.
    stale = tmp_path / ".kept.json.k9x2a1.tmp"
    stale.write_text('{"half": ')
    served = serve("--export-on-exit", str(kept))
    assert not stale.exists()  # cleaned at start
    body = {"merchant_id": "m1", "write_key": "k", "id": "u1"}
    requests.post(f"{served.url}/tracker/v1/identify", json=body, timeout=5)
    stale.write_text('{"half": ')  # and again, during the run: cleaned at the export
    assert served.stop() == 0
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert "u1" in kept.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]


def test_a_new_export_file_is_0644_under_the_umask(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    fresh = tmp_path / "new" / "state.json"
    old = os.umask(0o022)
    try:
        served = serve("--export-on-exit", str(fresh))
    finally:
        os.umask(old)
    assert served.stop() == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
