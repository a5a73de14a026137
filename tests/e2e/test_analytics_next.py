"""analytics-next (npm @segment/analytics-next) in Chromium with its API host on the emulator."""

from __future__ import annotations

import functools
import posixpath
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pytest
import requests

from tests.conftest import Served, require_node_package
from tests.e2e.conftest import PAGES

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request

pytestmark = pytest.mark.e2e
BUNDLES = "/analytics-next/bundles/"
JANE = {
    "name": "Jane Kim",
    "email": "jane.kim@example.com",
    "id": "1e810c197e",
    "first_name": "Jane",
    "last_name": "Kim",
    "created_at": "2024-01-01T00:00:00.000Z",
}


class _PagesAndBundles(SimpleHTTPRequestHandler):
    """Serve tests/e2e/pages, and analytics-next's UMD build under /analytics-next/bundles/."""

    umd: Path

    def translate_path(self, path: str) -> str:
        clean = urllib.parse.urlsplit(path).path
        if clean.startswith(BUNDLES):
            name = posixpath.normpath(clean[len(BUNDLES) :]).lstrip("/")
            return str(self.umd / name) if not name.startswith("..") else ""
        return super().translate_path(path)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """Serve the pages and the bundles from one origin, as a site that hosts its own copy."""
    modules = require_node_package("@segment/analytics-next")
    handler = type(
        "Handler", (_PagesAndBundles,), {"umd": modules / "@segment/analytics-next/dist/umd"}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(PAGES)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def mapped(launch: Any, emulator: Served) -> Browser:
    """A browser whose cdn.wishpond.net is the emulator, as docs/segment.md shows."""
    port = urllib.parse.urlsplit(emulator.url).port
    return launch(f"--host-resolver-rules=MAP cdn.wishpond.net:80 127.0.0.1:{port}")  # type: ignore[no-any-return]


def open_site(
    browser: Browser, site: str, emulator: Served, **params: str
) -> tuple[Page, list[Request]]:
    page = browser.new_page()
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if "/v1/" in r.url else None)
    page.goto(f"{site}/analytics-next.html?{urlencode({'emulator': emulator.url, **params})}")
    return page, sent


def admin(emulator: Served, path: str, **params: Any) -> Any:
    r = requests.get(f"{emulator.url}/_emulator/{path}", params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def calls(page: Page) -> None:
    """Make the calls a shop makes, and wait until analytics-next has delivered them."""
    page.evaluate(
        """() => Promise.race([
          Promise.all([
            analytics.identify('1e810c197e', {name: 'Jane Kim', email: 'jane.kim@example.com',
                                             createdAt: '2024-01-01'}),
            analytics.track('Signed Up', {plan: 'Startup',
                                          trial_ends: '2024-06-01T10:00:00+02:00'}),
            analytics.page('Pricing'),
          ]),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error('no delivery in 20 s')), 20000)),
        ])"""
    )


def test_text_plain_calls_reach_the_lead_through_the_mapping(
    browser: Browser, site: str, emulator: Served
) -> None:
    page, sent = open_site(browser, site, emulator, writeKey="ajs-next-cloud")
    calls(page)
    events = admin(emulator, "merchants/ajs-next-cloud/events", wait=20, min_count=2)["events"]
    lead = admin(emulator, "merchants/ajs-next-cloud/leads/1e810c197e")
    assert lead["attributes"] == JANE
    [track] = [e for e in events if e["type"] == "track"]  # the calls race: any order
    assert (track["event"], track["properties"]) == (
        "Signed Up",
        {"plan": "Startup", "trial_ends": "2024-06-01T08:00:00.000Z"},
    )
    for event in events:
        assert event["message_id"].startswith("ajs-next-") and event["source"] == "segment"
        assert event["timestamp"] <= event["received_at"]
    posted = {(urllib.parse.urlsplit(r.url).path, r.headers.get("content-type")) for r in sent}
    assert posted == {(f"/v1/{p}", "text/plain") for p in "itp"}
    skipped = [
        s["reason"]
        for e in admin(emulator, "requests", merchant_id="ajs-next-cloud")["requests"]
        for s in e["skipped"]
    ]
    assert skipped == ["not supported by the Wishpond destination"]  # the page call
    page.close()


def test_device_mode_and_cloud_mode_give_each_call_once(
    mapped: Browser, site: str, emulator: Served
) -> None:
    # The Segment source and the Wishpond merchant are one merchant here (open mode).
    page, _ = open_site(
        mapped,
        site,
        emulator,
        writeKey="ajs-next-both",
        merchant="ajs-next-both",
        key="k1",
        device="1",
    )
    calls(page)
    page.wait_for_function("() => window.Wishpond && window.Wishpond.Tracker")
    page.evaluate("() => Wishpond.Tracker.flush()")
    entries = admin(emulator, "requests", merchant_id="ajs-next-both", surface="segment")
    bundled = [(e["path"], s["reason"]) for e in entries["requests"] for s in e["skipped"]]
    assert sorted(bundled) == sorted(
        [
            ("/v1/i", "sent in device mode by the browser"),
            ("/v1/t", "sent in device mode by the browser"),
            ("/v1/p", "sent in device mode by the browser"),
        ]
    ), entries
    lead = admin(emulator, "merchants/ajs-next-both/leads/1e810c197e")
    assert lead["attributes"] == JANE
    assert [(e["type"], e["source"]) for e in lead["events"]] == [
        ("identify", "tracker"),
        ("track", "tracker"),
    ]
    page.close()
