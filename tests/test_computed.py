"""Computed audiences over HTTP: the seed's story in time, rules, cadence, payloads, state."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient

import contract
from emulator import create_app
from emulator.clock import HOUR, format_ms, parse_time
from emulator.settings import Settings

KEY = "order_completed_last_30days"
M = "/_emulator/merchants/m1"
AUDIENCES = M + "/computed-audiences"
LEAD = "1e810c197e"


def define(client: FlaskClient, key: str = KEY, **body: Any) -> Any:
    body.setdefault("rule", {"event": "Order Completed", "within": "30d"})
    r = client.put(f"{AUDIENCES}/{key}", json=body)
    assert r.status_code in (200, 201), r.json
    contract.validate("computed-audience", r.json)
    return r.json


def advance(client: FlaskClient, duration: str) -> list[Any]:
    r = client.post("/_emulator/clock", json={"advance": duration})
    assert r.status_code == 200, r.json
    contract.validate("clock-moved", r.json)
    return [s for s in r.json["syncs"] if s["merchant_id"] == "m1"]


def track(
    client: FlaskClient, lead: str | None, title: str = "Order Completed", **props: Any
) -> Any:
    body = {"merchant_id": "m1", "write_key": "k", "anonymous_id": f"anon-{lead}", "event": title}
    if lead is not None:
        body["id"] = lead
    r = client.post("/tracker/v1/track", json={**body, "properties": props})
    assert r.status_code == 200, r.json
    return r.json["event"]


def identify(client: FlaskClient, lead: str, anon: str | None = None, **attrs: Any) -> None:
    body = {"merchant_id": "m1", "write_key": "k", "id": lead, "attributes": attrs}
    if anon is not None:
        body["anonymous_id"] = anon
    assert client.post("/tracker/v1/identify", json=body).status_code == 200


def member(client: FlaskClient, lead: str, key: str = KEY) -> bool | None:
    value = client.get(f"{M}/leads/{lead}").json["audiences"].get(key)
    return value if value is None else bool(value)


def changes(syncs: list[Any]) -> list[tuple[list[str], list[str]]]:
    return [(s["entered"], s["exited"]) for s in syncs if s["entered"] or s["exited"]]


def test_seed_example_end_to_end(client: FlaskClient) -> None:
    audience = define(client)
    assert (audience["first_sync_after"], audience["sync_every"]) == ("6h", "3h")
    assert audience["members"] == [] and audience["last_sync_at"] is None
    identify(client, LEAD, email="jane.kim@example.com")
    track(client, LEAD)
    assert advance(client, "5h") == []
    assert member(client, LEAD) is None
    [first] = advance(client, "1h")
    assert (first["entered"], first["exited"], first["at"]) == (
        [LEAD],
        [],
        audience["next_sync_at"],
    )
    assert member(client, LEAD) is True
    syncs = advance(client, "31d")
    # One sync every 3h; the first after the order leaves the 30-day window sends false.
    assert len(syncs) == 31 * 8
    assert changes(syncs) == [([], [LEAD])]
    exit_sync = next(s for s in syncs if s["exited"])
    order_at = parse_time(
        client.get(f"{M}/events?event=Order+Completed").json["events"][0]["received_at"]
    )
    exit_at = parse_time(exit_sync["at"])
    assert order_at is not None and exit_at is not None
    assert 0 <= exit_at - (order_at + 30 * 24 * HOUR) <= 3 * HOUR
    assert member(client, LEAD) is False
    track(client, LEAD)
    [again] = advance(client, "3h")
    assert (again["entered"], again["exited"]) == ([LEAD], [])
    detail = client.get(f"{M}/leads/{LEAD}").json
    history = [(h["value"], h["received_at"]) for h in detail["audience_history"]]
    assert history == [(True, first["at"]), (False, exit_sync["at"]), (True, again["at"])]
    assert detail["attributes"][KEY] is True
    listed = client.get(AUDIENCES).json
    contract.validate("computed-audiences", listed)
    [row] = listed["computed_audiences"]
    assert row["members"] == [LEAD] and row["last_sync_at"] == again["at"]
    assert parse_time(row["next_sync_at"]) == parse_time(again["at"]) + 3 * HOUR  # type: ignore[operator]


def test_syncs_emit_engage_shaped_identifies_through_the_mapping(client: FlaskClient) -> None:
    define(client, first_sync_after="1m")
    identify(client, LEAD, email="jane.kim@example.com")
    track(client, LEAD)
    advance(client, "1m")
    r = client.post(f"{AUDIENCES}/{KEY}/sync")
    assert r.status_code == 200 and r.json["calls"] == []  # nothing changed since
    events = client.get(f"{M}/events?type=identify").json["events"]
    engage = [e for e in events if e["source"] == "engage"]
    assert len(engage) == 1
    assert engage[0]["attributes"] == {KEY: True, "email": "jane.kim@example.com", "id": LEAD}
    track(client, "other")
    identify(client, "other")
    body = client.post(f"{AUDIENCES}/{KEY}/sync").json
    contract.validate("computed-sync", body)
    [call] = body["calls"]
    contract.validate("segment-message", call)
    assert call["messageId"].startswith("personas_") and call["sentAt"] is None
    assert call["integrations"]["All"] is False and call["integrations"]["Wishpond"] is True
    assert call["context"]["library"] == {"name": "unknown", "version": "unknown"}
    personas = call["context"]["personas"]
    assert (personas["computation_class"], personas["computation_key"]) == ("audience", KEY)
    assert (call["userId"], call["traits"], call["timestamp"]) == ("other", {KEY: True}, body["at"])
    journal = client.get("/_emulator/requests?surface=engage").json["requests"]
    assert [e["path"] for e in journal][-1] == f"{AUDIENCES}/{KEY}/sync"


def test_trait_rule_where_and_min_count(client: FlaskClient) -> None:
    identify(client, "a", plan="pro")
    identify(client, "b", plan="free")
    identify(client, "c", plan=True)
    track(client, "a", size="L")
    track(client, "a", size="L")
    track(client, "b", size="L")
    track(client, "b", size="M")
    track(client, "c", "Order Placed", size="L")
    track(client, "c", "Order Placed", size="L")
    define(client, "pro", rule={"trait": "plan", "equals": "pro"}, first_sync_after="1m")
    define(client, "big", rule={"event": "Order Completed", "within": "1d", "min_count": 2,
                                "where": {"size": "L"}}, first_sync_after="1m")  # fmt: skip
    syncs = advance(client, "1m")
    assert {s["key"]: s["entered"] for s in syncs} == {"pro": ["a"], "big": ["a"]}
    identify(client, "b", plan="pro")
    identify(client, "a", plan="team")
    [pro] = [s for s in advance(client, "3h") if s["key"] == "pro"]
    assert (pro["entered"], pro["exited"]) == (["b"], ["a"])


def test_anonymous_events_count_once_identify_links_the_visitor(client: FlaskClient) -> None:
    define(client, first_sync_after="1h")
    track(client, None)  # anonymous visitor anon-None
    assert advance(client, "1h")[0]["entered"] == []
    identify(client, "late", anon="anon-None")
    [sync] = advance(client, "3h")
    assert sync["entered"] == ["late"]


def test_manual_sync_runs_off_schedule_and_redefine_keeps_members(client: FlaskClient) -> None:
    first = define(client)
    identify(client, LEAD)
    track(client, LEAD)
    sync = client.post(f"{AUDIENCES}/{KEY}/sync").json
    assert sync["entered"] == [LEAD]  # a manual first sync sends true to every member
    listed = client.get(f"{AUDIENCES}/{KEY}").json
    assert listed["next_sync_at"] == first["next_sync_at"] and listed["members"] == [LEAD]
    again = define(client, name="Orders", sync_every="2h")
    assert again["members"] == [LEAD] and again["name"] == "Orders"
    assert client.put(f"{AUDIENCES}/{KEY}", json={"rule": again["rule"]}).status_code == 200
    syncs = advance(client, "2h")
    assert changes(syncs) == []  # Wishpond already has the member: nothing is sent again


def test_delete_stops_syncs_and_keeps_what_members_got(client: FlaskClient) -> None:
    define(client, first_sync_after="1h")
    identify(client, LEAD)
    track(client, LEAD)
    advance(client, "1h")
    r = client.delete(f"{AUDIENCES}/{KEY}")
    assert r.status_code == 200 and r.json["key"] == KEY
    assert advance(client, "40d") == []
    assert member(client, LEAD) is True
    for r in (client.get(f"{AUDIENCES}/{KEY}"), client.delete(f"{AUDIENCES}/{KEY}"),
              client.post(f"{AUDIENCES}/{KEY}/sync")):  # fmt: skip
        assert r.status_code == 404 and r.json["error"]["code"] == "audience_not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rule": {"event": "E", "within": "5x"}}, "rule.within"),
        ({"rule": {"event": "E", "within": "1h 30"}}, "rule.within"),
        ({"rule": {"event": "E"}}, "rule.within"),
        ({"rule": {"event": "", "within": "1d"}}, "rule.event"),
        ({"rule": {"event": "E", "within": "1d", "min_count": 0}}, "rule.min_count"),
        ({"rule": {"event": "E", "within": "1d", "wher": {}}}, "rule.wher"),
        ({"rule": {"trait": "plan"}}, "rule.equals"),
        ({"rule": {"event": "E", "within": "1d"}, "sync_every": "0s"}, "sync_every"),
        ({"rule": {"event": "E", "within": "1d"}, "first_sync_after": "soon"}, "first_sync_after"),
        ({"rule": {"event": "E", "within": "1d"}, "sync_every": "0.5s"}, "sync_every"),
        ({"rule": {"event": "E", "within": "1d"}, "sync_every": [3]}, "sync_every"),
        ({}, "rule"),
    ],
)
def test_bad_definitions_are_400_naming_the_field(
    client: FlaskClient, body: Any, field: str
) -> None:
    r = client.put(f"{AUDIENCES}/{KEY}", json=body)
    assert r.status_code == 400, r.json
    assert r.json["error"]["field"] == field and field in r.json["error"]["message"]
    assert client.get(AUDIENCES).json["computed_audiences"] == []


def test_bad_keys_merchants_and_parameters(client: FlaskClient) -> None:
    body = {"rule": {"event": "E", "within": "1d"}}
    assert (
        client.put(f"{AUDIENCES}/bad-key", json=body).json["error"]["code"]
        == "invalid_audience_key"
    )
    r = client.put("/_emulator/merchants/b%20d/computed-audiences/k", json=body)
    assert r.json["error"]["code"] == "invalid_merchant_id"
    r = client.get(AUDIENCES + "?key=x")
    assert r.status_code == 400 and r.json["error"]["code"] == "unknown_parameter"
    strict = create_app(Settings(merchants={"m1": "k"})).test_client()
    r = strict.put("/_emulator/merchants/m2/computed-audiences/k", json=body)
    assert r.status_code == 404 and r.json["error"]["code"] == "unknown_merchant"


def test_too_many_syncs_at_once_is_refused(client: FlaskClient) -> None:
    define(client, rule={"trait": "plan", "equals": "pro"}, sync_every="1s")
    before = client.get("/_emulator/clock").json["offset_seconds"]
    r = client.post("/_emulator/clock", json={"advance": "1d"})
    assert r.status_code == 400 and r.json["error"]["code"] == "too_many_syncs"
    assert client.get("/_emulator/clock").json["offset_seconds"] == before


def test_audiences_survive_export_and_import(client: FlaskClient) -> None:
    define(client, first_sync_after="1h")
    identify(client, LEAD)
    track(client, LEAD)
    advance(client, "1h")
    state = client.get("/_emulator/state").json
    contract.validate("state", state)
    [saved] = state["merchants"]["m1"]["computed_audiences"]
    assert saved["members"] == [LEAD]
    other = create_app().test_client()
    assert other.put("/_emulator/state", json=state).status_code == 200
    assert other.get("/_emulator/state").json == state
    syncs = [s for s in advance(other, "31d") if s["exited"]]
    assert [s["exited"] for s in syncs] == [[LEAD]]


def test_syncs_due_by_real_time_run_before_the_next_request(client: FlaskClient) -> None:
    identify(client, LEAD)
    track(client, LEAD)
    audience = define(client, first_sync_after="1s", sync_every="1h")
    time.sleep(1.2)  # real time passes the first sync, and nobody moves the clock
    assert member(client, LEAD) is True
    [row] = client.get(AUDIENCES).json["computed_audiences"]
    assert row["last_sync_at"] == audience["next_sync_at"]


def test_windows_count_segments_corrected_time_and_segment_reads_the_clock(
    client: FlaskClient,
) -> None:
    advance(client, "2d")
    now = parse_time(client.get("/_emulator/clock").json["now"])
    assert now is not None
    auth = {"Authorization": "Basic bTE6"}  # write key m1: merchant m1 in open mode

    def order(user: str, days_ago: int) -> Any:
        when = format_ms(now - days_ago * 24 * HOUR)
        message = {"userId": user, "event": "Order Completed", "timestamp": when}
        assert client.post("/v1/track", json=message, headers=auth).status_code == 200
        return client.get(f"{M}/events?lead_id={user}").json["events"][-1]

    recent, old = order("recent", 1), order("old", 40)
    assert parse_time(recent["received_at"]) >= now  # type: ignore[operator]
    assert parse_time(old["timestamp"]) == now - 40 * 24 * HOUR
    define(client, first_sync_after="1m")
    [sync] = advance(client, "1m")
    assert sync["entered"] == ["recent"]  # the 40-day-old order is outside the 30-day window
    # Each Engage call's messageId is held, as every accepted message's is.
    held = client.get("/_emulator/state").json["merchants"]["m1"]["message_ids"]
    assert [m for m in held if m.startswith("personas_")] and len(held) == len(set(held))
