"""Segment's @segment/analytics-node (npm, installed by .ci/run) against a served emulator."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Served, require_node_package

pytestmark = pytest.mark.e2e
SCRIPT = Path(__file__).parent / "node" / "analytics_node.js"


def get(served: Served, path: str, **params: Any) -> Any:
    r = requests.get(served.url + path, params=params, timeout=10)
    r.raise_for_status()
    return r.json()


def test_node_library_batch_with_a_bad_message_and_a_retry(
    serve: Callable[..., Served],
) -> None:
    modules = require_node_package("@segment/analytics-node")
    served = serve("--source", "wk_node:shop")
    run = subprocess.run(
        ["node", str(SCRIPT), served.url, "wk_node"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_PATH": str(modules)},
        check=True,
    )
    assert [json.loads(line) for line in run.stdout.splitlines()] == []  # 200 for the batch

    [lead] = get(served, "/_emulator/merchants/shop/leads")["leads"]
    assert lead["attributes"] == {
        "name": "Ada Lovelace",
        "id": "node-1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "created_at": "2024-01-01T00:00:00.000Z",
    }
    events = get(served, "/_emulator/merchants/shop/events")["events"]
    assert [(e["type"], e["event"], e["message_id"]) for e in events] == [
        ("identify", None, "node-identify-1"),
        ("track", "Paid", "node-paid-1"),
    ]
    entries = get(served, "/_emulator/requests", outcome="dropped")["requests"]
    assert [e["path"] for e in entries] == ["/v1/batch"]
    [drop] = entries[0]["drops"]
    assert (drop["field"], drop["message"]["event"]) == ("messageId", "Too long an id")
    assert "100" in drop["reason"]
    assert [s["reason"] for s in entries[0]["skipped"]] == [
        "duplicate messageId",
        "disabled by the integrations option",
    ]
