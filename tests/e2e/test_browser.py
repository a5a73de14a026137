"""connect.js in real headless Chromium: pages on one origin, the emulator on another."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
import requests

from tests.conftest import Served

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs" / "browser.md"
JANE = {
    "name": "Jane Kim",
    "email": "jane.kim@example.com",
    "id": "1e810c197e",
    "first_name": "Jane",
    "last_name": "Kim",
}


def admin(emulator: Served, path: str, **params: Any) -> Any:
    """GET an admin route and return its JSON."""
    r = requests.get(f"{emulator.url}/_emulator/{path}", params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def open_page(
    context: BrowserContext, pages: str, name: str, emulator: Served, merchant: str, key: str = "k1"
) -> tuple[Page, list[ConsoleMessage]]:
    """Open a test page wired to the emulator, collecting its console messages."""
    page = context.new_page()
    console: list[ConsoleMessage] = []
    page.on("console", lambda message: console.append(message))
    query = urlencode({"emulator": emulator.url, "merchant": merchant, "key": key})
    page.goto(f"{pages}/{name}.html?{query}")
    return page, console


def run(page: Page, js: str, seconds: int = 20) -> Any:
    """Evaluate a JavaScript expression, awaiting a Promise for at most `seconds`."""
    timeout = (
        f"new Promise((_, reject) => setTimeout(() => reject(new Error("
        f"{json.dumps(f'no answer in {seconds} s from: {js}')})), {seconds * 1000}))"
    )
    return page.evaluate(f"Promise.race([({js}), {timeout}])")


def wait_loaded(page: Page) -> None:
    """Wait as Segment's integration does: until Wishpond.Logger exists."""
    page.wait_for_function("() => window.Wishpond && window.Wishpond.Logger")


def warnings(console: list[ConsoleMessage]) -> list[str]:
    return [m.text for m in console if m.type == "warning"]


def test_segment_integration_page(context: BrowserContext, pages: str, emulator: Served) -> None:
    page, console = open_page(context, pages, "segment", emulator, "segment-page")
    result = run(page, "window.result")

    # The browser could read the cross-origin answers, so CORS worked for real.
    assert result["replies"][0]["lead"]["id"] == "1e810c197e"
    assert result["replies"][1]["event"]["event"] == "Signed Up"
    assert (result["isArray"], result["queued"]) == (True, 0)
    leads = admin(emulator, "merchants/segment-page/leads")["leads"]
    assert [(lead["id"], lead["attributes"]) for lead in leads] == [("1e810c197e", JANE)]
    lead = admin(emulator, "merchants/segment-page/leads/1e810c197e")
    assert [(e["type"], e["event"], e["properties"]) for e in lead["events"]] == [
        ("track", "Viewed Pricing", {"plan": "Startup"}),  # queued before load, replayed
        ("identify", None, None),
        ("track", "Signed Up", {"plan": "Startup", "source": "Analytics Academy"}),
        ("track", "Clicked Upgrade", {"from": "stub"}),  # pushed through the stub after load
    ]
    assert {(e["lead_id"], e["source"]) for e in lead["events"]} == {("1e810c197e", "tracker")}
    assert warnings(console) == []


def test_wishpond_snippet_page(context: BrowserContext, pages: str, emulator: Served) -> None:
    page, console = open_page(context, pages, "snippet", emulator, "snippet-page", "0a1b2c3d4e5f")
    assert run(page, "window.result") is False  # the object global stayed an object

    leads = admin(emulator, "merchants/snippet-page/leads")["leads"]
    assert [(lead["id"], lead["attributes"]) for lead in leads] == [
        ("lead-snippet", {"email": "sam.lee@example.com", "plan": "Pro"})
    ]
    events = admin(emulator, "merchants/snippet-page/events")["events"]
    assert [(e["type"], e["event"], e["lead_id"]) for e in events] == [
        ("identify", None, "lead-snippet"),
        ("track", "Requested Demo", "lead-snippet"),
        ("page", None, "lead-snippet"),
    ]
    page_props = events[2]["properties"]
    assert page_props["section"] == "pricing"
    assert page_props["url"].startswith(f"{pages}/snippet.html?")
    assert warnings(console) == []


def test_anonymous_first_then_identify_and_reload(
    context: BrowserContext, browser: Any, pages: str, emulator: Served
) -> None:
    page, console = open_page(context, pages, "plain", emulator, "anon-first")
    wait_loaded(page)
    anon = run(page, "Wishpond.Tracker.getAnonId()")
    run(page, "Wishpond.Tracker.track('Viewed Pricing', {plan: 'Pro'})")
    run(page, "Wishpond.Tracker.flush()")
    before = admin(emulator, "merchants/anon-first/events")["events"]
    assert [(e["event"], e["lead_id"], e["anonymous_id"]) for e in before] == [
        ("Viewed Pricing", None, anon)
    ]

    run(page, "Wishpond.Tracker.identify('lead-anon', {email: 'ana@example.com'})")
    run(page, "Wishpond.Tracker.flush()")
    lead = admin(emulator, "merchants/anon-first/leads/lead-anon")
    assert lead["anonymous_ids"] == [anon]
    assert [(e["event"], e["lead_id"]) for e in lead["events"]] == [
        ("Viewed Pricing", "lead-anon"),
        (None, "lead-anon"),
    ]

    page.reload()
    wait_loaded(page)
    assert run(page, "Wishpond.Tracker.getAnonId()") == anon
    assert page.evaluate("localStorage.getItem('wishpond_anonymous_id')") == anon
    run(page, "Wishpond.Tracker.track('Came Back').then(() => Wishpond.Tracker.flush())")
    came_back = admin(emulator, "merchants/anon-first/events", event="Came Back")["events"]
    assert [(e["anonymous_id"], e["lead_id"]) for e in came_back] == [(anon, "lead-anon")]

    other = browser.new_context()  # another browser profile is another visitor
    try:
        other_page, _ = open_page(other, pages, "plain", emulator, "anon-first")
        wait_loaded(other_page)
        assert run(other_page, "Wishpond.Tracker.getAnonId()") not in ("", anon)
    finally:
        other.close()
    assert warnings(console) == []


def test_anonymous_id_falls_back_to_a_cookie(
    context: BrowserContext, pages: str, emulator: Served
) -> None:
    context.add_init_script(
        "Object.defineProperty(window, 'localStorage', {configurable: true, get() {"
        " throw new DOMException('storage is blocked', 'SecurityError'); }});"
    )
    page, _ = open_page(context, pages, "plain", emulator, "cookie-only")
    wait_loaded(page)
    anon = run(page, "Wishpond.Tracker.getAnonId()")
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    assert cookies.get("wishpond_anonymous_id") == anon
    page.reload()
    wait_loaded(page)
    assert run(page, "Wishpond.Tracker.getAnonId()") == anon
    run(page, "Wishpond.Tracker.track('Cookie Visit').then(() => Wishpond.Tracker.flush())")
    events = admin(emulator, "merchants/cookie-only/events")["events"]
    assert [e["anonymous_id"] for e in events] == [anon]


def test_strict_mode_wrong_write_key_warns_once(
    context: BrowserContext, pages: str, serve: Callable[..., Served]
) -> None:
    strict = serve("--merchant", "shop-strict:right-key")
    page, console = open_page(context, pages, "plain", strict, "shop-strict", key="wrong-key")
    wait_loaded(page)
    run(
        page,
        "Wishpond.Tracker.identify('lead-strict', {email: 'no@example.com'})"
        ".then(() => Wishpond.Tracker.flush())",
    )

    rejected = admin(strict, "requests", surface="tracker", outcome="rejected")["requests"]
    assert [(r["path"], r["status"], r["error"]["code"]) for r in rejected] == [
        ("/tracker/v1/identify", 401, "invalid_write_key")
    ]
    [warning] = warnings(console)
    assert "invalid_write_key" in warning
    assert rejected[0]["error"]["message"] in warning
    assert admin(strict, "merchants/shop-strict/leads")["leads"] == []


def test_flush_after_many_rapid_calls(
    context: BrowserContext, pages: str, emulator: Served
) -> None:
    page, console = open_page(context, pages, "plain", emulator, "rapid")
    wait_loaded(page)
    count = run(
        page,
        """(() => {
            for (let i = 0; i < 150; i++) Wishpond.Tracker.track('Rapid', {i: i});
            return Wishpond.Tracker.flush().then(() => 150);
        })()""",
    )
    # No waiting here: flush() resolving means every call was already acknowledged.
    events = admin(emulator, "merchants/rapid/events", event="Rapid")["events"]
    assert [e["properties"]["i"] for e in events] == list(range(count))
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    assert warnings(console) == []


def test_calls_made_just_before_unload_arrive(
    context: BrowserContext, pages: str, emulator: Served
) -> None:
    page, _ = open_page(context, pages, "plain", emulator, "unload")
    wait_loaded(page)
    # The statement's value must not be a Promise, or evaluate() would wait for the last call.
    page.evaluate("for (let i = 0; i < 30; i++) Wishpond.Tracker.track('Leaving', {i: i}); null")
    page.goto("about:blank")  # pagehide: unsent calls go out by sendBeacon

    events = admin(emulator, "merchants/unload/events", event="Leaving", wait=10, min_count=30)
    assert sorted(e["properties"]["i"] for e in events["events"]) == list(range(30))


def documented_example(marker: str) -> str:
    """Return the first python block after `<!-- example: marker -->` in docs/browser.md."""
    after = DOCS.read_text(encoding="utf-8").split(f"<!-- example: {marker} -->", 1)[1]
    found = re.match(r"\s*```python\n(.*?)^```", after, re.S | re.M)
    assert found, f"docs/browser.md has no python block after the {marker} marker"
    return found.group(1)


def test_documented_playwright_route_example_works(
    playwright: Any, serve: Callable[..., Served], tmp_path: Path
) -> None:
    served = serve()
    script = tmp_path / "example.py"
    script.write_text(documented_example("playwright-route"), encoding="utf-8")
    env = {**os.environ, "WISHPOND_EMULATOR_URL": served.url}
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "'Signed Up'" in done.stdout
    lead = admin(served, "merchants/demo-shop/leads/1e810c197e")
    assert lead["attributes"] == {"name": "Jane Kim", "email": "jane.kim@example.com"}
    assert [(e["type"], e["event"]) for e in lead["events"]] == [
        ("identify", None),
        ("track", "Signed Up"),
    ]


def test_host_resolver_rules_send_the_cdn_to_the_emulator(
    launch: Any, pages: str, emulator: Served
) -> None:
    port = emulator.url.rsplit(":", 1)[1]
    browser = launch(f"--host-resolver-rules=MAP cdn.wishpond.net:80 127.0.0.1:{port}")
    page = browser.new_page()
    page.goto(f"{pages}/cdn.html?merchant=mapped-cdn&key=k1")
    wait_loaded(page)
    assert page.evaluate("Wishpond.Tracker.origin") == "http://cdn.wishpond.net"
    run(page, "Wishpond.Tracker.identify('lead-cdn', {plan: 'Pro'}).then(Wishpond.Tracker.flush)")
    lead = admin(emulator, "merchants/mapped-cdn/leads/lead-cdn")
    assert lead["attributes"] == {"plan": "Pro"}
