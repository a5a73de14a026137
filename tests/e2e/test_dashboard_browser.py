"""The dashboard in headless chromium: live updates, search, lead view, journal, escaping, token."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

try:
    from playwright.sync_api import Browser, Page, sync_playwright
    from playwright.sync_api import expect as default_expect
except ImportError:
    if os.environ.get("EMULATOR_REQUIRE_E2E") == "1":
        raise
    pytest.skip(
        "Playwright for Python is not installed (pip install -e '.[e2e]')",
        allow_module_level=True,
    )

from tests.conftest import Served, require_tool
from tests.e2e.conftest import CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

# Waits cover a busy CI machine; the long-polls answer at once.
# A module-own expect, so the longer timeout does not leak into other browser tests.
TIMEOUT = 10_000
expect = type(default_expect)()
expect.set_options(timeout=TIMEOUT)
XSS = '<img src=x onerror="window.__pwned=1">'

# Runs before the page's own script: record CSP violations, which a correct page never causes.
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Launch one headless chromium for the module."""
    path = require_tool("chromium", "the dashboard tests drive Debian's chromium via Playwright")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """Open a fresh profile and page that remembers its console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(WATCH)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.errors = errors  # type: ignore[attr-defined]
    yield opened
    context.close()


def send(url: str, call: str, merchant: str = "m1", key: str = "k1", **body: Any) -> Any:
    """Send one tracker call the way connect.js does and return the response."""
    return requests.post(
        f"{url}/tracker/v1/{call}",
        json={"merchant_id": merchant, "write_key": key, **body},
        timeout=5,
    )


def sync(url: str, key: str, members: list[str], merchant: str = "m1") -> None:
    """Sync an Engage audience's complete membership through the emulator's simulator."""
    r = requests.put(
        f"{url}/_emulator/merchants/{merchant}/audiences/{key}",
        json={"members": members},
        timeout=5,
    )
    assert r.status_code == 200, r.text


def assert_clean(page: Page, allow: tuple[str, ...] = ()) -> None:
    """Check nothing ran that should not have, and the page broke none of its own rules."""
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__violations") == []
    unexpected = [e for e in page.errors if not any(a in e for a in allow)]  # type: ignore[attr-defined]
    assert unexpected == []


def lead_row(page: Page, lead_id: str) -> Any:
    return page.locator("#leads .lead-row").filter(has=page.locator(".lead-sub", has_text=lead_id))


def test_new_leads_appear_live_and_search_finds_them(
    page: Page, serve: Callable[..., Served]
) -> None:
    srv = serve()
    page.goto(srv.url)
    expect(page.locator("#view-welcome")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    # No merchant yet: the journal poll reveals it, and the dashboard opens it.
    send(srv.url, "identify", id="ada-1", attributes={"email": "ada@example.com", "plan": "gold"})
    expect(lead_row(page, "ada-1")).to_be_visible()
    expect(page.locator("#merchant-title")).to_have_text("m1")

    # The merchant is open: the long-poll brings a visitor's event, then the visitor's identify.
    page.locator("#tab-events").click()
    send(srv.url, "track", anonymous_id="v-9", event="Viewed Pricing")
    feed_row = page.locator("#events-table tbody tr", has_text="Viewed Pricing")
    expect(feed_row.locator("td").nth(4)).to_have_text("—")
    send(
        srv.url,
        "identify",
        id="bob-2",
        anonymous_id="v-9",
        attributes={"email": "bob@example.com", "company": "Difference Engines"},
    )
    expect(feed_row.locator("td").nth(4)).to_have_text("bob-2")  # re-attributed
    page.locator("#tab-leads").click()
    expect(lead_row(page, "bob-2")).to_be_visible()
    expect(page.locator(".merchant[data-merchant='m1'] .nav-counts")).to_contain_text("2 leads")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"

    search = page.locator("#search")
    for query, found in [
        ("bob-2", ["bob-2"]),  # by id
        ("ADA@example", ["ada-1"]),  # by email, any case
        ("engines", ["bob-2"]),  # by any attribute value
        ("gold", ["ada-1"]),
        ("example.com", ["bob-2", "ada-1"]),
    ]:
        search.fill(query)
        expect(page.locator("#leads .lead-row")).to_have_count(len(found))
        expect(page.locator("#leads .lead-sub")).to_contain_text(found)
    search.fill("no-such-lead")
    expect(page.locator("#leads .lead-row")).to_have_count(0)
    expect(page.locator("#leads-empty")).to_contain_text("No lead matches")

    # A reset between test runs: the next run's lead replaces the old ones on screen.
    search.fill("")
    assert requests.post(f"{srv.url}/_emulator/reset", timeout=5).status_code == 200
    send(srv.url, "identify", id="cy-3", attributes={"email": "cy@example.com"})
    expect(page.locator("#leads .lead-row")).to_have_count(1)
    expect(lead_row(page, "cy-3")).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert_clean(page)


SET_HIDDEN = """(hidden) => {
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def test_hidden_tab_stops_polling_and_catches_up(page: Page, serve: Callable[..., Served]) -> None:
    srv = serve()
    send(srv.url, "identify", id="h0")
    page.goto(srv.url)
    expect(lead_row(page, "h0")).to_be_visible()
    page.evaluate(SET_HIDDEN, True)
    send(srv.url, "identify", id="h1")  # ends a long-poll that was already waiting
    page.wait_for_timeout(500)

    polls: list[str] = []
    watched = ("/events?", "/requests?")
    page.on("request", lambda r: polls.append(r.url) if any(w in r.url for w in watched) else None)
    send(srv.url, "identify", id="h2")
    page.wait_for_timeout(3000)  # time for any poll a hidden tab should not make
    assert polls == [], "a hidden tab kept polling"
    expect(lead_row(page, "h2")).to_have_count(0)

    page.evaluate(SET_HIDDEN, False)
    expect(lead_row(page, "h2")).to_be_visible()
    expect(lead_row(page, "h1")).to_be_visible()
    assert any("/events?" in url for url in polls), "the shown tab did not resume"
    assert_clean(page)


def test_lead_view_shows_attributes_audiences_and_timeline(
    page: Page, serve: Callable[..., Served]
) -> None:
    # A --max-wait under the page's 25 s: the page shortens its long-poll and stays live.
    srv = serve("--max-wait", "4")
    attrs = {"email": "grace@example.com", "name": "Grace Hopper", "plan": "gold", "seats": 12}
    send(srv.url, "identify", id="grace", anonymous_id="v-1", attributes=attrs)
    send(srv.url, "track", anonymous_id="v-1", event="Signed Up", properties={"tier": "Startup"})
    page.goto(srv.url)
    lead_row(page, "grace").click()

    expect(page.locator("#detail-title")).to_have_text("Grace Hopper")
    rows = page.locator("#detail-attributes tr")
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text="plan")).to_contain_text("gold")
    expect(rows.filter(has_text="seats").locator("td")).to_have_text("12")
    timeline = page.locator("#detail-events > li.tl")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(0)).to_contain_text("Signed Up")
    expect(timeline.nth(0).locator("tr", has_text="tier").locator("td")).to_have_text("Startup")
    expect(timeline.nth(1)).to_contain_text("identify")
    expect(page.locator("#detail-audiences")).to_contain_text("Not in any Engage audience")
    page.locator("#tab-events").click()
    expect(page.locator("#events-table tbody tr")).to_have_count(2)
    page.locator("#tab-leads").click()
    expect(page.locator("#detail-title")).to_have_text("Grace Hopper")  # still open

    # While the lead is open, a new event joins its timeline at the top.
    send(srv.url, "track", id="grace", event="Upgraded", properties={"to": "Enterprise"})
    expect(timeline).to_have_count(3)
    expect(timeline.nth(0)).to_contain_text("Upgraded")

    # Engage audience syncs toggle membership; the open lead shows each change as it lands.
    sync(srv.url, "vip_users", ["grace"])
    expect(page.locator("#detail-audiences .chip.in")).to_contain_text("vip_users")
    sync(srv.url, "trial", ["grace"])
    sync(srv.url, "vip_users", [])
    chips = page.locator("#detail-audiences .chip")
    expect(chips).to_have_count(2)
    expect(page.locator("#detail-audiences .chip.in")).to_contain_text("trial")
    expect(page.locator("#detail-audiences .chip.out")).to_contain_text("vip_users")
    history = page.locator("#detail-history tbody tr")
    expect(history).to_have_count(3)
    expect(history.nth(0)).to_contain_text("vip_users")
    expect(history.nth(0)).to_contain_text("false")
    expect(history.nth(2)).to_contain_text("true")
    expect(timeline.nth(0)).to_contain_text("left vip_users")
    expect(timeline.nth(1)).to_contain_text("entered trial")
    assert_clean(page, allow=("status of 400",))


def test_hostile_values_render_as_text_and_never_run(
    page: Page, serve: Callable[..., Served]
) -> None:
    srv = serve()
    page.goto(srv.url)
    ok = send(
        srv.url,
        "identify",
        id=XSS,
        anonymous_id=XSS,
        attributes={
            "email": f"{XSS}@example.com",
            XSS: XSS,
            "bio": "<script>window.__pwned=2</script>",
        },
    )
    assert ok.status_code == 200
    send(srv.url, "track", id=XSS, event=XSS, properties={"note": XSS})
    # A rejected call with a hostile merchant id: the journal shows it and its error message.
    rejected = send(srv.url, "identify", merchant=XSS, id="x")
    assert rejected.status_code == 400

    expect(page.locator("#leads .lead-row")).to_have_count(1)
    expect(page.locator("#leads .lead-sub")).to_contain_text(XSS)
    page.locator("#leads .lead-row").click()
    expect(page.locator("#detail-sub")).to_have_text(XSS)
    expect(page.locator("#detail-attributes th", has_text="onerror")).to_have_text(XSS)
    expect(page.locator("#detail-events .tl-title").first).to_have_text(XSS)
    expect(page.locator("#detail-events")).to_contain_text(XSS)

    page.locator("#tab-events").click()
    expect(page.locator("#events-table .title-cell").first).to_have_text(XSS)

    page.locator("#nav-requests").click()
    row = page.locator("#requests-table tr.r-rejected")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(4)).to_have_text(XSS)
    expect(page.locator("#requests-table")).to_contain_text(f"track '{XSS}'")

    # Escaped, not merely blocked: no element was ever made from the payloads.
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("document.scripts.length") == 1
    assert_clean(page)


def test_rejected_calls_show_in_the_journal_with_their_reason(
    page: Page, serve: Callable[..., Served]
) -> None:
    srv = serve("--merchant", "m1:right-key", "--source", "seg-key:m1")
    page.goto(srv.url + "/#/requests")
    expect(page.locator("#requests-empty")).to_be_visible()

    assert send(srv.url, "identify", key="right-key", id="u1").status_code == 200
    assert send(srv.url, "identify", key="wrong-key", id="u2").status_code == 401
    assert send(srv.url, "track", key="right-key", id="u1", event="").status_code == 400
    # Segment's destination forwards only identify and track: a page call is skipped.
    page_call = {"userId": "u1", "name": "Pricing", "properties": {"path": "/pricing"}}
    skipped = requests.post(f"{srv.url}/v1/page", json=page_call, auth=("seg-key", ""), timeout=5)
    assert skipped.status_code == 200

    rows = page.locator("#requests-table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_have_class("r-skipped")
    expect(rows.nth(0).locator(".outcome")).to_have_text("skipped")
    expect(rows.nth(0).locator(".reason")).to_contain_text("page")
    expect(page.locator("#skipped-count")).to_have_text("1 skipped")
    rows = rows.filter(has_not=page.locator(".o-skipped"))
    bad_key = rows.nth(1)
    expect(bad_key).to_have_class("r-rejected")
    expect(bad_key.locator(".status")).to_have_text("401")
    expect(bad_key.locator(".err-code")).to_have_text("invalid_write_key")
    expect(bad_key).to_contain_text("does not match merchant 'm1'")
    expect(rows.nth(0).locator(".err-code")).to_have_text("invalid_request")
    expect(rows.nth(0)).to_contain_text("event")
    expect(rows.nth(2).locator(".outcome")).to_have_text("accepted")
    expect(page.locator("#rejected-count")).to_have_text("2 rejected")

    all_rows = page.locator("#requests-table tbody tr")
    page.locator("#outcome-filter [data-outcome='rejected']").click()
    expect(all_rows).to_have_count(2)
    page.locator("#outcome-filter [data-outcome='skipped']").click()
    expect(all_rows).to_have_count(1)
    page.locator("#outcome-filter [data-outcome='accepted']").click()
    expect(all_rows).to_have_count(1)
    expect(all_rows.nth(0)).to_contain_text("identify u1")
    assert_clean(page)


def test_dropped_messages_show_in_the_journal_with_their_reason(
    page: Page, serve: Callable[..., Served]
) -> None:
    srv = serve()
    page.goto(srv.url + "/#/requests")
    expect(page.locator("#requests-empty")).to_be_visible()
    batch = [
        {"type": "track", "userId": "u1", "event": "Kept"},
        {"type": "track", "userId": XSS},  # no event: dropped alone, as Segment does
    ]
    r = requests.post(f"{srv.url}/v1/batch", json={"batch": batch}, auth=("m1", ""), timeout=5)
    assert r.status_code == 200 and r.headers["Wishpond-Emulator-Dropped"] == "1"

    row = page.locator("#requests-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_class("r-dropped")
    expect(row.locator(".outcome")).to_have_text("dropped")
    expect(row.locator(".drop")).to_contain_text("message 1")
    expect(row.locator(".drop")).to_contain_text("event is required")
    expect(row.locator(".drop")).to_contain_text(XSS)  # shown as text, never as markup
    expect(page.locator("#dropped-count")).to_have_text("1 dropped")
    page.locator("#outcome-filter [data-outcome='dropped']").click()
    expect(row).to_have_count(1)
    page.locator("#outcome-filter [data-outcome='accepted']").click()
    expect(row).to_have_count(0)
    assert page.locator("img[src='x']").count() == 0
    assert_clean(page)


def test_faulted_calls_show_in_the_journal_with_their_rule(
    page: Page, serve: Callable[..., Served]
) -> None:
    srv = serve()
    page.goto(srv.url + "/#/requests")
    expect(page.locator("#requests-empty")).to_be_visible()
    for action in ({"status": 503}, {"drop": "before"}):
        rule = {"match": {"merchant_id": "m1"}, "action": action, "times": 1}
        assert requests.post(f"{srv.url}/_emulator/faults", json=rule, timeout=5).ok
    assert send(srv.url, "identify", id="u1").status_code == 503
    with pytest.raises(requests.ConnectionError):
        send(srv.url, "identify", id="u1")
    assert send(srv.url, "identify", id="u1").status_code == 200

    rows = page.locator("#requests-table tbody tr")
    expect(rows).to_have_count(3)
    dropped, answered = rows.nth(1), rows.nth(2)
    expect(answered).to_have_class("r-faulted")
    expect(answered.locator(".outcome")).to_have_text("faulted")
    expect(answered.locator(".reason")).to_have_text("by fault rule f1")
    expect(answered.locator(".status")).to_have_text("503")
    expect(answered).to_contain_text("fault f1: answered 503")
    expect(dropped.locator(".status")).to_have_text("none")
    expect(dropped).to_contain_text("closed without an answer, nothing applied")
    expect(page.locator("#faulted-count")).to_have_text("2 faulted")
    page.locator("#outcome-filter [data-outcome='faulted']").click()
    expect(rows).to_have_count(2)
    assert_clean(page)


def test_violations_show_on_events_and_in_the_journal_and_the_plan_tab_shows_coverage(
    page: Page, serve: Callable[..., Served], tmp_path: Path
) -> None:
    schema = {
        "type": "object",
        "properties": {
            "properties": {
                "type": "object",
                "properties": {"plan": {"type": "string"}},
                "required": ["plan"],
            }
        },
    }
    rules = [
        {"type": "TRACK", "key": "Signed Up", "version": 1, "jsonSchema": schema},
        {"type": "TRACK", "key": "Order Completed", "version": 1, "jsonSchema": {}},
    ]
    plan = tmp_path / "shop.json"
    plan.write_text(json.dumps({"name": XSS, "rules": rules}))
    srv = serve("--tracking-plan", str(plan))
    send(srv.url, "identify", id="u1", attributes={"email": "u1@example.com"})
    send(srv.url, "track", id="u1", event="Signed Up", properties={"plan": "Pro"})
    send(srv.url, "track", id="u1", event="Signed Up", properties={})
    send(srv.url, "track", id="u1", event=XSS, properties={})
    page.goto(srv.url + "/#/m/m1/events")
    rows = page.locator("#events-table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0).locator(".verdict")).to_have_text("1 violation")  # newest first
    expect(rows.nth(1).locator(".verdict")).to_have_text("1 violation")
    expect(rows.nth(2).locator(".verdict")).to_have_text("plan ✓")
    expect(rows.nth(1).locator(".verdict")).to_have_attribute(
        "title", "missing_property properties.plan: 'plan' is a required property"
    )

    page.locator("#tab-plan").click()
    expect(page).to_have_url(srv.url + "/#/m/m1/plan")
    expect(page.locator("#plan-title")).to_contain_text("1 of 2 planned events seen")
    expect(page.locator("#plan-title")).to_contain_text(XSS)  # as text
    expect(page.locator("#plan-seen .chip")).to_have_text(["Signed Up"])
    expect(page.locator("#plan-unseen .chip")).to_have_text(["Order Completed"])
    expect(page.locator("#plan-unplanned .chip")).to_have_text([XSS])
    cells = page.locator("#plan-violations tbody tr")
    expect(cells).to_have_count(2)
    expect(cells.nth(1)).to_contain_text("missing_property")
    expect(cells.nth(1)).to_contain_text("properties.plan")
    # Live: a new call updates the coverage.
    send(srv.url, "track", id="u1", event="Order Completed", properties={})
    expect(page.locator("#plan-unseen .chip")).to_have_count(0)

    page.goto(srv.url + "/#/m/m1/lead/u1")
    expect(page.locator("#detail-events .violations li")).to_have_count(2)
    page.goto(srv.url + "/#/requests")
    plan_reasons = page.locator("#requests-table .reason.plan")
    expect(plan_reasons).to_have_count(2)
    expect(plan_reasons.first).to_contain_text("breaks the plan: track")
    assert page.locator("img[src='x']").count() == 0
    assert_clean(page)


def test_admin_token_is_asked_for_kept_and_sent(page: Page, serve: Callable[..., Served]) -> None:
    srv = serve("--admin-token", "tok-123")
    send(srv.url, "identify", id="t1", attributes={"email": "t1@example.com"})
    page.goto(srv.url)
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#merchants .merchant")).to_have_count(0)

    page.locator("#token-input").fill("not-the-token")
    page.locator("#token-submit").click()
    expect(page.locator("#token-error")).to_contain_text("does not match")
    expect(dialog).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0

    sent: list[str | None] = []
    page.on(
        "request",
        lambda r: sent.append(r.headers.get("authorization")) if "/_emulator/" in r.url else None,
    )
    page.locator("#token-input").fill("tok-123")
    page.locator("#token-submit").click()
    expect(dialog).to_be_hidden()
    expect(lead_row(page, "t1")).to_be_visible()
    assert sent and set(sent) == {"Bearer tok-123"}
    assert "tok-123" in page.evaluate("Object.values(sessionStorage)")

    page.reload()
    expect(lead_row(page, "t1")).to_be_visible()
    expect(dialog).to_be_hidden()
    assert_clean(page, allow=("401",))


# Ids the API accepts that a careless URL round trip breaks: separators, escapes, spaces,
# non-ASCII, dot segments inside an id, and a right-to-left override.
ODD_IDS = [
    "a/b",
    "100%",
    "50%2F",
    "x?y#z",
    " spaced ",
    "é中文",
    "..a",
    "a/../b",
    "a\\b",
    "+1 (555) 'q' \"d\"",
    "\u202eevil",
]
RLO, RLI = "\u202e", "\u2067"

# Each element whose own text holds a bidi control: its unicode-bidi, and its whole text.
BIDI_HOLDERS = """(controls) => [...document.querySelectorAll('body *')]
  .filter((n) => [...n.childNodes].some(
    (c) => c.nodeType === 3 && controls.some((x) => c.textContent.includes(x))))
  .map((n) => [getComputedStyle(n).unicodeBidi, n.textContent])"""


def test_any_lead_id_the_api_accepts_opens(page: Page, serve: Callable[..., Served]) -> None:
    srv = serve()
    for lead_id in ODD_IDS:
        assert send(srv.url, "identify", id=lead_id).status_code == 200, lead_id
    page.goto(srv.url + "/#/m/m1")
    expect(page.locator("#leads .lead-row")).to_have_count(len(ODD_IDS))
    for lead_id in ODD_IDS:
        page.locator(
            f"#leads .lead-row[data-lead-id={json.dumps(lead_id, ensure_ascii=False)}]"
        ).click()
        expect(page.locator("#detail-sub")).to_have_text(lead_id)
        expect(page.locator("#detail-meta .mono")).to_have_text(lead_id)
    # A bookmarked address opens the same lead after a reload.
    page.reload()
    expect(page.locator("#detail-sub")).to_have_text(ODD_IDS[-1])
    assert_clean(page)


def test_bidi_text_is_isolated_wherever_it_is_shown(
    page: Page, serve: Callable[..., Served]
) -> None:
    srv = serve()
    name, email, title = f"{RLO}Mallory", f"{RLO}m@example.com", f"{RLI}Paid"
    send(srv.url, "identify", id="lead-1", anonymous_id=f"{RLO}v", attributes={"name": name})
    send(srv.url, "identify", id="lead-2", attributes={"email": email})
    send(srv.url, "track", id="lead-1", event=title, properties={"p": f"{RLI}y"})
    send(srv.url, "track", anonymous_id="a", event="")  # a rejected call, in the journal
    page.goto(srv.url + "/#/m/m1/lead/lead-1")
    expect(page.locator("#detail-title")).to_have_text(name)
    expect(page.locator("#detail-events .tl-title").first).to_have_text(title)
    page.locator("#tab-leads").click()
    seen = page.evaluate(BIDI_HOLDERS, [RLO, RLI])
    page.goto(srv.url + "/#/m/m1/events")
    expect(page.locator("#events-table tbody tr")).to_have_count(3)
    seen += page.evaluate(BIDI_HOLDERS, [RLO, RLI])
    page.goto(srv.url + "/#/requests")
    expect(page.locator("#requests-table tbody tr")).to_have_count(4)
    page.locator("#requests-table details.capture").first.evaluate("d => { d.open = true; }")
    seen += page.evaluate(BIDI_HOLDERS, [RLO, RLI])
    texts = {text for _, text in seen}
    # Every value shown, alone in an element of its own that is a bidi island.
    assert {name, email, title, f"{RLO}v", f"{RLI}y"} <= texts, texts
    assert {style for style, _ in seen} == {"isolate"}, seen
    assert_clean(page)


def test_audiences_tab_shows_the_clock_and_advances_it_and_syncs(
    page: Page, serve: Callable[..., Served]
) -> None:
    srv = serve()
    key = "order_completed_last_30days"
    rule = {"event": "Order Completed", "within": "30d"}
    r = requests.put(
        f"{srv.url}/_emulator/merchants/m1/computed-audiences/{key}", json={"rule": rule}, timeout=5
    )
    assert r.status_code == 200, r.text
    send(srv.url, "identify", id="jane", attributes={"email": "jane@example.com"})
    send(srv.url, "track", id="jane", event="Order Completed")
    page.goto(srv.url + "/#/m/m1/audiences")
    row = page.locator(f"#audiences-table tbody tr[data-key='{key}']")
    expect(row).to_contain_text("“Order Completed” in the last 30d")
    expect(row).to_contain_text("not yet")
    expect(row.locator("[data-due]")).to_contain_text("in 5h 59m")
    expect(page.locator("#clock")).to_be_visible()

    page.locator("#advance-input").fill("6h")
    page.locator("#advance-button").click()
    expect(page.locator("#clock-result")).to_contain_text("1 sync ran, 1 membership change here")
    expect(row.locator(".members")).to_contain_text("jane")
    expect(page.locator("#clock")).to_contain_text("+6h")

    send(srv.url, "track", id="kim", event="Order Completed")
    row.get_by_role("button", name="Sync now").click()
    expect(page.locator("#clock-result")).to_contain_text("1 entered, 0 exited")
    expect(row.locator(".members")).to_contain_text("kim")

    page.locator("#advance-input").fill("-1h")
    page.locator("#advance-button").click()
    expect(page.locator("#clock-result")).to_contain_text("only moves forward")

    row.locator(".members .link", has_text="jane").click()
    expect(page.locator("#detail-audiences .chip.in")).to_contain_text(key)
    assert_clean(page, allow=("status of 400",))


def test_header_shows_whether_the_state_is_durable(
    page: Page, serve: Callable[..., Served], tmp_path: Any
) -> None:
    memory = serve()
    page.goto(memory.url)
    pill = page.locator("#durable")
    expect(pill).to_have_text("in memory")
    assert "--data-file" in (pill.get_attribute("title") or "")
    data = tmp_path / "state.db"
    durable = serve("--data-file", str(data), "--data-sync", "full")
    page.goto(durable.url)
    expect(pill).to_have_text("durable · full")
    assert str(data) in (pill.get_attribute("title") or "")
    assert_clean(page)
