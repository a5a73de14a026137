"""Unit tests of the store: every semantic of PRODUCT section 3."""

from __future__ import annotations

import threading

import pytest

from emulator.calls import Call
from emulator.errors import EmulatorError
from emulator.store import Store


@pytest.fixture
def store() -> Store:
    return Store(max_events=1000)


def test_identify_creates_lead_with_attributes(store: Store) -> None:
    lead = store.identify("m", "u1", {"email": "a@x.com", "plan": "pro"})
    assert lead["id"] == "u1"
    assert lead["attributes"] == {"email": "a@x.com", "plan": "pro"}
    assert lead["event_count"] == 1
    assert lead["audiences"] == {} and lead["anonymous_ids"] == []


def test_identify_merges_later_keys_overwrite_absent_kept_null_stored(store: Store) -> None:
    store.identify("m", "u1", {"a": 1, "b": 2, "c": 3})
    lead = store.identify("m", "u1", {"b": 20, "c": None, "d": 4})
    assert lead["attributes"] == {"a": 1, "b": 20, "c": None, "d": 4}
    assert lead["created_at"] <= lead["updated_at"]
    assert [e["attributes"] for e in store.events("m")] == [
        {"a": 1, "b": 2, "c": 3},
        {"b": 20, "c": None, "d": 4},
    ]


def test_identify_links_visitor_and_reattributes_earlier_events(store: Store) -> None:
    store.track("m", "Viewed", {"p": 1}, anonymous_id="anon")
    store.page("m", {"url": "/x"}, anonymous_id="anon")
    assert [e["lead_id"] for e in store.events("m")] == [None, None]
    lead = store.identify("m", "u1", {}, anonymous_id="anon")
    assert lead["anonymous_ids"] == ["anon"]
    assert lead["event_count"] == 3
    events = store.events("m")
    assert [e["lead_id"] for e in events] == ["u1", "u1", "u1"]
    assert [e["seq"] for e in store.lead("m", "u1")["events"]] == [1, 2, 3]


def test_track_attaches_to_linked_lead(store: Store) -> None:
    store.identify("m", "u1", {}, anonymous_id="anon")
    event = store.track("m", "Signed Up", {"plan": "Startup"}, anonymous_id="anon")
    assert event["lead_id"] == "u1" and event["event"] == "Signed Up"
    assert event["properties"] == {"plan": "Startup"}


def test_track_with_explicit_id_attaches_to_that_lead(store: Store) -> None:
    store.identify("m", "u1", {})
    event = store.track("m", "Paid", {}, lead_id="u1")
    assert event["lead_id"] == "u1"
    assert store.lead("m", "u1")["event_count"] == 2


def test_never_identified_visitor_keeps_events(store: Store) -> None:
    store.track("m", "A", {}, anonymous_id="v")
    store.track("m", "B", {}, anonymous_id="v")
    assert store.leads("m") == []
    assert store.merchants()[0]["visitor_count"] == 1
    assert [e["event"] for e in store.events("m")] == ["A", "B"]


def test_relinking_visitor_moves_it_but_keeps_past_attribution(store: Store) -> None:
    store.track("m", "Before", {}, anonymous_id="v")
    store.identify("m", "u1", {}, anonymous_id="v")
    store.identify("m", "u2", {}, anonymous_id="v")
    store.track("m", "After", {}, anonymous_id="v")
    assert store.lead("m", "u1")["anonymous_ids"] == []
    assert store.lead("m", "u2")["anonymous_ids"] == ["v"]
    by_title = {e["event"]: e["lead_id"] for e in store.events("m", type="track")}
    assert by_title == {"Before": "u1", "After": "u2"}


def test_reattribution_interleaves_in_seq_order(store: Store) -> None:
    store.identify("m", "u1", {}, anonymous_id="v1")
    store.track("m", "x", {}, anonymous_id="v2")
    store.track("m", "y", {}, anonymous_id="v1")
    store.identify("m", "u1", {}, anonymous_id="v2")
    seqs = [e["seq"] for e in store.lead("m", "u1")["events"]]
    assert seqs == sorted(seqs) == [1, 2, 3, 4]


def test_seq_strictly_increasing_per_merchant(store: Store) -> None:
    for i in range(5):
        store.track("m1", f"e{i}", {}, anonymous_id="a")
        store.track("m2", f"e{i}", {}, anonymous_id="a")
    for m in ("m1", "m2"):
        assert [e["seq"] for e in store.events(m)] == [1, 2, 3, 4, 5]


def test_merchants_are_isolated(store: Store) -> None:
    store.identify("m1", "u1", {"email": "a@x.com"})
    assert store.leads("m2") == []
    assert store.leads("m2", email="a@x.com") == []
    with pytest.raises(EmulatorError) as err:
        store.lead("m2", "u1")
    assert err.value.code == "lead_not_found" and err.value.status == 404


def test_email_lookup_is_case_insensitive_and_follows_changes(store: Store) -> None:
    store.identify("m", "u1", {"email": "Jane@Example.com"})
    assert [x["id"] for x in store.leads("m", email="jane@example.com")] == ["u1"]
    store.identify("m", "u1", {"email": "new@example.com"})
    assert store.leads("m", email="jane@example.com") == []
    assert [x["id"] for x in store.leads("m", email="NEW@example.com")] == ["u1"]


def test_attribute_and_audience_filters(store: Store) -> None:
    store.identify("m", "u1", {"plan": "pro", "n": 5, "vip": True})
    store.identify("m", "u2", {"plan": "free"})
    store.apply("m", [Call("identify", "u2", audiences={"buyers": True})])
    store.apply("m", [Call("identify", "u1", audiences={"buyers": False})])
    assert [x["id"] for x in store.leads("m", attributes={"plan": "pro"})] == ["u1"]
    assert [x["id"] for x in store.leads("m", attributes={"n": "5", "vip": "true"})] == ["u1"]
    assert [x["id"] for x in store.leads("m", audiences={"buyers": True})] == ["u2"]
    assert [x["id"] for x in store.leads("m", audiences={"buyers": False})] == ["u1"]


def test_audience_toggle_sets_attribute_and_history(store: Store) -> None:
    store.identify("m", "u1", {})
    for value in (True, False, True):
        store.apply("m", [Call("identify", "u1", attributes={}, audiences={"k": value})])
    lead = store.lead("m", "u1")
    assert lead["audiences"] == {"k": True} and lead["attributes"]["k"] is True
    assert [(h["key"], h["value"]) for h in lead["audience_history"]] == [
        ("k", True),
        ("k", False),
        ("k", True),
    ]
    assert [h["seq"] for h in lead["audience_history"]] == [2, 3, 4]


def test_event_filters_and_after_seq(store: Store) -> None:
    store.identify("m", "u1", {}, anonymous_id="a")
    store.track("m", "A", {}, anonymous_id="a")
    store.track("m", "B", {}, anonymous_id="b")
    store.track("m", "A", {}, anonymous_id="b")
    assert [e["seq"] for e in store.events("m", event="A")] == [2, 4]
    assert [e["seq"] for e in store.events("m", lead_id="u1", type="track")] == [2]
    assert [e["seq"] for e in store.events("m", after_seq=2)] == [3, 4]
    assert [e["seq"] for e in store.events("m", event="A", after_seq=2)] == [4]
    assert store.events("m", lead_id="ghost") == []
    assert store.events("nobody") == []


def test_long_poll_returns_when_enough_events_arrive(store: Store) -> None:
    timer = threading.Timer(0.1, lambda: store.track("m", "late", {}, anonymous_id="a"))
    timer.start()
    found = store.events("m", event="late", wait=10, min_count=1)
    timer.join()
    assert [e["event"] for e in found] == ["late"]


def test_long_poll_gives_up_at_the_deadline(store: Store) -> None:
    assert store.events("m", wait=0.05, min_count=1) == []


def test_close_releases_waiters(store: Store) -> None:
    threading.Timer(0.05, store.close).start()
    assert store.events("m", wait=30, min_count=1) == []


def test_storage_cap_rejects_whole_call_and_evicts_nothing() -> None:
    store = Store(max_events=3)
    store.track("m", "a", {}, anonymous_id="x")
    store.track("m", "b", {}, anonymous_id="x")
    with pytest.raises(EmulatorError) as err:
        store.apply("m", [Call("track", None, "x", "c"), Call("track", None, "x", "d")])
    assert err.value.code == "storage_full" and err.value.status == 507
    assert [e["event"] for e in store.events("m")] == ["a", "b"]
    store.track("m", "c", {}, anonymous_id="x")
    with pytest.raises(EmulatorError):
        store.identify("m", "u", {})
    assert store.leads("m") == []
    store.reset("m")
    store.track("m", "fresh", {}, anonymous_id="x")
    assert store.total_events == 1


def test_reset_one_merchant_keeps_the_others(store: Store) -> None:
    store.identify("m1", "u", {})
    store.identify("m2", "u", {})
    store.reset("m1")
    assert [m["id"] for m in store.merchants()] == ["m2"]
    assert store.total_events == 1
    store.reset()
    assert store.merchants() == [] and store.total_events == 0


def test_export_then_load_is_identity(store: Store) -> None:
    store.track("m1", "before", {"n": 1}, anonymous_id="v")
    store.identify("m1", "u1", {"email": "a@x.com"}, anonymous_id="v")
    store.track("m1", "orphan", {}, anonymous_id="w")
    store.apply("m1", [Call("identify", "u1", audiences={"vip": True}, source="engage")])
    store.identify("m2", "u9", {"x": [1, {"y": None}]})
    exported = store.export()
    other = Store()
    other.load(exported)
    assert other.export() == exported
    assert other.leads("m1", email="a@x.com")[0]["id"] == "u1"
    # The visitor stays linked after import: new anonymous events still go to u1.
    assert other.track("m1", "after", {}, anonymous_id="v")["lead_id"] == "u1"
    # The orphan visitor is still pending: identifying it re-attributes.
    other.identify("m1", "u2", {}, anonymous_id="w")
    assert other.events("m1", event="orphan")[0]["lead_id"] == "u2"


def test_load_merge_replaces_only_named_merchants(store: Store) -> None:
    store.identify("m1", "u1", {})
    store.identify("m2", "u2", {})
    store.load({"merchants": {"m2": {"leads": [{"id": "z"}]}}}, replace=False)
    assert [x["id"] for x in store.leads("m1")] == ["u1"]
    assert [x["id"] for x in store.leads("m2")] == ["z"]


def test_load_over_cap_is_refused_and_changes_nothing() -> None:
    store = Store(max_events=1)
    store.identify("m", "u", {})
    before = store.export()
    events = [{"type": "track", "event": "x"}] * 2
    with pytest.raises(EmulatorError):
        store.load({"merchants": {"m": {"events": events}}})
    assert store.export() == before


def test_concurrent_writers_lose_nothing() -> None:
    store = Store()

    def work(n: int) -> None:
        for i in range(250):
            store.track("m", f"t{n}", {"i": i}, anonymous_id=f"v{n}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [e["seq"] for e in store.events("m")]
    assert seqs == list(range(1, 2001))
    for n in range(8):
        assert [e["properties"]["i"] for e in store.events("m", event=f"t{n}")] == list(range(250))


def test_imported_anonymous_events_of_a_linked_visitor_belong_to_its_lead() -> None:
    store = Store()
    store.load(
        {
            "merchants": {
                "m": {
                    "leads": [{"id": "L"}],
                    "visitors": [{"anonymous_id": "a", "lead_id": "L"}],
                    "events": [{"type": "track", "event": "x", "anonymous_id": "a"}],
                }
            }
        }
    )
    assert store.events("m")[0]["lead_id"] == "L"
    assert store.lead("m", "L")["event_count"] == 1
    store.identify("m", "L", {}, anonymous_id="a")
    assert [e["lead_id"] for e in store.events("m")] == ["L", "L"]


# -- exactly once by message id (PRODUCT §3 semantics 5) ---------------------------------------


def _track(event: str, message_id: str | None) -> Call:
    return Call("track", "u", event=event, properties={}, source="segment", message_id=message_id)


def test_deliver_applies_each_message_id_once(store: Store) -> None:
    repeats = store.deliver("m", [_track("A", "1"), _track("B", "2"), _track("A again", "1")])
    assert repeats == [2]
    assert store.deliver("m", [_track("B again", "2"), _track("C", "3"), _track("D", None)]) == [0]
    assert store.deliver("m", [_track("E", None)]) == []
    events = store.events("m")
    assert [(e["event"], e["message_id"]) for e in events] == [
        ("A", "1"),
        ("B", "2"),
        ("C", "3"),
        ("D", None),
        ("E", None),
    ]


def test_an_accepted_message_that_is_not_forwarded_holds_its_id(store: Store) -> None:
    assert store.deliver("m", ["skipped-1", _track("A", "skipped-1")]) == [1]
    assert store.deliver("m", [_track("B", "skipped-1")]) == [0]
    assert store.events("m") == []
    assert store.export()["merchants"]["m"]["message_ids"] == ["skipped-1"]


def test_a_refused_delivery_holds_no_id() -> None:
    store = Store(max_events=1)
    with pytest.raises(EmulatorError):
        store.deliver("m", [_track("A", "1"), _track("B", "2")])
    assert store.deliver("m", [_track("B", "2")]) == []
    assert [e["event"] for e in store.events("m")] == ["B"]


def test_apply_skips_a_held_id_too(store: Store) -> None:
    assert len(store.apply("m", [_track("A", "x"), _track("A", "x")])) == 1
    assert store.apply("m", [_track("A", "x")]) == []


def test_ids_are_per_merchant(store: Store) -> None:
    store.deliver("m1", [_track("A", "same")])
    assert store.deliver("m2", [_track("A", "same")]) == []
    store.reset("m1")
    assert store.deliver("m1", [_track("A", "same")]) == []


def test_the_window_keeps_the_last_100000_ids() -> None:
    store = Store(max_events=10)
    store.deliver("m", [f"id-{i}" for i in range(100_001)])
    # id-0 fell out of the window; id-1 is the oldest one held.
    assert store.deliver("m", [_track("old", "id-0"), _track("kept", "id-1")]) == [1]
    held = store.export()["merchants"]["m"]["message_ids"]
    assert len(held) == 100_000 and held[0] == "id-2" and held[-1] == "id-0"


def test_the_window_survives_export_and_import(store: Store) -> None:
    store.deliver("m", ["held", _track("A", "applied")])
    state = store.export()
    fresh = Store()
    fresh.load(state)
    assert fresh.deliver(
        "m", [_track("B", "held"), _track("C", "applied"), _track("D", "new")]
    ) == [
        0,
        1,
    ]


def test_an_older_state_file_holds_its_events_ids(store: Store) -> None:
    store.deliver("m", [_track("A", "from-event")])
    state = store.export()
    del state["merchants"]["m"]["message_ids"]
    for event in state["merchants"]["m"]["events"]:
        del event["timestamp"]
    fresh = Store()
    fresh.load(state)
    assert fresh.deliver("m", [_track("A", "from-event")]) == [0]
    [event] = fresh.events("m")
    assert event["timestamp"] == event["received_at"]


def test_now_is_every_received_at_of_the_call_and_timestamp_is_kept(store: Store) -> None:
    now = "2030-01-02T03:04:05.678Z"
    calls = [
        Call("identify", "u", attributes={}, timestamp="2020-01-01T00:00:00.000Z"),
        Call("track", "u", event="E", properties={}),
    ]
    store.apply("m", calls, now=now)
    events = store.events("m")
    assert [(e["received_at"], e["timestamp"]) for e in events] == [
        (now, "2020-01-01T00:00:00.000Z"),
        (now, now),
    ]
    assert store.lead("m", "u")["created_at"] == now
    assert store.export()["merchants"]["m"]["events"][0]["timestamp"] == "2020-01-01T00:00:00.000Z"
