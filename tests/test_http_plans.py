"""Tracking plans over HTTP: loading, every surface checked, blocking, the journal, the report."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import contract
from emulator import create_app
from emulator.settings import Settings
from tests.test_plans import SEED

PLAN = "/_emulator/merchants/m1/tracking-plan"
REPORT = PLAN + "/report"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"m1:").decode()}


def tracker(client: FlaskClient, kind: str, **body: Any) -> Any:
    return client.post(f"/tracker/v1/{kind}", json={"merchant_id": "m1", "write_key": "k1", **body})


def batch(client: FlaskClient, *messages: Any) -> Any:
    return client.post("/v1/batch", json={"batch": list(messages)}, headers=AUTH)


def events(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/_emulator/merchants/m1/events").json["events"]  # type: ignore[no-any-return]


def journal(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/_emulator/requests?merchant_id=m1").json["requests"]  # type: ignore[no-any-return]


def load(client: FlaskClient, **settings: Any) -> Any:
    document = copy.deepcopy(SEED)
    if settings:
        document["settings"] = settings
    answer = client.put(PLAN, json=document)
    assert answer.status_code == 200, answer.json
    contract.validate("tracking-plan-state", answer.json)
    return answer.json


def kinds(found: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    return [(v["kind"], v["field"]) for v in found or []]


def report(client: FlaskClient, since: str = "reset") -> dict[str, Any]:
    answer = client.get(REPORT + f"?since={since}")
    assert answer.status_code == 200, answer.json
    contract.validate("tracking-plan-report", answer.json)
    return answer.json  # type: ignore[no-any-return]


def test_put_get_delete_a_merchants_own_plan(client: FlaskClient) -> None:
    assert client.get(PLAN).status_code == 404
    assert client.get(PLAN).json["error"]["code"] == "tracking_plan_not_found"
    state = load(client)
    assert state["scope"] == "merchant" and state["plan"]["name"] == "Seed"
    assert client.get(PLAN).json == state
    assert client.get("/_emulator/merchants/m2/tracking-plan").status_code == 404
    gone = client.delete(PLAN)
    assert gone.status_code == 200 and gone.json == {
        "merchant_id": "m1",
        "scope": None,
        "plan": None,
    }
    assert client.get(PLAN).status_code == 404


def test_an_invalid_plan_is_refused_and_changes_nothing(client: FlaskClient) -> None:
    load(client)
    bad = {"rules": [{"type": "TRACK", "key": "Signed Up", "jsonSchema": {"type": 5}}]}
    answer = client.put(PLAN, json=bad)
    assert answer.status_code == 400
    error = answer.json["error"]
    assert error["code"] == "invalid_tracking_plan"
    assert error["field"] == "rules.0.jsonSchema.type"
    assert "rule 0 (TRACK 'Signed Up')" in error["message"]
    assert client.get(PLAN).json["plan"]["name"] == "Seed"
    assert client.put(PLAN + "?x=1", json=SEED).json["error"]["code"] == "unknown_parameter"


def test_conforming_calls_carry_no_violation_on_every_surface(client: FlaskClient) -> None:
    load(client)
    traits = {"name": "Jane Kim", "email": "jane@example.com"}
    tracked = {"plan": "Startup", "source": "Analytics Academy"}
    lead = tracker(client, "identify", id="u1", attributes=traits)
    assert lead.status_code == 200
    event = tracker(client, "track", id="u1", event="Signed Up", properties=tracked)
    assert event.json["event"]["violations"] == []
    assert batch(
        client,
        {"type": "identify", "userId": "u2", "traits": traits},
        {"type": "track", "userId": "u2", "event": "Signed Up", "properties": tracked},
    ).json == {"success": True}
    assert [e["violations"] for e in events(client)] == [[], [], [], []]
    assert all(not e["violations"] for e in journal(client))
    assert report(client) == {
        "plan": "Seed",
        "planned_seen": ["identify", "Signed Up"],
        "planned_unseen": [],
        "unplanned_seen": [],
        "violations": [],
    }


def test_without_a_plan_events_are_unchecked_and_pages_are_never_checked(
    client: FlaskClient,
) -> None:
    tracker(client, "track", anonymous_id="a1", event="Anything")
    load(client)
    tracker(client, "page", anonymous_id="a1", properties={"path": "/"})
    assert [e["violations"] for e in events(client)] == [None, None]
    assert client.get(REPORT).json["planned_seen"] == []


@pytest.mark.parametrize("surface", ["tracker", "segment"])
def test_each_violation_kind_is_on_the_event_in_the_journal_and_counted(
    client: FlaskClient, surface: str
) -> None:
    load(client)
    calls = [
        ("track", {"event": "Signed In", "properties": {}}, ("unplanned_event", "event")),
        ("track", {"event": "Signed Up", "properties": {"plan": "Pro"}}, None),
        ("identify", {"attributes": {"name": "J"}}, ("missing_property", "traits.email")),
    ]
    for kind, body, _ in calls:
        if surface == "tracker":
            assert tracker(client, kind, id="u1", **body).status_code == 200
        else:
            message = {"type": kind, "userId": "u1", **body}
            if kind == "identify":
                message["traits"] = message.pop("attributes")
            assert batch(client, message).status_code == 200
    got = events(client)
    assert kinds(got[0]["violations"]) == [("unplanned_event", "event")]
    assert kinds(got[1]["violations"]) == [("missing_property", "properties.source")]
    assert kinds(got[2]["violations"]) == [("missing_property", "traits.email")]
    entries = journal(client)
    assert [kinds(e["violations"][0]["violations"]) for e in entries] == [
        kinds(g["violations"]) for g in got
    ]
    assert [e["violations"][0]["event"] for e in entries] == ["Signed In", "Signed Up", None]
    assert not any(e["violations"][0]["blocked"] for e in entries)
    assert report(client)["violations"] == [
        {"event": "Signed In", "kind": "unplanned_event", "field": "event", "count": 1},
        {
            "event": "Signed Up",
            "kind": "missing_property",
            "field": "properties.source",
            "count": 1,
        },
        {"event": "identify", "kind": "missing_property", "field": "traits.email", "count": 1},
    ]


def test_segment_traits_are_checked_as_sent_before_the_mapping(client: FlaskClient) -> None:
    plan = copy.deepcopy(SEED)
    traits = plan["rules"][0]["jsonSchema"]["properties"]["traits"]
    traits["additionalProperties"] = False
    client.put(PLAN, json=plan)
    batch(client, {"type": "identify", "userId": "u1", "traits": {"name": "J K", "email": "j@x"}})
    (event,) = events(client)
    # The destination adds id, first_name and last_name; the plan is about what the app sent.
    assert event["attributes"].keys() >= {"id", "first_name", "last_name"}
    assert event["violations"] == []


def test_blocked_calls_are_not_applied_and_say_why(client: FlaskClient) -> None:
    load(client, block=["unplanned_event", "missing_property"])
    refused = tracker(client, "track", id="u1", event="Signed In")
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "blocked_by_tracking_plan"
    assert kinds(refused.json["error"]["violations"]) == [("unplanned_event", "event")]
    answer = batch(
        client,
        {"type": "track", "userId": "u1", "event": "Nope", "messageId": "b-1"},
        {"type": "identify", "userId": "u1", "traits": {"name": "J"}},
        {
            "type": "track",
            "userId": "u1",
            "event": "Signed Up",
            "properties": {"plan": "Gold", "source": "A"},
        },
    )
    assert answer.status_code == 200 and "Wishpond-Emulator-Dropped" not in answer.headers
    (applied,) = events(client)
    assert kinds(applied["violations"]) == [("wrong_value", "properties.plan")]
    assert client.get("/_emulator/merchants/m1/leads").json["leads"][0]["attributes"] == {}
    rejected, skipped = journal(client)
    assert rejected["status"] == 422 and rejected["violations"][0]["blocked"] is True
    assert [(s["index"], s["reason"]) for s in skipped["skipped"]] == [
        (0, "blocked by the tracking plan (unplanned_event)"),
        (1, "blocked by the tracking plan (missing_property)"),
    ]
    assert [v["blocked"] for v in skipped["violations"]] == [True, True, False]
    # A blocked message's id is held like any acknowledged one: a retry is a duplicate.
    batch(client, {"type": "track", "userId": "u1", "event": "Nope", "messageId": "b-1"})
    assert journal(client)[-1]["skipped"][0]["reason"] == "duplicate messageId"
    counted = {(v["event"], v["kind"]): v["count"] for v in report(client)["violations"]}
    assert counted == {
        ("Nope", "unplanned_event"): 1,
        ("Signed In", "unplanned_event"): 1,
        ("Signed Up", "wrong_value"): 1,
        ("identify", "missing_property"): 1,
    }


def test_engage_syncs_are_checked_and_their_identifies_counted(client: FlaskClient) -> None:
    load(client)
    synced = client.put("/_emulator/merchants/m1/audiences/vip", json={"members": ["u1"]})
    assert synced.status_code == 200
    (event,) = events(client)
    assert event["source"] == "engage"
    assert kinds(event["violations"]) == [
        ("missing_property", "traits.name"),
        ("missing_property", "traits.email"),
    ]
    assert report(client)["planned_seen"] == ["identify"]


def test_resets_start_the_report_again_but_keep_the_plan_and_the_run(client: FlaskClient) -> None:
    load(client)
    tracker(client, "track", id="u1", event="Other")
    client.post("/_emulator/reset")
    assert client.get(PLAN).json["plan"]["name"] == "Seed"
    assert report(client)["unplanned_seen"] == []
    assert report(client, "start")["unplanned_seen"] == ["Other"]
    tracker(client, "track", id="u1", event="Again")
    tracker(client, "track", id="u1", event="Again", merchant_id="m2")
    client.delete("/_emulator/merchants/m1")
    assert report(client)["unplanned_seen"] == []
    assert report(client, "start")["unplanned_seen"] == ["Again", "Other"]
    everyone = client.get("/_emulator/tracking-plans/reports?since=start").json
    contract.validate("tracking-plan-reports", everyone)
    assert [r["merchant_id"] for r in everyone["reports"]] == ["m1"]  # m2 has no plan
    assert client.get(REPORT + "?since=ever").json["error"]["code"] == "invalid_parameter"


def test_a_plan_for_every_merchant_and_one_of_its_own(tmp_path: Path) -> None:
    every = tmp_path / "every.json"
    every.write_text(json.dumps({"rules": []}))
    own = tmp_path / "own.json"
    own.write_text(json.dumps(SEED))
    settings = Settings(tracking_plans=(str(every), f"m1={own}"))
    client = create_app(settings).test_client()
    assert client.get(PLAN).json["scope"] == "merchant"
    other = client.get("/_emulator/merchants/m9/tracking-plan").json
    assert other["scope"] == "all" and other["plan"]["name"] == "every"  # the file's stem
    client.delete(PLAN)
    assert client.get(PLAN).json["plan"]["name"] == "every"


def test_events_keep_their_violations_through_export_and_import(client: FlaskClient) -> None:
    load(client)
    tracker(client, "track", id="u1", event="Other")
    state = client.get("/_emulator/state").json
    contract.validate("state", state)
    fresh = create_app().test_client()
    assert fresh.put("/_emulator/state", json=state).status_code == 200
    assert kinds(events(fresh)[0]["violations"]) == [("unplanned_event", "event")]
