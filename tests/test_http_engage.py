"""The Engage simulator and Engage payloads over HTTP: syncs, toggles, history."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import contract
from emulator import create_app
from emulator.settings import Settings

SCENARIO = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "engage-scenario.json").read_text()
)
KEY = SCENARIO["key"]
AUDIENCES = "/_emulator/merchants/m1/audiences"


def sync(client: FlaskClient, members: list[str], key: str = KEY, **body: Any) -> Any:
    return client.put(
        f"{AUDIENCES}/{key}", json={"name": SCENARIO["name"], "members": members, **body}
    )


def audiences(client: FlaskClient) -> dict[str, bool]:
    leads = client.get("/_emulator/merchants/m1/leads").json["leads"]
    return {lead["id"]: lead["audiences"][KEY] for lead in leads if KEY in lead["audiences"]}


def check_history(client: FlaskClient) -> None:
    for user, values in SCENARIO["history"].items():
        detail = client.get(f"/_emulator/merchants/m1/leads/{user}").json
        contract.validate("lead-detail", detail)
        history = detail["audience_history"]
        assert [(h["key"], h["value"]) for h in history] == [(KEY, v) for v in values], user
        seqs = [h["seq"] for h in history]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert detail["audiences"] == {KEY: values[-1]}
        assert detail["attributes"][KEY] is values[-1]


def test_scenario_through_the_simulator(client: FlaskClient) -> None:
    for step in SCENARIO["steps"]:
        r = sync(client, step["members"])
        assert r.status_code == 200, r.json
        contract.validate("engage-sync-response", r.json)
        body = r.json
        assert body["first_sync"] is step["first_sync"], step["name"]
        assert (body["key"], body["name"]) == (KEY, SCENARIO["name"])
        got = [(c["userId"], c["traits"][KEY]) for c in body["calls"]]
        assert got == [(c["userId"], c["value"]) for c in step["calls"]], step["name"]
        assert audiences(client) == step["audiences"], step["name"]
    check_history(client)
    engage_events = client.get("/_emulator/merchants/m1/events?type=identify").json["events"]
    assert {e["source"] for e in engage_events} == {"engage"}
    assert sum(len(s["calls"]) for s in SCENARIO["steps"]) == len(engage_events)


def engage_message(style: str, user: str, value: bool) -> dict[str, Any]:
    personas = {"computation_class": "audience", "computation_key": KEY}
    if style == "identify":
        return {
            "type": "identify",
            "userId": user,
            "traits": {KEY: value},
            "context": {"personas": personas},
        }
    return {
        "type": "track",
        "userId": user,
        "event": "Audience Entered" if value else "Audience Exited",
        "properties": {"audience_key": KEY, KEY: value},
        "context": {"personas": personas},
    }


@pytest.mark.parametrize("style", ["identify", "track"])
def test_scenario_through_the_segment_surface(client: FlaskClient, style: str) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(b"m1:").decode()}
    for step in SCENARIO["steps"]:
        messages = [engage_message(style, c["userId"], c["value"]) for c in step["calls"]]
        assert client.post("/v1/batch", json={"batch": messages}, headers=auth).status_code == 200
        assert audiences(client) == step["audiences"], step["name"]
    check_history(client)


def test_emitted_calls_are_valid_engage_messages(client: FlaskClient) -> None:
    calls = sync(client, ["a"]).json["calls"]
    [call] = calls
    contract.validate("segment-message", call)
    assert call["context"]["personas"]["computation_class"] == "audience"
    assert call["context"]["personas"]["computation_key"] == KEY
    assert call["messageId"].startswith("personas_") and call["timestamp"].endswith("Z")
    [event] = client.get("/_emulator/merchants/m1/events").json["events"]
    assert event["attributes"] == {KEY: True, "id": "a"} and event["source"] == "engage"


def test_simulator_and_segment_surface_share_membership(client: FlaskClient) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(b"m1:").decode()}
    entered = {
        "type": "track",
        "userId": "zoe",
        "event": "Audience Entered",
        "properties": {"audience_key": KEY},
    }
    client.post("/v1/batch", json={"batch": [entered]}, headers=auth)
    body = sync(client, ["amy"]).json
    assert body["first_sync"] is False
    assert (body["joined"], body["left"]) == (["amy"], ["zoe"])


def test_post_derives_the_key_from_the_name(client: FlaskClient) -> None:
    r = client.post(AUDIENCES, json={"name": "Order Completed Last 30days", "members": ["a"]})
    assert r.status_code == 200 and r.json["key"] == "order_completed_last_30days"
    r = client.post(AUDIENCES, json={"name": "Whatever", "key": "custom_key", "members": ["a"]})
    assert r.json["key"] == "custom_key"
    lead = client.get("/_emulator/merchants/m1/leads/a").json
    assert lead["audiences"] == {"order_completed_last_30days": True, "custom_key": True}


def test_post_with_a_name_that_makes_no_key(client: FlaskClient) -> None:
    r = client.post(AUDIENCES, json={"name": "!!!", "members": ["a"]})
    assert r.status_code == 400 and "send key" in r.json["error"]["message"]


def test_name_defaults_to_key_and_members_count_once(client: FlaskClient) -> None:
    r = client.put(f"{AUDIENCES}/vip", json={"name": None, "members": ["a", "a", "b"]})
    assert (r.json["name"], r.json["members"], r.json["joined"]) == ("vip", 2, ["a", "b"])


@pytest.mark.parametrize(
    "path,body,status,code",
    [
        (f"{AUDIENCES}/has-dash", {"members": []}, 400, "invalid_audience_key"),
        (f"{AUDIENCES}/{'k' * 129}", {"members": []}, 400, "invalid_audience_key"),
        (f"{AUDIENCES}/vip", {"members": "a"}, 400, "invalid_request"),
        (f"{AUDIENCES}/vip", {"members": [""]}, 400, "invalid_request"),
        (f"{AUDIENCES}/vip", {"members": [], "extra": 1}, 400, "invalid_request"),
        (f"{AUDIENCES}/vip", {"name": "x"}, 400, "invalid_request"),
        (
            "/_emulator/merchants/bad%20id/audiences/vip",
            {"members": []},
            400,
            "invalid_merchant_id",
        ),
    ],
)
def test_bad_sync_requests_change_nothing(
    client: FlaskClient, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    r = client.put(path, json=body)
    assert r.status_code == status and r.json["error"]["code"] == code, r.json
    assert client.get("/_emulator/merchants").json["merchants"] == []


def test_strict_mode_refuses_unknown_merchants() -> None:
    client = create_app(Settings(merchants={"m1": "k"})).test_client()
    assert sync(client, ["a"]).status_code == 200
    r = client.put("/_emulator/merchants/m2/audiences/vip", json={"members": ["a"]})
    assert r.status_code == 404 and r.json["error"]["code"] == "unknown_merchant"


def test_admin_token_guards_the_simulator() -> None:
    client = create_app(Settings(admin_token="s3cret")).test_client()
    for method, path in (("PUT", f"{AUDIENCES}/vip"), ("POST", AUDIENCES)):
        r = client.open(path, method=method, json={"name": "v", "members": ["a"]})
        assert r.status_code == 401 and r.json["error"]["code"] == "admin_token_required"
    r = client.put(
        f"{AUDIENCES}/vip", json={"members": ["a"]}, headers={"Authorization": "Bearer s3cret"}
    )
    assert r.status_code == 200


def test_storage_full_applies_none_of_a_sync() -> None:
    client = create_app(Settings(max_events=2)).test_client()
    r = sync(client, ["a", "b", "c"])
    assert r.status_code == 507 and r.json["error"]["code"] == "storage_full"
    assert audiences(client) == {}


def test_sync_continues_after_export_and_import(client: FlaskClient) -> None:
    sync(client, ["a", "b"])
    state = client.get("/_emulator/state").json
    fresh = create_app(Settings()).test_client()
    assert fresh.put("/_emulator/state", json=state).status_code == 200
    body = sync(fresh, ["b", "c"]).json
    assert (body["first_sync"], body["joined"], body["left"]) == (False, ["c"], ["a"])


def test_syncs_are_journaled(client: FlaskClient) -> None:
    sync(client, ["a", "b"])
    client.post(AUDIENCES, json={"name": "VIP", "members": []})
    entries = client.get("/_emulator/requests?surface=engage").json["requests"]
    assert [(e["method"], e["merchant_id"], e["summary"]) for e in entries] == [
        ("PUT", "m1", f"sync {KEY}: +2 -0"),
        ("POST", "m1", "sync vip: +0 -0"),
    ]
