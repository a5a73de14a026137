"""Hypothesis properties of the data model, driven through the HTTP surfaces."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from emulator import create_app
from tests.strategies import anon_ids, json_objects, json_values, lead_ids, titles

M = "prop-merchant"
CREDS = {"merchant_id": M, "write_key": "k"}


# Building an app compiles every route; build two once and reset them inside each example.
_CLIENTS = [create_app().test_client() for _ in range(2)]


def fresh(which: int = 0) -> FlaskClient:
    client = _CLIENTS[which]
    assert client.post("/_emulator/reset").status_code == 200
    return client


def post(client: FlaskClient, call: str, **body: Any) -> Any:
    r = client.post(f"/tracker/v1/{call}", json={**CREDS, **body})
    assert r.status_code == 200, r.json
    return r.json


def leads(client: FlaskClient) -> dict[str, Any]:
    return {x["id"]: x for x in client.get(f"/_emulator/merchants/{M}/leads").json["leads"]}


def events(client: FlaskClient) -> list[Any]:
    return list(client.get(f"/_emulator/merchants/{M}/events").json["events"])


@given(st.lists(st.tuples(lead_ids, json_objects), min_size=1, max_size=12))
def test_identify_creates_leads_with_the_ordered_merge(calls: list[tuple[str, Any]]) -> None:
    client = fresh()
    expected: dict[str, dict[str, Any]] = {}
    for lead_id, attributes in calls:
        post(client, "identify", id=lead_id, attributes=attributes)
        expected.setdefault(lead_id, {}).update(attributes)
    got = leads(client)
    assert {k: v["attributes"] for k, v in got.items()} == expected
    for lead_id in expected:
        assert got[lead_id]["event_count"] == sum(1 for c in calls if c[0] == lead_id)


# One step of a browsing session: ("identify", anon, lead) or ("track", anon, title, properties).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("identify"), anon_ids, lead_ids),
        st.tuples(st.just("track"), anon_ids, titles, json_objects),
    ),
    min_size=1,
    max_size=15,
)


@given(steps)
def test_track_attaches_titled_events_to_the_right_lead(session: list[tuple[Any, ...]]) -> None:
    client = fresh()
    linked: dict[str, str] = {}
    pending: dict[str, list[int]] = {}
    expected: list[dict[str, Any]] = []  # track events, in order, with their expected lead
    for step in session:
        if step[0] == "identify":
            _, anon, lead = step
            if anon not in linked:  # the first link re-attributes the visitor's history
                for index in pending.pop(anon, []):
                    expected[index]["lead_id"] = lead
            linked[anon] = lead
            post(client, "identify", id=lead, anonymous_id=anon)
        else:
            _, anon, title, properties = step
            lead = linked.get(anon)
            if lead is None:
                pending.setdefault(anon, []).append(len(expected))
            expected.append({"event": title, "properties": properties, "lead_id": lead})
            post(client, "track", anonymous_id=anon, event=title, properties=properties)
    log = events(client)
    seqs = [e["seq"] for e in log]
    assert seqs == list(range(1, len(session) + 1))
    tracked = [
        {"event": e["event"], "properties": e["properties"], "lead_id": e["lead_id"]}
        for e in log
        if e["type"] == "track"
    ]
    assert tracked == expected
    for lead_id, lead in leads(client).items():
        mine = [e for e in log if e["lead_id"] == lead_id]
        detail = client.get(f"/_emulator/merchants/{M}/leads/{lead_id}").json
        assert detail["events"] == mine
        assert lead["event_count"] == len(mine)


@given(st.lists(st.tuples(anon_ids, titles), min_size=1, max_size=12), lead_ids)
def test_anonymous_then_identified_keeps_every_event_once(
    tracks: list[tuple[str, str]], lead_id: str
) -> None:
    client = fresh()
    for anon, title in tracks:
        post(client, "track", anonymous_id=anon, event=title)
    for anon in sorted({a for a, _ in tracks}):
        post(client, "identify", id=lead_id, anonymous_id=anon)
    detail = client.get(f"/_emulator/merchants/{M}/leads/{lead_id}").json
    seqs = [e["seq"] for e in detail["events"]]
    assert seqs == sorted(set(seqs))
    assert [(e["anonymous_id"], e["event"]) for e in detail["events"] if e["type"] == "track"] == (
        tracks
    )
    assert len(events(client)) == len(tracks) + len({a for a, _ in tracks})
    assert sorted(detail["anonymous_ids"]) == sorted({a for a, _ in tracks})


@given(steps, st.lists(st.tuples(lead_ids, json_objects), max_size=5))
def test_export_then_import_is_the_identity(
    session: list[tuple[Any, ...]], identifies: list[tuple[str, Any]]
) -> None:
    client = fresh()
    for step in session:
        if step[0] == "identify":
            post(client, "identify", id=step[2], anonymous_id=step[1])
        else:
            post(client, "track", anonymous_id=step[1], event=step[2], properties=step[3])
    for lead_id, attributes in identifies:
        post(client, "identify", id=lead_id, attributes=attributes)
    exported = client.get("/_emulator/state").get_data()
    other = fresh(1)
    r = other.put("/_emulator/state", data=exported, content_type="application/json")
    assert r.status_code == 200, r.json
    assert other.get("/_emulator/state").get_data() == exported
    # The imported copy behaves like the original from here on.
    a = post(client, "track", anonymous_id="a1", event="next")["event"]
    b = post(other, "track", anonymous_id="a1", event="next")["event"]
    assert (a["seq"], a["lead_id"]) == (b["seq"], b["lead_id"])


garbage_bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(json.dumps, json_values).map(str.encode),
    st.builds(
        lambda d: json.dumps({**CREDS, **d}).encode(),
        st.dictionaries(
            st.sampled_from(["id", "event", "anonymous_id", "attributes", "properties", "extra"]),
            json_values,
        ),
    ),
)


@given(
    st.sampled_from(["identify", "track", "page"]),
    garbage_bodies,
    st.sampled_from(["application/json", "text/plain", "application/xml", ""]),
)
def test_a_rejected_request_changes_nothing(call: str, body: bytes, ctype: str) -> None:
    client = fresh()
    post(client, "identify", id="u1", anonymous_id="a1", attributes={"keep": 1})
    before = client.get("/_emulator/state").get_data()
    r = client.post(f"/tracker/v1/{call}", data=body, headers={"Content-Type": ctype})
    assert r.status_code < 500, r.get_data()
    assert r.is_json
    if r.status_code >= 400:
        assert r.json["error"]["message"]
        assert client.get("/_emulator/state").get_data() == before
    else:
        # Garbage that happens to be a valid call is kept: exactly one more event.
        after = client.get("/_emulator/state").json
        assert len(after["merchants"][M]["events"]) == 2
