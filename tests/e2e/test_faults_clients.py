"""Segment's own libraries under PRODUCT 4.6's five faults on /v1/batch: they retry, and the
merchant ends with every message exactly once, in order; the journal shows each fault and retry."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Served, require_node_package

pytestmark = pytest.mark.e2e
NODE_SCRIPT = Path(__file__).parent / "node" / "faults_node.js"
COUNT = 6
# 503 twice, 429 with Retry-After: 1 once, applied then 500 once, applied then no answer once.
FAULTS = [
    ({"status": 503}, 2),
    ({"status": 429, "headers": {"Retry-After": "1"}}, 1),
    ({"status": 500, "apply": True}, 1),
    ({"drop": "after"}, 1),
]


def add_faults(served: Served, merchant: str) -> list[str]:
    """Add the five faults on /v1/batch for one merchant; return the rules' ids, oldest first."""
    ids = []
    for action, times in FAULTS:
        rule = {"match": {"path": "/v1/batch", "merchant_id": merchant}, "action": action}
        r = requests.post(
            f"{served.url}/_emulator/faults", json={**rule, "times": times}, timeout=10
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["fault"]["id"])
    return ids


def get(served: Served, path: str, **params: Any) -> Any:
    r = requests.get(served.url + path, params=params, timeout=10)
    r.raise_for_status()
    return r.json()


def check(served: Served, merchant: str, rules: list[str], messages: list[str]) -> list[Any]:
    """Check the merchant holds each message once, in order; return its /v1/batch entries."""
    events = get(served, f"/_emulator/merchants/{merchant}/events")["events"]
    assert [e["message_id"] for e in events] == messages
    entries = get(served, "/_emulator/requests", merchant_id=merchant)["requests"]
    f503, f429, f500, fdrop = rules
    assert [(e["status"], e["fault_id"]) for e in entries] == [
        (503, f503),
        (503, f503),
        (429, f429),
        (500, f500),  # applied: every message lands here
        (0, fdrop),  # applied again (each a duplicate), and no answer
        (200, None),
    ]
    assert [s["reason"] for s in entries[-1]["skipped"]] == ["duplicate messageId"] * COUNT
    # Retry-After: 1 was honoured: the next attempt came a second after the 429 at least.
    waited = datetime.fromisoformat(entries[3]["at"]) - datetime.fromisoformat(entries[2]["at"])
    assert waited.total_seconds() >= 0.99, waited
    faults = get(served, "/_emulator/faults")["faults"]
    assert [(f["hits"], f["remaining"]) for f in faults] == [(2, 0), (1, 0), (1, 0), (1, 0)]
    return entries  # type: ignore[no-any-return]


def test_python_library_retries_into_exactly_once(serve: Callable[..., Served]) -> None:
    from segment.analytics import Client

    served = serve()
    rules = add_faults(served, "py-shop")
    errors: list[Any] = []
    client = Client(
        write_key="py-shop",  # open mode: the write key names the merchant
        host=served.url,
        sync_mode=False,
        upload_size=COUNT,  # one batch of every message, sent as soon as they are all queued
        max_retries=10,
        on_error=lambda error, batch: errors.append(error),
    )
    for i in range(COUNT):
        client.track(user_id="py-1", event=f"Step {i}", properties={"i": i}, message_id=f"py-{i}")
    client.flush()  # returns once the queue is delivered: retries included
    client.shutdown()
    assert errors == []
    entries = check(served, "py-shop", rules, [f"py-{i}" for i in range(COUNT)])
    # Its own retries count up; the 429 hands the batch back to the queue, which starts again.
    retries = [e["headers"].get("X-Retry-Count") for e in entries]
    assert retries == [None, "1", "2", None, "1", "2"]


def test_node_library_retries_into_exactly_once(serve: Callable[..., Served]) -> None:
    modules = require_node_package("@segment/analytics-node")
    served = serve()
    rules = add_faults(served, "node-shop")
    run = subprocess.run(
        ["node", str(NODE_SCRIPT), served.url, "node-shop", str(COUNT)],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "NODE_PATH": str(modules)},
        check=True,
    )
    assert [json.loads(line) for line in run.stdout.splitlines()] == []
    entries = check(served, "node-shop", rules, [f"node-{i}" for i in range(COUNT)])
    assert [e["headers"].get("X-Retry-Count") for e in entries] == [None, "1", "2", "3", "4", "5"]
