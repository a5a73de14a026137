"""Schemathesis against /openapi.json of a served emulator: no 5xx, and every answer conforms."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Served, require_tool

# Merchants exist implicitly (open mode): after DELETE a merchant's routes answer with empty
# lists, not 404, so the "deleted resource still available" check does not apply.
EXCLUDED = "use_after_free"
CPYTHON_AST_BUG = "AST constructor recursion depth mismatch"
# What schema-valid data some operations refuse by design, and why.
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
EXAMPLES = os.environ.get("EMULATOR_SCHEMATHESIS_EXAMPLES", "25" if os.environ.get("CI") else "10")


# The rules POST /_emulator/faults adds answer other operations with the 5xx (or the dropped
# connection) they ask for: the fault routes run on a server of their own.
FAULTS = "^/_emulator/faults"


@pytest.mark.parametrize(
    "operations", [("--exclude-path-regex", FAULTS), ("--include-path-regex", FAULTS)],
    ids=["every-operation-but-faults", "fault-rules"],
)  # fmt: skip
def test_schemathesis_finds_nothing(
    serve: Callable[..., Served], tmp_path: Path, operations: tuple[str, str]
) -> None:
    st = require_tool("st", "schemathesis, from the test extra")
    # The document describes valid Segment messages. Faithful answers (the default) accept an
    # invalid one with 200 and drop it, as Segment does; strict answers enforce the document.
    served = serve("--max-wait", "0.5", "--max-events", "200000", "--segment-responses", "strict")
    command = [
        st, "--config-file", str(CONFIG), "run", f"{served.url}/openapi.json", "--checks", "all",
        "--exclude-checks", EXCLUDED, "--max-examples", EXAMPLES, "--workers", "2",
        "--seed", "20261129", "--auth", "schemathesis-source:", "--no-color",
        "--request-timeout", "10", "--report-dir", str(tmp_path), *operations,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=540, cwd=tmp_path)
    if result.returncode and CPYTHON_AST_BUG in result.stdout and "- ST" not in result.stdout:
        # CPython 3.11's ast can crash while Hypothesis describes a lambda: a tool fault,
        # not a finding. Run once more; any real finding (an ST code) fails at once.
        result = subprocess.run(command, capture_output=True, text=True, timeout=540, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-20000:]
    assert "passed" in output
