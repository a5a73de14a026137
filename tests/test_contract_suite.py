"""The reusable contract suite passes against served emulators, in open and strict mode."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Served

ROOT = Path(__file__).resolve().parent.parent


def run_suite(url: str, tmp_path: Path, *extra: str) -> tuple[int, set[str], str]:
    report = tmp_path / "report.xml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "contract",
            "--base-url",
            url,
            *extra,
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={report}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tree = ET.parse(report)
    cases = tree.getroot().iter("testcase")
    skipped = {c.get("name", "").split("[")[0] for c in cases if c.find("skipped") is not None}
    ran = sum(1 for _ in tree.getroot().iter("testcase"))
    return ran, skipped, result.stdout + result.stderr if result.returncode else ""


@pytest.mark.parametrize(
    "args,suite_args,may_skip",
    [
        (("--max-events", "5000"), (), {"test_strict_mode_credentials", "test_admin_token"}),
        (
            (
                "--merchant",
                "cm:ck",
                "--merchant",
                "other:ok",
                "--admin-token",
                "tok",
                "--source",
                "sk:cm",
                "--segment-responses",
                "strict",
            ),
            ("--merchant", "cm:ck", "--admin-token", "tok", "--segment-write-key", "sk"),
            {"test_storage_full"},
        ),
    ],
    ids=["open-small-cap", "strict-with-token"],
)
def test_contract_suite_against_a_served_emulator(
    serve: Callable[..., Served],
    tmp_path: Path,
    args: tuple[str, ...],
    suite_args: tuple[str, ...],
    may_skip: set[str],
) -> None:
    served = serve(*args)
    ran, skipped, failure = run_suite(served.url, tmp_path, *suite_args)
    assert not failure, failure
    assert ran >= 60
    assert skipped == may_skip


# Codes only the command line gives (it prints them), the handler of last resort, and what the
# app answers a dropping fault with on a server other than its own (which sends nothing).
NOT_ON_THE_WIRE = {
    "invalid_setting",
    "invalid_import",
    "invalid_data_file",
    "internal_error",
    "connection_dropped",
}
# A data file that cannot be written (a full disk) or is closing, which no suite can bring about;
# tests/test_datafile.py brings it about.
NOT_BROUGHT_ABOUT = {"data_file_failed"}


def test_every_error_code_is_exercised_by_the_contract_suite() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "emulator").rglob("*.py"))
    raised = set(re.findall(r'EmulatorError\(\s*"([a-z_]+)"', source))
    raised |= {"not_found", "method_not_allowed", "payload_too_large", "unsupported_media_type"}
    suite = "\n".join(p.read_text() for p in (ROOT / "contract").glob("test_*.py"))
    exercised = {code for code in raised if f'"{code}"' in suite}
    assert raised - NOT_ON_THE_WIRE - NOT_BROUGHT_ABOUT - exercised == set()
