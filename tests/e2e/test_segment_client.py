"""Segment's own Python library, batching in its thread, against a served emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import Served

try:
    from segment.analytics import Client
except ImportError:  # pragma: no cover - the e2e extra is missing
    if os.environ.get("EMULATOR_REQUIRE_E2E") == "1":
        raise
    pytest.skip(
        "segment-analytics-python is missing: pip install -e '.[e2e]'", allow_module_level=True
    )

pytestmark = pytest.mark.e2e


def get(served: Served, path: str) -> Any:
    r = requests.get(served.url + path, timeout=10)
    r.raise_for_status()
    return r.json()


def test_python_library_produces_the_mapped_leads_and_events(
    serve: Callable[..., Served],
) -> None:
    served = serve("--source", "wk_py:shop")
    errors: list[Any] = []
    client = Client(
        write_key="wk_py",
        host=served.url,
        sync_mode=False,  # the real consumer thread batches and posts to /v1/batch
        gzip=True,
        max_retries=0,
        on_error=lambda error, batch: errors.append((error, batch)),
    )
    client.track(anonymous_id="visit-1", event="Viewed Pricing", properties={"plan": "pro"})
    client.identify(
        user_id="1e810c197e",
        anonymous_id="visit-1",
        traits={"name": "Jane Kim", "email": "jane.kim@example.com", "phoneNumber": "555"},
    )
    client.track(user_id="1e810c197e", event="Signed Up", properties={"plan": "Startup"})
    client.identify(anonymous_id="visit-2", traits={"ignored": True})
    client.page(user_id="1e810c197e", name="Home")
    client.identify(user_id=42, traits={"firstName": "Ada", "leadScore": 9})
    client.flush()
    client.shutdown()
    assert errors == []

    leads = get(served, "/_emulator/merchants/shop/leads")["leads"]
    assert {lead["id"]: lead["attributes"] for lead in leads} == {
        "1e810c197e": {
            "name": "Jane Kim",
            "email": "jane.kim@example.com",
            "id": "1e810c197e",
            "first_name": "Jane",
            "last_name": "Kim",
            "phone_number": "555",
        },
        "42": {"id": "42", "first_name": "Ada", "lead_score": 9},
    }
    events = get(served, "/_emulator/merchants/shop/events")["events"]
    assert [
        (e["type"], e["lead_id"], e["event"], e["properties"], e["source"]) for e in events
    ] == [
        ("track", "1e810c197e", "Viewed Pricing", {"plan": "pro"}, "segment"),
        ("identify", "1e810c197e", None, None, "segment"),
        ("track", "1e810c197e", "Signed Up", {"plan": "Startup"}, "segment"),
        ("identify", "42", None, None, "segment"),
    ]
    assert get(served, "/_emulator/merchants")["merchants"][0]["id"] == "shop"
    skipped = [
        s["reason"]
        for entry in get(served, "/_emulator/requests?surface=segment")["requests"]
        for s in entry["skipped"]
    ]
    assert skipped == ["user id required", "not supported by the Wishpond destination"]


def test_python_library_is_refused_an_unknown_write_key(serve: Callable[..., Served]) -> None:
    served = serve(env={"WISHPOND_EMULATOR_SOURCES": "wk_py:shop"})
    errors: list[Any] = []
    client = Client(
        write_key="wk_wrong",
        host=served.url,
        max_retries=0,
        on_error=lambda error, batch: errors.append(error),
    )
    client.identify(user_id="u1", traits={"email": "u1@example.com"})
    client.flush()
    client.shutdown()
    assert [getattr(e, "status", None) for e in errors] == [401]
    assert get(served, "/_emulator/merchants")["merchants"] == []


def test_the_documented_five_lines(serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve()
    docs = (Path(__file__).parents[2] / "docs" / "segment.md").read_text()
    snippet = docs.split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in snippet.splitlines() if line.strip()]) == 5
    script = tmp_path / "five_lines.py"
    assert "http://127.0.0.1:9474" in snippet, "the documented example no longer names the URL"
    script.write_text(snippet.replace("http://127.0.0.1:9474", served.url))
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    [lead] = get(served, "/_emulator/merchants/my-shop/leads")["leads"]
    assert lead["attributes"] == {
        "name": "Jane Kim",
        "email": "jane.kim@example.com",
        "id": "1e810c197e",
        "first_name": "Jane",
        "last_name": "Kim",
    }
