"""connect.js in Chromium under faults: 503s, dropped connections and a reload mid-queue. Every
call lands once and in order, and flush() resolves only once the last has landed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.conftest import Served
from tests.e2e.test_browser import admin, open_page, run, wait_loaded, warnings

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Route

pytestmark = pytest.mark.e2e
QUEUED = "Object.keys(localStorage).filter((k) => k.startsWith('wishpond_queue:')).length"


def add_fault(
    emulator: Served, merchant: str, action: Any, path: str | None = None, times: int | None = None
) -> str:
    """Add a rule for one merchant's calls (on one path); return its id."""
    rule = {"match": {"merchant_id": merchant, **({"path": path} if path else {})}}
    rule.update(action=action, times=times)
    r = requests.post(f"{emulator.url}/_emulator/faults", json=rule, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["fault"]["id"]  # type: ignore[no-any-return]


def landed(emulator: Served, merchant: str) -> list[tuple[str, str | None]]:
    """Return the merchant's events as (type, title), checking each message id is there once."""
    events = admin(emulator, f"merchants/{merchant}/events")["events"]
    ids = [e["message_id"] for e in events]
    assert None not in ids and len(set(ids)) == len(ids), ids
    return [(e["type"], e["event"]) for e in events]


def entries(emulator: Served, merchant: str) -> list[dict[str, Any]]:
    return admin(emulator, "requests", merchant_id=merchant)["requests"]  # type: ignore[no-any-return]


def test_503s_are_retried_and_flush_waits_for_the_last_call(
    context: BrowserContext, pages: str, emulator: Served
) -> None:
    merchant = "faults-503"
    rule = add_fault(emulator, merchant, {"status": 503}, "/tracker/v1/track", times=3)
    page, console = open_page(context, pages, "plain", emulator, merchant)
    wait_loaded(page)
    run(
        page,
        """(() => {
            Wishpond.Tracker.identify('lead-503', {plan: 'Pro'});
            for (const title of ['A', 'B', 'C']) Wishpond.Tracker.track(title);
            return Wishpond.Tracker.flush();
        })()""",
    )
    # No waiting: flush() resolving means every call has landed.
    assert landed(emulator, merchant) == [
        ("identify", None),
        ("track", "A"),
        ("track", "B"),
        ("track", "C"),
    ]
    faulted = [(e["status"], e["fault_id"]) for e in entries(emulator, merchant) if e["fault_id"]]
    assert faulted == [(503, rule)] * 3
    [warning] = warnings(console)  # one for the outage, none per retry
    assert "HTTP 503 to track; retrying until it lands" in warning
    assert page.evaluate(QUEUED) == 0


def test_a_429_is_retried_after_its_retry_after(
    context: BrowserContext, pages: str, emulator: Served
) -> None:
    merchant = "faults-429"
    action = {"status": 429, "headers": {"Retry-After": "1"}, "body": {"error": "Slow down"}}
    rule = add_fault(emulator, merchant, action, "/tracker/v1/identify", times=1)
    page, _ = open_page(context, pages, "plain", emulator, merchant)
    wait_loaded(page)
    run(page, "Wishpond.Tracker.identify('lead-429').then(() => Wishpond.Tracker.flush())")
    assert landed(emulator, merchant) == [("identify", None)]
    limited, retried = entries(emulator, merchant)
    assert (limited["status"], limited["fault_id"], retried["status"]) == (429, rule, 200)
    # The backoff alone would have retried after about 0.25 s: the page read Retry-After.
    waited = datetime.fromisoformat(retried["at"]) - datetime.fromisoformat(limited["at"])
    assert waited.total_seconds() >= 0.99, waited


def test_dropped_connections_are_retried_without_doubling_a_call(
    context: BrowserContext, pages: str, emulator: Served
) -> None:
    merchant = "faults-drop"
    before = add_fault(emulator, merchant, {"drop": "before"}, "/tracker/v1/track", times=1)
    after = add_fault(emulator, merchant, {"drop": "after"}, "/tracker/v1/page", times=1)
    aborted: list[str] = []

    def network_down_once(route: Route) -> None:
        if not aborted:
            aborted.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    context.route(f"{emulator.url}/tracker/v1/identify", network_down_once)
    page, _ = open_page(context, pages, "plain", emulator, merchant)
    wait_loaded(page)
    run(
        page,
        """(() => {
            Wishpond.Tracker.identify('lead-drop');
            Wishpond.Tracker.track('Dropped Before');
            Wishpond.Tracker.page({section: 'pricing'});
            Wishpond.Tracker.track('Last');
            return Wishpond.Tracker.flush();
        })()""",
    )
    assert aborted  # the browser's own network failed the first identify
    assert landed(emulator, merchant) == [
        ("identify", None),
        ("track", "Dropped Before"),
        ("page", None),
        ("track", "Last"),
    ]
    journal = [(e["path"], e["status"], e["fault_id"]) for e in entries(emulator, merchant)]
    assert journal == [
        ("/tracker/v1/identify", 200, None),  # the aborted attempt never reached the emulator
        ("/tracker/v1/track", 0, before),  # closed unanswered, nothing applied
        ("/tracker/v1/track", 200, None),
        ("/tracker/v1/page", 0, after),  # applied, answer lost
        ("/tracker/v1/page", 200, None),  # the retry: a duplicate, acknowledged
        ("/tracker/v1/track", 200, None),
    ]
    assert entries(emulator, merchant)[4]["skipped"][0]["reason"] == "duplicate message_id"


def test_a_reload_mid_queue_sends_every_call_once_in_order(
    context: BrowserContext, pages: str, emulator: Served
) -> None:
    merchant = "faults-reload"
    # No times: an outage that lasts across the reload, until the test removes the rule.
    rule = add_fault(emulator, merchant, {"status": 503}, "/tracker/v1/track")
    page, _ = open_page(context, pages, "plain", emulator, merchant)
    wait_loaded(page)
    page.evaluate("for (const t of ['R0', 'R1', 'R2']) Wishpond.Tracker.track(t); null")
    admin(emulator, "requests", merchant_id=merchant, outcome="faulted", wait=10, min_count=1)
    assert page.evaluate(QUEUED) == 3  # none acknowledged: all kept

    page.reload()
    wait_loaded(page)
    requests.delete(f"{emulator.url}/_emulator/faults/{rule}", timeout=10).raise_for_status()
    run(page, "Wishpond.Tracker.track('R3').then(() => Wishpond.Tracker.flush())")
    assert landed(emulator, merchant) == [("track", f"R{i}") for i in range(4)]
    assert page.evaluate(QUEUED) == 0


def test_without_storage_calls_still_retry_in_memory(
    context: BrowserContext, pages: str, emulator: Served
) -> None:
    context.add_init_script(
        "Object.defineProperty(window, 'localStorage', {configurable: true, get() {"
        " throw new DOMException('storage is blocked', 'SecurityError'); }});"
    )
    merchant = "faults-no-storage"
    add_fault(emulator, merchant, {"status": 502}, times=2)
    page, _ = open_page(context, pages, "plain", emulator, merchant)
    wait_loaded(page)
    run(page, "(Wishpond.Tracker.track('One'), Wishpond.Tracker.track('Two'))")
    run(page, "Wishpond.Tracker.flush()")
    assert landed(emulator, merchant) == [("track", "One"), ("track", "Two")]
