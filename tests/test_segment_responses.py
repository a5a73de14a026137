"""/v1 as Segment answers it: faithful drops, strict refusals, exactly once, routing, time."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient

import contract
from emulator import create_app, isodate
from emulator.settings import Settings

HEADER = "Wishpond-Emulator-Dropped"


def app(**settings: Any) -> FlaskClient:
    return create_app(Settings(**settings)).test_client()


def basic(key: str = "m1") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def post(client: FlaskClient, path: str, body: Any, key: str | None = "m1", **kw: Any) -> Any:
    return client.post(path, json=body, headers=basic(key) if key else {}, **kw)


def events(client: FlaskClient, merchant: str = "m1") -> list[dict[str, Any]]:
    return client.get(f"/_emulator/merchants/{merchant}/events").json["events"]  # type: ignore[no-any-return]


def last_entry(client: FlaskClient) -> dict[str, Any]:
    entry: dict[str, Any] = client.get("/_emulator/requests").json["requests"][-1]
    return entry


def track(event: str, message_id: str | None = None, **extra: Any) -> dict[str, Any]:
    message = {"type": "track", "userId": "u", "event": event, **extra}
    if message_id is not None:
        message["messageId"] = message_id
    return message


MIXED = [
    track("First"),
    {"type": "track", "userId": "u"},  # no event
    {"type": "identify", "traits": {"plan": "pro"}},  # neither userId nor anonymousId
    track("Second"),
    {"type": "jump", "userId": "u"},  # no such type
    "not a message",
    track("Third", properties=[]),  # properties not an object
]


def test_faithful_applies_the_valid_messages_and_drops_each_invalid_one() -> None:
    client = app()
    r = post(client, "/v1/batch", {"batch": MIXED})
    assert r.status_code == 200 and r.json == {"success": True}
    assert r.headers[HEADER] == "5"
    assert [e["event"] for e in events(client)] == ["First", "Second"]
    entry = last_entry(client)
    assert [(d["index"], d["field"]) for d in entry["drops"]] == [
        (1, "event"),
        (2, "(message)"),
        (4, "type"),
        (5, "(message)"),
        (6, "properties"),
    ]
    assert "userId or anonymousId" in entry["drops"][1]["reason"]
    assert entry["drops"][0]["message"] == {"type": "track", "userId": "u"}
    assert entry["drops"][3]["message"] == {"(value)": '"not a message"'}
    dropped = client.get("/_emulator/requests?outcome=dropped").json
    contract.validate("journal", dropped)
    assert [e["id"] for e in dropped["requests"]] == [entry["id"]]


def test_no_header_when_nothing_is_dropped() -> None:
    client = app()
    r = post(client, "/v1/batch", {"batch": [track("A")]})
    assert r.status_code == 200 and HEADER not in r.headers
    assert client.get("/_emulator/requests?outcome=accepted").json["requests"]


def test_strict_refuses_the_whole_request_and_journals_every_problem() -> None:
    client = app(segment_responses="strict")
    r = post(client, "/v1/batch", {"batch": MIXED})
    assert r.status_code == 400 and r.json["code"] == "invalid_batch"
    assert [e["index"] for e in r.json["error"]["errors"]] == [1, 2, 4, 5, 6]
    assert events(client) == []
    entry = last_entry(client)
    assert [d["index"] for d in entry["drops"]] == [1, 2, 4, 5, 6]
    assert client.get("/_emulator/requests?outcome=rejected").json["requests"][0]["drops"]


@pytest.mark.parametrize("path", ["/v1/track", "/v1/t"])
def test_a_single_call_is_dropped_alone_too(path: str) -> None:
    client = app()
    r = post(client, path, {"userId": "u"})
    assert r.status_code == 200 and r.headers[HEADER] == "1"
    assert last_entry(client)["drops"][0]["field"] == "event"
    assert (
        app(segment_responses="strict")
        .post(path, json={"userId": "u"}, headers=basic())
        .status_code
        == 400
    )


def test_more_than_2500_messages_drops_them_all() -> None:
    client = app()
    r = post(client, "/v1/batch", {"batch": [track("E")] * 2501})
    assert r.status_code == 200 and r.headers[HEADER] == "2501"
    assert events(client) == []
    drops = last_entry(client)["drops"]
    assert len(drops) == 2501 and drops[-1]["index"] == 2500
    assert "at most 2,500" in drops[0]["reason"]
    assert post(client, "/v1/batch", {"batch": [track("E")] * 2500}).status_code == 200
    assert len(events(client)) == 2500
    strict = app(segment_responses="strict")
    r = post(strict, "/v1/batch", {"batch": [track("E")] * 2501})
    assert r.status_code == 400 and r.json["error"]["code"] == "too_many_messages"
    assert len(last_entry(strict)["drops"]) == 2501 and events(strict) == []


def test_a_well_formed_key_no_source_has_is_dropped_with_200() -> None:
    client = app(sources={"wk_live": "shop"})
    r = post(client, "/v1/batch", {"batch": [track("A"), track("B")]}, key="wk_typo")
    assert r.status_code == 200 and r.headers[HEADER] == "2"
    entry = last_entry(client)
    assert entry["merchant_id"] is None and entry["status"] == 200
    assert "--source wk_typo:MERCHANT_ID" in entry["drops"][0]["reason"]
    assert client.get("/_emulator/merchants").json["merchants"] == []
    # Without any key, or under strict answers, it is still an error.
    assert post(client, "/v1/track", track("A"), key=None).status_code == 401
    strict = app(sources={"wk_live": "shop"}, segment_responses="strict")
    r = post(strict, "/v1/track", track("A"), key="wk_typo")
    assert r.status_code == 401 and r.json["code"] == "invalid_write_key"


@pytest.mark.parametrize("responses", ["faithful", "strict"])
def test_an_unusable_key_in_open_mode_is_400_in_both_modes(responses: str) -> None:
    r = post(app(segment_responses=responses), "/v1/track", track("A"), key="has space")
    assert r.status_code == 400 and r.json["code"] == "unusable_write_key"


def test_a_message_over_32_kb_is_400_in_faithful_mode_too() -> None:
    client = app()
    big = track("Big", properties={"x": "y" * 33_000})
    r = post(client, "/v1/batch", {"batch": [track("A"), big]})
    assert r.status_code == 400 and "32 KB" in r.json["message"]
    assert events(client) == []


# -- exactly once -------------------------------------------------------------------------------


def test_a_retried_message_id_is_acknowledged_and_applied_once() -> None:
    client = app()
    body = {"batch": [track("A", "id-1"), track("B", "id-2"), track("A", "id-1")]}
    assert post(client, "/v1/batch", body).status_code == 200
    assert post(client, "/v1/batch", body).status_code == 200
    assert post(client, "/v1/t", track("A", "id-1")).status_code == 200
    assert [(e["event"], e["message_id"]) for e in events(client)] == [("A", "id-1"), ("B", "id-2")]
    reasons = [s["reason"] for s in last_entry(client)["skipped"]]
    assert reasons == ["duplicate messageId"]
    assert HEADER not in post(client, "/v1/t", track("A", "id-1")).headers


def test_a_skipped_message_holds_its_id_and_a_dropped_one_does_not() -> None:
    client = app()
    post(client, "/v1/batch", {"batch": [{"type": "page", "userId": "u", "messageId": "p"}]})
    post(client, "/v1/batch", {"batch": [{"type": "track", "userId": "u", "messageId": "d"}]})
    post(client, "/v1/batch", {"batch": [track("From page id", "p"), track("From drop id", "d")]})
    assert [e["event"] for e in events(client)] == ["From drop id"]


def test_ids_survive_export_and_import() -> None:
    client = app()
    post(client, "/v1/batch", {"batch": [track("A", "kept")]})
    state = client.get("/_emulator/state").json
    assert state["merchants"]["m1"]["message_ids"] == ["kept"]
    contract.validate("state", state)
    other = app()
    assert other.put("/_emulator/state", json=state).status_code == 200
    post(other, "/v1/t", track("A", "kept"))
    assert len(events(other)) == 1


# -- what reaches Wishpond ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "batch_integrations,own,forwarded",
    [
        (None, {"Wishpond": False}, False),
        (None, {"All": False}, False),
        (None, {"All": False, "Wishpond": True}, True),
        ({"All": False}, None, False),
        ({"All": False}, {"Wishpond": True}, True),  # the message's own key wins
        ({"Wishpond": False}, {"wishpond": True}, False),  # names are case-sensitive
        (None, {"wishpond": False}, True),
    ],
)
def test_integrations_routing(batch_integrations: Any, own: Any, forwarded: bool) -> None:
    client = app()
    body: dict[str, Any] = {"batch": [track("A", integrations=own) if own else track("A")]}
    if batch_integrations:
        body["integrations"] = batch_integrations
    assert post(client, "/v1/batch", body).status_code == 200
    assert len(events(client)) == int(forwarded)
    skipped = last_entry(client)["skipped"]
    assert skipped == (
        []
        if forwarded
        else [{"index": 0, "type": "track", "reason": "disabled by the integrations option"}]
    )


def test_bundled_messages_are_not_sent_twice() -> None:
    client = app()
    message = track("A", "m", _metadata={"bundled": ["Segment.io", "Wishpond"]})
    assert post(client, "/v1/t", message).status_code == 200
    assert events(client) == []
    assert last_entry(client)["skipped"][0]["reason"] == "sent in device mode by the browser"


def test_events_carry_the_message_id_and_segments_corrected_timestamp() -> None:
    client = app()
    body = {
        "batch": [
            track("Late", "m-1", timestamp="2024-05-01T10:00:00.000Z"),
            track(
                "Own sentAt", "m-2", timestamp="2024-05-01T10:00:00Z", sentAt="2024-05-01T10:00:03Z"
            ),
            track("Import", "m-3"),
        ],
        "sentAt": "2024-05-01T10:00:02.500Z",
    }
    post(client, "/v1/batch", body)
    late, own, plain = events(client)
    received = isodate.parse(late["received_at"])
    assert late["received_at"] == own["received_at"] == plain["received_at"]
    assert late["timestamp"] == isodate.to_iso(received - 2500)
    assert own["timestamp"] == isodate.to_iso(received - 3000)
    assert plain["timestamp"] == plain["received_at"] and plain["message_id"] == "m-3"
    post(client, "/v1/t", track("Historical", timestamp="2019-03-04T05:06:07+02:00"))
    assert events(client)[-1]["timestamp"] == "2019-03-04T03:06:07.000Z"
    for event in events(client):
        contract.validate("event", event)


def test_tracker_events_have_received_at_as_timestamp_and_no_message_id() -> None:
    client = app()
    body = {"merchant_id": "m1", "write_key": "k", "anonymous_id": "a", "event": "E"}
    event = client.post("/tracker/v1/track", json=body).json["event"]
    assert event["timestamp"] == event["received_at"] and event["message_id"] is None
    contract.validate("event", event)


def test_engage_sync_events_carry_their_message_ids() -> None:
    client = app()
    answer = client.put("/_emulator/merchants/m1/audiences/vip", json={"members": ["u"]}).json
    [event] = events(client)
    assert event["message_id"] == answer["calls"][0]["messageId"]


# -- analytics.js's endpoints, bodies and CORS ----------------------------------------------------


@pytest.mark.parametrize(
    "short,body,stored",
    [
        ("i", {"userId": "u", "traits": {"plan": "pro"}}, "identify"),
        ("t", {"userId": "u", "event": "E"}, "track"),
        ("p", {"userId": "u", "name": "Home"}, None),
        ("s", {"userId": "u", "name": "Home"}, None),
        ("g", {"userId": "u", "groupId": "g"}, None),
        ("a", {"userId": "u", "previousId": "p"}, None),
        ("b", {"batch": [{"type": "track", "userId": "u", "event": "E"}]}, "track"),
    ],
)
def test_short_endpoints_take_text_plain_with_the_key_in_the_body(
    short: str, body: dict[str, Any], stored: str | None
) -> None:
    import json

    client = app()
    r = client.post(
        f"/v1/{short}",
        data=json.dumps({**body, "writeKey": "m1"}),
        content_type="text/plain;charset=UTF-8",
    )
    assert r.status_code == 200 and r.json == {"success": True}
    assert [e["type"] for e in events(client)] == ([stored] if stored else [])


def test_cors_on_v1_preflight_and_answers() -> None:
    client = app()
    origin = {"Origin": "http://shop.example"}
    r = client.options("/v1/t", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    r = client.post("/v1/t", json={"userId": "u"}, headers={**origin, **basic()})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert HEADER in r.headers["Access-Control-Expose-Headers"]
    r = client.post("/v1/t", data=b"{", content_type="text/plain", headers=origin)
    assert r.status_code == 400 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in client.get("/_emulator/health").headers


def test_health_names_the_answers_mode() -> None:
    assert app().get("/_emulator/health").json["segment_responses"] == "faithful"
    strict = app(segment_responses="strict")
    assert strict.get("/_emulator/health").json["segment_responses"] == "strict"
