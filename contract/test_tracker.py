"""Tracker calls and the data-model semantics (PRODUCT section 3), over HTTP only."""

from __future__ import annotations

import threading
import uuid

from contract.conftest import Merchant


def uid() -> str:
    return uuid.uuid4().hex[:10]


def test_identify_creates_then_merges(merchant: Merchant) -> None:
    lead = merchant.identify("u1", {"a": 1, "b": 2, "email": "E@x.com"})
    assert lead["attributes"] == {"a": 1, "b": 2, "email": "E@x.com"}
    lead = merchant.identify("u1", {"b": 3, "a": None, "c": {"nested": [1]}})
    assert lead["attributes"] == {"a": None, "b": 3, "email": "E@x.com", "c": {"nested": [1]}}
    assert [x["id"] for x in merchant.leads("?email=e@x.com")] == ["u1"]
    detail = merchant.lead("u1")
    assert [e["type"] for e in detail["events"]] == ["identify", "identify"]


def test_anonymous_events_are_reattributed_on_identify(merchant: Merchant) -> None:
    anon = f"anon-{uid()}"
    first = merchant.track("Viewed Pricing", {"plan": "pro"}, anonymous_id=anon)
    assert first["lead_id"] is None
    page = merchant.send("page", anonymous_id=anon, properties={"url": "/pricing"})
    assert page.status == 200
    lead = merchant.identify("u1", {}, anonymous_id=anon)
    assert lead["anonymous_ids"] == [anon]
    events = merchant.events("?lead_id=u1")
    assert [e["type"] for e in events] == ["track", "page", "identify"]
    assert len({e["seq"] for e in merchant.events()}) == 3


def test_track_attaches_to_the_sessions_lead(merchant: Merchant) -> None:
    merchant.identify("1e810c197e", {"email": "jane.kim@example.com"}, anonymous_id="s1")
    event = merchant.track(
        "Signed Up", {"plan": "Startup", "source": "Analytics Academy"}, anonymous_id="s1"
    )
    assert event["lead_id"] == "1e810c197e"
    assert event["event"] == "Signed Up"
    assert event["properties"] == {"plan": "Startup", "source": "Analytics Academy"}
    explicit = merchant.track("Paid", {}, id="1e810c197e")
    assert explicit["lead_id"] == "1e810c197e"


def test_seq_strictly_increases_under_concurrency(merchant: Merchant) -> None:
    def burst(n: int) -> None:
        for i in range(25):
            merchant.track(f"t{n}", {"i": i}, anonymous_id=f"v{n}")

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [e["seq"] for e in merchant.events()]
    assert seqs == sorted(set(seqs)) and len(seqs) == 100
    for n in range(4):
        props = [e["properties"]["i"] for e in merchant.events(f"?event=t{n}")]
        assert props == list(range(25))


def test_merchants_do_not_see_each_other(merchant: Merchant, api: object) -> None:
    merchant.identify("only-here", {"email": "x@y.z"})
    other = Merchant(merchant.api, f"{merchant.id}-other", merchant.key)
    assert other.leads() == []
    assert other.leads("?email=x@y.z") == []
    reply = merchant.api.call("GET", other.path("/leads/only-here"))
    merchant.api.error(reply, 404, "lead_not_found")


def test_long_poll_returns_when_events_arrive(merchant: Merchant) -> None:
    timer = threading.Timer(0.2, lambda: merchant.track("Late", {}, anonymous_id="a"))
    timer.start()
    found = merchant.events("?event=Late&wait=10&min_count=1")
    timer.join()
    assert [e["event"] for e in found] == ["Late"]


def test_reset_merchant_forgets_it(merchant: Merchant) -> None:
    merchant.identify("u1", {})
    merchant.api.ok("DELETE", merchant.path(), schema="reset")
    assert merchant.leads() == [] and merchant.events() == []


def test_state_export_import_roundtrip(merchant: Merchant) -> None:
    merchant.track("A", {"n": 1}, anonymous_id="v")
    merchant.identify("u1", {"email": "a@b.c"}, anonymous_id="v")
    state = merchant.api.ok("GET", "/_emulator/state", schema="state")
    mine = {"merchants": {merchant.id: state["merchants"][merchant.id]}}
    merchant.api.ok("DELETE", merchant.path())
    merchant.api.ok("PUT", "/_emulator/state?mode=merge", mine, schema="merchants")
    again = merchant.api.ok("GET", "/_emulator/state", schema="state")
    assert again["merchants"][merchant.id] == mine["merchants"][merchant.id]


def test_journal_records_calls(merchant: Merchant) -> None:
    merchant.identify("u1", {})
    merchant.send("track", anonymous_id="a")  # no event title: rejected
    journal = merchant.api.ok(
        "GET", f"/_emulator/requests?merchant_id={merchant.id}", schema="journal"
    )
    outcomes = [(e["path"], e["status"]) for e in journal["requests"]]
    assert ("/tracker/v1/identify", 200) in outcomes
    assert ("/tracker/v1/track", 400) in outcomes
