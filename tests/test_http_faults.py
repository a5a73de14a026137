"""Fault rules over Flask's test client: the admin routes, and what they do to each surface."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask.testing import FlaskClient

import contract
from emulator import create_app
from emulator.settings import Settings

TRACK = {"merchant_id": "m1", "write_key": "k1", "anonymous_id": "a1", "event": "Paid"}


def add(client: FlaskClient, **rule: Any) -> dict[str, Any]:
    r = client.post("/_emulator/faults", json=rule)
    assert r.status_code == 201, r.json
    contract.validate("fault", r.json)
    return r.json["fault"]  # type: ignore[no-any-return]


def track(client: FlaskClient, **body: Any) -> Any:
    return client.post("/tracker/v1/track", json={**TRACK, **body})


def events(client: FlaskClient, merchant: str = "m1") -> list[dict[str, Any]]:
    return client.get(f"/_emulator/merchants/{merchant}/events").json["events"]  # type: ignore[no-any-return]


def journal(client: FlaskClient, **query: Any) -> list[dict[str, Any]]:
    r = client.get("/_emulator/requests", query_string=query)
    contract.validate("journal", r.json)
    return r.json["requests"]  # type: ignore[no-any-return]


def test_a_rule_answers_its_times_then_stays_listed_used_up(client: FlaskClient) -> None:
    rule = add(client, match={"path": "/tracker/v1/track"}, action={"status": 503}, times=2)
    assert (rule["id"], rule["hits"], rule["remaining"], rule["times"]) == ("f1", 0, 2, 2)
    answers = [track(client, event=f"E{i}") for i in range(3)]
    assert [r.status_code for r in answers] == [503, 503, 200]
    assert answers[0].json["error"]["code"] == "injected_fault"
    assert "DELETE /_emulator/faults/f1" in answers[0].json["error"]["message"]
    assert [e["event"] for e in events(client)] == ["E2"]  # faulted calls applied nothing
    listed = client.get("/_emulator/faults").json
    contract.validate("faults", listed)
    assert [(f["id"], f["hits"], f["remaining"]) for f in listed["faults"]] == [("f1", 2, 0)]
    removed = client.delete("/_emulator/faults/f1")
    assert removed.status_code == 200 and removed.json["fault"]["hits"] == 2
    assert client.get("/_emulator/faults").json["faults"] == []


def test_every_faulted_call_is_journaled_with_its_rule(client: FlaskClient) -> None:
    add(client, action={"status": 500, "apply": True}, times=1)
    assert track(client).status_code == 500
    assert track(client).status_code == 200
    faulted, accepted = journal(client)
    assert (faulted["status"], faulted["fault_id"]) == (500, "f1")
    assert faulted["summary"] == "fault f1: applied, then answered 500 · track 'Paid'"
    assert accepted["fault_id"] is None
    assert [e["id"] for e in journal(client, outcome="faulted")] == [faulted["id"]]
    # apply: the first call landed although its answer was a 500.
    assert len(events(client)) == 2


def test_body_and_headers_are_sent_as_given(client: FlaskClient) -> None:
    for body in ([1, "two"], "text", None, {"a": {"b": True}}):
        add(client, action={"status": 429, "body": body, "headers": {"Retry-After": "1"}}, times=1)
        r = track(client)
        assert (r.status_code, r.json, r.headers["Retry-After"]) == (429, body, "1")
        assert r.mimetype == "application/json"
    add(client, action={"status": 204}, times=1)
    r = track(client)
    assert (r.status_code, r.data) == (204, b"")
    add(client, action={"status": 200}, times=1)  # a lost call: acknowledged, never applied
    assert (track(client).json, events(client)) == ({}, [])


def test_segment_faults_answer_in_segments_error_shape(client: FlaskClient) -> None:
    add(client, match={"surface": "segment", "merchant_id": "shop"}, action={"status": 503})
    batch = {"writeKey": "shop", "batch": [{"type": "track", "userId": "u", "event": "E"}]}
    r = client.post("/v1/batch", json=batch)
    assert r.status_code == 503
    assert r.json["code"] == r.json["error"]["code"] == "injected_fault"  # top level too
    # Another merchant's calls are not matched.
    assert client.post("/v1/batch", json={**batch, "writeKey": "other"}).status_code == 200


def test_a_call_refused_before_its_merchant_is_known_still_meets_the_rules(
    client: FlaskClient,
) -> None:
    add(client, match={"surface": "segment"}, action={"status": 503}, times=1)
    r = client.post("/v1/batch", data="not json", content_type="application/json")
    assert r.status_code == 503
    [entry] = journal(client)
    assert (entry["fault_id"], entry["status"], entry["error"]["code"]) == (
        "f1",
        503,
        "invalid_json",
    )
    assert client.post("/v1/batch", data="not json").status_code in (400, 415)


def test_the_oldest_rule_with_calls_left_wins(client: FlaskClient) -> None:
    add(client, action={"status": 503}, times=1)
    add(client, action={"status": 502}, times=1)
    add(client, action={"status": 500})
    assert [track(client).status_code for _ in range(4)] == [503, 502, 500, 500]


def test_faults_never_touch_the_admin_api(client: FlaskClient) -> None:
    add(client, action={"status": 503})
    for path in ("/_emulator/health", "/_emulator/merchants", "/_emulator/requests", "/"):
        assert client.get(path).status_code == 200, path
    assert client.post("/_emulator/clock", json={"advance": "1s"}).status_code == 200
    r = client.post("/_emulator/faults", json={"match": {"surface": "admin"}, "action": {}})
    assert (r.status_code, r.json["error"]["field"]) == (400, "match.surface")
    assert "never apply to the admin API" in r.json["error"]["message"]


def test_engage_audience_syncs_can_fail(client: FlaskClient) -> None:
    add(client, match={"surface": "engage"}, action={"status": 503}, times=1)
    sync = {"members": ["u1"]}
    assert client.put("/_emulator/merchants/m1/audiences/vip", json=sync).status_code == 503
    assert client.get("/_emulator/merchants/m1/leads").json["leads"] == []
    assert client.put("/_emulator/merchants/m1/audiences/vip", json=sync).status_code == 200


def test_delay_answers_late_then_normally(client: FlaskClient) -> None:
    add(client, action={"delay_ms": 150}, times=1)
    start = time.monotonic()
    r = track(client)
    late = time.monotonic() - start
    start = time.monotonic()
    track(client)
    prompt = time.monotonic() - start
    assert r.status_code == 200 and late >= 0.15 and prompt < late
    assert journal(client)[0]["summary"].startswith("fault f1: 150 ms late")


def test_reset_and_delete_remove_rules(client: FlaskClient) -> None:
    add(client, action={"status": 503})
    add(client, action={"status": 500})
    assert client.delete("/_emulator/faults").json == {"removed": ["f1", "f2"]}
    add(client, action={"status": 503})
    assert client.post("/_emulator/reset").status_code == 200
    assert client.get("/_emulator/faults").json["faults"] == []
    assert track(client).status_code == 200
    assert add(client, action={"status": 503})["id"] == "f4"  # ids are never reused
    r = client.delete("/_emulator/faults/f1")
    assert r.status_code == 404 and r.json["error"]["code"] == "fault_not_found"
    assert "f4" in r.json["error"]["message"]


@pytest.mark.parametrize(
    "rule,field",
    [
        ({"match": {"surface": "browser"}, "action": {"status": 503}}, "match.surface"),
        ({"action": {"status": 99}}, "action.status"),
        ({"action": {"drop": "sideways"}}, "action.drop"),
        ({"action": {"status": 503}, "times": 0}, "times"),
        ({"action": {"status": 503}, "probability": 1.5}, "probability"),
        ({"action": {"status": 503}, "probability": 0}, "probability"),
        ({"action": {"delay_ms": 60_001}}, "action.delay_ms"),
        ({"action": {"status": 503, "headers": {"X": "a\nb"}}}, "action.headers.X"),
        ({"action": {"preset": "stripe"}}, "action.preset"),
        ({"match": {"path": "/v1/batch"}}, "action"),
        ({"action": {"status": 503}, "when": "now"}, "when"),
        ({"match": {"merchant_id": "no spaces"}, "action": {"status": 503}}, "match.merchant_id"),
    ],
)
def test_a_malformed_rule_gets_a_400_naming_the_field(
    client: FlaskClient, rule: dict[str, Any], field: str
) -> None:
    r = client.post("/_emulator/faults", json=rule)
    assert r.status_code == 400, r.json
    assert r.json["error"]["field"] == field, r.json
    assert client.get("/_emulator/faults").json["faults"] == []


def test_unknown_query_parameters_are_refused(client: FlaskClient) -> None:
    r = client.get("/_emulator/faults?active=true")
    assert r.status_code == 400 and r.json["error"]["code"] == "unknown_parameter"


def test_the_admin_token_guards_the_faults() -> None:
    client = create_app(Settings(admin_token="t")).test_client()
    assert client.get("/_emulator/faults").status_code == 401
    r = client.get("/_emulator/faults", headers={"Authorization": "Bearer t"})
    assert r.status_code == 200


def test_the_rate_limit_preset_follows_the_emulators_clock(client: FlaskClient) -> None:
    add(client, match={"surface": "tracker"}, action={"preset": "wishpond_rate_limit"})
    assert {track(client, event=f"E{i}").status_code for i in range(100)} == {200}
    r = track(client)
    assert (r.status_code, r.json) == (429, {"error": "Rate Limit Exceeded"})
    assert 59 <= int(r.headers["Retry-After"]) <= 60
    other = track(client, merchant_id="m2")  # a window per merchant
    assert other.status_code == 200
    client.post("/_emulator/clock", json={"advance": "30s"})
    assert 29 <= int(track(client).headers["Retry-After"]) <= 30
    client.post("/_emulator/clock", json={"advance": "30s"})
    assert track(client).status_code == 200  # the window ended 60 s after its first call
    assert len(events(client)) == 101
    assert client.get("/_emulator/faults").json["faults"][0]["hits"] == 2


def test_probability_draws_repeat_with_the_seed() -> None:
    def run(seed: int) -> list[int]:
        client = create_app(Settings(seed=seed)).test_client()
        add(client, action={"status": 503}, probability=0.5)
        first = [track(client).status_code for _ in range(30)]
        client.post("/_emulator/reset")  # starts the draws again
        add(client, action={"status": 503}, probability=0.5)
        assert [track(client).status_code for _ in range(30)] == first
        assert client.get("/_emulator/faults").json["seed"] == seed
        return first

    once = run(7)
    assert run(7) == once and {200, 503} <= set(once)
    assert run(8) != once


def test_tracker_message_ids_are_applied_once(client: FlaskClient) -> None:
    first = track(client, message_id="m-1")
    again = track(client, message_id="m-1", properties={"changed": True})
    contract.validate("track-response", again.json)
    assert again.status_code == 200 and again.json == {**first.json, "duplicate": True}
    lead = {"merchant_id": "m1", "write_key": "k1", "id": "u1", "message_id": "i-1"}
    made = client.post("/tracker/v1/identify", json={**lead, "attributes": {"a": 1}})
    repeat = client.post("/tracker/v1/identify", json={**lead, "attributes": {"a": 2}})
    contract.validate("identify-response", repeat.json)
    assert repeat.json == {**made.json, "duplicate": True}
    assert [e["message_id"] for e in events(client)] == ["m-1", "i-1"]
    skipped = [e["skipped"] for e in journal(client, outcome="skipped")]
    assert skipped == [
        [{"reason": "duplicate message_id", "message_id": "m-1"}],
        [{"reason": "duplicate message_id", "message_id": "i-1"}],
    ]
    # One window per merchant, shared with the Segment surface.
    assert track(client, merchant_id="m2", message_id="m-1").json.get("duplicate") is None
    batch = {"writeKey": "m1", "batch": [{"type": "track", "userId": "u", "event": "S"}]}
    batch["batch"][0]["messageId"] = "seg-1"
    client.post("/v1/batch", json=batch)
    r = track(client, message_id="seg-1")
    assert (r.json["duplicate"], r.json["event"]["source"]) == (True, "segment")


def test_a_message_id_longer_than_100_characters_is_refused(client: FlaskClient) -> None:
    r = track(client, message_id="x" * 101)
    assert r.status_code == 400 and r.json["error"]["field"] == "message_id"
