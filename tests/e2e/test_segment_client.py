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


def journal(served: Served, **params: Any) -> list[Any]:
    r = requests.get(served.url + "/_emulator/requests", params=params, timeout=10)
    r.raise_for_status()
    return r.json()["requests"]  # type: ignore[no-any-return]


def test_python_library_batch_with_a_bad_message_and_a_retry(
    serve: Callable[..., Served],
) -> None:
    served = serve("--source", "wk_py:shop")
    errors: list[Any] = []
    client = Client(
        write_key="wk_py",
        host=served.url,
        sync_mode=False,
        max_retries=0,
        on_error=lambda error, batch: errors.append(error),
    )
    client.identify(user_id="u1", traits={"name": "Ada Lovelace", "createdAt": "2024-01-01"})
    client.track(
        user_id="u1",
        event="Paid",
        properties={"on": "2024-06-01T10:00:00+02:00"},
        message_id="order-1",
    )
    client.track(user_id="u1", event="Paid", message_id="order-1")  # the retry
    client.track(user_id="u1", event="Too long an id", message_id="x" * 101)  # over 100 chars
    client.track(user_id="u1", event="Kept from Wishpond", integrations={"Wishpond": False})
    client.flush()
    client.shutdown()
    assert errors == []  # Segment answers 200 and drops the bad message alone

    [lead] = get(served, "/_emulator/merchants/shop/leads")["leads"]
    assert lead["attributes"] == {
        "name": "Ada Lovelace",
        "id": "u1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "created_at": "2024-01-01T00:00:00.000Z",
    }
    events = get(served, "/_emulator/merchants/shop/events")["events"]
    assert [(e["type"], e["event"], e["properties"], e["message_id"]) for e in events[1:]] == [
        ("track", "Paid", {"on": "2024-06-01T08:00:00.000Z"}, "order-1"),
    ]
    for event in events:  # the library's timestamp, taken out of its clock by sentAt
        assert event["timestamp"] <= event["received_at"]
    [entry] = journal(served, outcome="dropped")
    [drop] = entry["drops"]
    assert (drop["index"], drop["field"], drop["message"]["event"]) == (
        3,
        "messageId",
        "Too long an id",
    )
    assert [s["reason"] for s in entry["skipped"]] == [
        "duplicate messageId",
        "disabled by the integrations option",
    ]


def test_python_library_and_an_unknown_write_key(serve: Callable[..., Served]) -> None:
    def send(served: Served) -> list[Any]:
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
        return errors

    # Faithful, as Segment: accepted and never routed; the journal says why.
    served = serve(env={"WISHPOND_EMULATOR_SOURCES": "wk_py:shop"})
    assert send(served) == []
    [entry] = journal(served, outcome="dropped")
    assert "wk_wrong" in entry["drops"][0]["reason"] and entry["merchant_id"] is None
    # Strict: 401, and the library reads the code and message (not "unknown").
    served = serve(
        env={
            "WISHPOND_EMULATOR_SOURCES": "wk_py:shop",
            "WISHPOND_EMULATOR_SEGMENT_RESPONSES": "strict",
        }
    )
    [error] = send(served)
    assert (error.status, error.code) == (401, "invalid_write_key")
    assert "--source wk_wrong:MERCHANT_ID" in error.message
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
