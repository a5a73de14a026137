"""The reusable contract suite passes against served emulators, in open and strict mode."""

from __future__ import annotations

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
            ("--merchant", "cm:ck", "--merchant", "other:ok", "--admin-token", "tok"),
            ("--merchant", "cm:ck", "--admin-token", "tok"),
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
