"""The Segment surface through the Wishpond destination mapping, and Engage audiences."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

import contract
from contract.conftest import Merchant


def encoded(merchant: Merchant, data: bytes, encoding: str) -> Any:
    """POST raw bytes to /v1/identify with a Content-Encoding."""
    return merchant.segment(
        "/v1/identify",
        None,
        data=data,
        headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
    )


def ok(merchant: Merchant, path: str, body: Any) -> None:
    reply = merchant.segment(path, body)
    assert reply.status == 200, reply.body
    contract.validate("segment-response", reply.body)
    assert reply.body == {"success": True}


# Segment call -> the lead attributes Wishpond's identify receives (the reference vectors).
VECTORS = [
    (
        {"name": "Jane Kim", "email": "jane.kim@example.com"},
        {
            "name": "Jane Kim",
            "email": "jane.kim@example.com",
            "id": "1e810c197e",
            "first_name": "Jane",
            "last_name": "Kim",
        },
    ),
    ({}, {"id": "1e810c197e"}),
    (
        {"firstName": "A", "lastName": "B"},
        {"id": "1e810c197e", "first_name": "A", "last_name": "B"},
    ),
    (
        {"createdAt": "2024-01-01T00:00:00.000Z", "leadScore": 5, "notDefault": 1},
        {
            "id": "1e810c197e",
            "created_at": "2024-01-01T00:00:00.000Z",
            "lead_score": 5,
            "notDefault": 1,
        },
    ),
    ({"name": "Cher"}, {"name": "Cher", "id": "1e810c197e", "first_name": "Cher"}),
]


@pytest.mark.parametrize("traits,attributes", VECTORS)
def test_identify_maps_traits_like_the_destination(
    merchant: Merchant, traits: dict[str, Any], attributes: dict[str, Any]
) -> None:
    ok(merchant, "/v1/identify", {"userId": "1e810c197e", "traits": traits})
    assert merchant.lead("1e810c197e")["attributes"] == attributes


def test_identify_without_user_id_is_skipped_and_journaled(merchant: Merchant) -> None:
    ok(merchant, "/v1/identify", {"anonymousId": "a1", "traits": {"trait": True}})
    assert merchant.leads() == [] and merchant.events() == []
    journal = merchant.api.ok(
        "GET", f"/_emulator/requests?merchant_id={merchant.id}&outcome=skipped", schema="journal"
    )["requests"]
    assert journal and journal[-1]["skipped"][0]["reason"] == "user id required"


def test_track_passes_event_and_properties_to_the_sessions_lead(merchant: Merchant) -> None:
    ok(merchant, "/v1/identify", {"userId": "u1", "anonymousId": "s1", "traits": {}})
    ok(
        merchant,
        "/v1/track",
        {"anonymousId": "s1", "event": "Signed Up", "properties": {"plan": "Startup"}},
    )
    ok(merchant, "/v1/track", {"userId": "u1", "event": "event"})
    tracked = merchant.events("?type=track")
    assert [(e["event"], e["properties"], e["lead_id"], e["source"]) for e in tracked] == [
        ("Signed Up", {"plan": "Startup"}, "u1", "segment"),
        ("event", {}, "u1", "segment"),
    ]


def test_page_screen_group_alias_are_accepted_and_skipped(merchant: Merchant) -> None:
    for kind, extra in (
        ("page", {}),
        ("screen", {}),
        ("group", {"groupId": "g"}),
        ("alias", {"previousId": "p"}),
    ):
        ok(merchant, f"/v1/{kind}", {"userId": "u1", **extra})
    assert merchant.events() == []


def faithful(health: Any) -> bool:
    """Return whether the server answers /v1 as Segment does (servers predating it do not)."""
    return bool(health.get("segment_responses") == "faithful")


def test_batch_applies_in_order_and_drops_or_refuses_bad_messages(
    merchant: Merchant, health: Any
) -> None:
    good = [
        {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}},
        {"type": "track", "userId": "u1", "event": "One"},
    ]
    ok(merchant, "/v1/batch", {"batch": good})
    assert [e["event"] for e in merchant.events("?type=track")] == ["One"]
    before = merchant.api.call("GET", merchant.path("/events")).raw
    bad = [
        {"type": "track", "userId": "u1", "event": "Two"},
        {"type": "track", "userId": "u1"},
        {"type": "nonsense"},
    ]
    reply = merchant.segment("/v1/batch", {"batch": bad})
    if faithful(health):
        # As Segment: 200, the valid message applied, each bad one dropped alone.
        assert reply.status == 200 and reply.body == {"success": True}, reply.body
        assert reply.headers["wishpond-emulator-dropped"] == "2"
        assert [e["event"] for e in merchant.events("?type=track")] == ["One", "Two"]
        [entry] = merchant.journal("dropped")
        assert [d["index"] for d in entry["drops"]] == [1, 2]
        assert all(d["reason"] for d in entry["drops"])
        return
    message = merchant.api.error(reply, 400, "invalid_batch")
    assert "message 1" in message and "message 2" in message
    assert [e["index"] for e in reply.body["error"]["errors"]] == [1, 2]
    assert merchant.api.call("GET", merchant.path("/events")).raw == before
    [entry] = merchant.journal("rejected")
    assert [d["index"] for d in entry["drops"]] == [1, 2]


def test_more_than_2500_messages_are_all_dropped_or_refused(
    merchant: Merchant, health: Any
) -> None:
    batch = {"batch": [{"type": "track", "userId": "u1", "event": "E"}] * 2501}
    reply = merchant.segment("/v1/batch", batch)
    if faithful(health):
        assert reply.status == 200 and reply.headers["wishpond-emulator-dropped"] == "2501"
    else:
        merchant.api.error(reply, 400, "too_many_messages")
    assert merchant.events() == []
    assert len(merchant.journal()[-1]["drops"]) == 2501


def test_a_retried_message_id_is_applied_once(merchant: Merchant) -> None:
    message = {"type": "track", "userId": "u1", "event": "Paid", "messageId": "retry-1"}
    for _ in range(2):
        ok(merchant, "/v1/batch", {"batch": [message, message]})
    ok(merchant, "/v1/track", message)
    [event] = merchant.events()
    assert (event["event"], event["message_id"]) == ("Paid", "retry-1")
    reasons = [s["reason"] for e in merchant.journal() for s in e["skipped"]]
    assert reasons == ["duplicate messageId"] * 4


@pytest.mark.parametrize(
    "extra,reason",
    [
        ({"integrations": {"Wishpond": False}}, "disabled by the integrations option"),
        ({"integrations": {"All": False}}, "disabled by the integrations option"),
        ({"_metadata": {"bundled": ["Wishpond"]}}, "sent in device mode by the browser"),
    ],
)
def test_messages_segment_keeps_from_wishpond(
    merchant: Merchant, extra: dict[str, Any], reason: str
) -> None:
    ok(merchant, "/v1/track", {"userId": "u1", "event": "E", **extra})
    ok(
        merchant,
        "/v1/track",
        {"userId": "u1", "event": "F", "integrations": {"All": False, "Wishpond": True}},
    )
    assert [e["event"] for e in merchant.events()] == ["F"]
    assert merchant.journal()[0]["skipped"][0]["reason"] == reason


def test_analytics_js_endpoints_take_text_plain(merchant: Merchant) -> None:
    for path, body in (
        ("/v1/i", {"userId": "u1", "traits": {"since": "2024-06-01T10:00:00+02:00"}}),
        ("/v1/t", {"userId": "u1", "event": "E", "properties": {"on": "2024-01-01"}}),
        ("/v1/b", {"batch": [{"type": "track", "userId": "u1", "event": "B"}]}),
    ):
        data = json.dumps({**body, "writeKey": merchant.segment_key}).encode()
        reply = merchant.api.call("POST", path, data=data, content_type="text/plain")
        assert reply.status == 200 and reply.body == {"success": True}, (path, reply.body)
        assert reply.headers.get("access-control-allow-origin") == "*"
    # facade's date traversal: ISO dates reach Wishpond as UTC with milliseconds.
    assert merchant.lead("u1")["attributes"]["since"] == "2024-06-01T08:00:00.000Z"
    tracked = merchant.events("?type=track")
    assert [(e["event"], e["properties"]) for e in tracked] == [
        ("E", {"on": "2024-01-01T00:00:00.000Z"}),
        ("B", {}),
    ]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_events_carry_the_message_id_and_the_corrected_timestamp(merchant: Merchant) -> None:
    message = {"type": "track", "userId": "u1", "event": "E", "messageId": "m-1"}
    batch = {
        "batch": [{**message, "timestamp": "2024-05-01T10:00:00.000Z"}],
        "sentAt": "2024-05-01T10:00:02.250Z",
    }
    ok(merchant, "/v1/batch", batch)
    historical = {**message, "messageId": "m-2", "timestamp": "2019-03-04T05:06:07+02:00"}
    ok(merchant, "/v1/track", historical)
    first, second = merchant.events()
    assert (first["message_id"], second["message_id"]) == ("m-1", "m-2")
    # received_at - (sentAt - timestamp): the client's clock skew taken out.
    expected = _at(first["received_at"]) - timedelta(seconds=2.25)
    assert _at(first["timestamp"]) == expected and first["timestamp"].endswith("Z")
    # No sentAt: the timestamp as sent, in UTC with milliseconds (a historical import).
    assert second["timestamp"] == "2019-03-04T03:06:07.000Z"
    tracked = merchant.track("Direct", anonymous_id="a1")
    assert tracked["timestamp"] == tracked["received_at"] and tracked["message_id"] is None


def test_gzip_bodies_are_accepted(merchant: Merchant) -> None:
    body = gzip.compress(json.dumps({"userId": "gz", "traits": {"x": 1}}).encode())
    reply = encoded(merchant, body, "gzip")
    assert reply.status == 200, reply.body
    assert merchant.lead("gz")["attributes"] == {"x": 1, "id": "gz"}
    broken = encoded(merchant, b"\x1f\x8bnot gzip", "gzip")
    merchant.api.error(broken, 400, "invalid_gzip")


def test_segment_size_limits(merchant: Merchant) -> None:
    big_message = {"userId": "u", "event": "e", "properties": {"x": "y" * 33_000}}
    reply = merchant.segment("/v1/track", big_message)
    assert reply.status == 400 and "32 KB" in reply.body["error"]["message"], reply.body
    batch = {
        "batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"x": "y" * 20_000}}]
        * 30
    }
    merchant.api.error(merchant.segment("/v1/batch", batch), 400, "request_too_large")
    assert merchant.events() == []


def test_write_key_errors(merchant: Merchant, health: Any) -> None:
    api = merchant.api
    missing = api.call("POST", "/v1/identify", {"userId": "u"})
    api.error(missing, 401, "invalid_write_key")
    if health.get("mode") == "open":
        reply = api.call("POST", "/v1/identify", {"userId": "u", "writeKey": "no spaces allowed"})
        api.error(reply, 400, "unusable_write_key")


def personas(key: str) -> dict[str, Any]:
    return {
        "personas": {
            "computation_class": "audience",
            "computation_id": "aud_x",
            "computation_key": key,
            "namespace": "spa_x",
            "space_id": "spa_x",
        }
    }


def test_engage_identify_and_track_toggle_audiences(merchant: Merchant) -> None:
    key = "order_completed_last_30days"
    for value in (True, False, True):
        ok(
            merchant,
            "/v1/identify",
            {"userId": "u1", "traits": {key: value}, "context": personas(key)},
        )
    ok(
        merchant,
        "/v1/track",
        {
            "userId": "u1",
            "event": "Audience Exited",
            "properties": {"audience_key": key, key: False},
            "context": personas(key),
        },
    )
    lead = merchant.lead("u1")
    assert lead["audiences"] == {key: False} and lead["attributes"][key] is False
    assert [h["value"] for h in lead["audience_history"]] == [True, False, True, False]
    assert [e["source"] for e in lead["events"]] == ["engage"] * 4
    assert [x["id"] for x in merchant.leads(f"?audience.{key}=false")] == ["u1"]


def test_audience_sync_simulator(merchant: Merchant) -> None:
    api = merchant.api
    path = merchant.path("/audiences/vip")

    def sync(members: list[str]) -> Any:
        body = api.ok(
            "PUT", path, {"name": "VIP", "members": members}, schema="engage-sync-response"
        )
        return [(c["userId"], c["traits"]["vip"]) for c in body["calls"]]

    assert sync(["a", "b"]) == [("a", True), ("b", True)]  # first sync: every member
    assert sync(["a", "b"]) == []  # nothing changed
    assert sync(["b", "c"]) == [("c", True), ("a", False)]  # join and leave
    assert sync(["a", "b", "c"]) == [("a", True)]  # rejoin
    assert [h["value"] for h in merchant.lead("a")["audience_history"]] == [True, False, True]
    assert merchant.lead("c")["audiences"] == {"vip": True}
    made = api.ok(
        "POST",
        merchant.path("/audiences"),
        {"name": "Order Completed Last 30days", "members": ["a"]},
        schema="engage-sync-response",
    )
    assert made["key"] == "order_completed_last_30days"
    bad = api.call("PUT", merchant.path("/audiences/not-a-key"), {"members": []})
    api.error(bad, 400, "invalid_audience_key")


def test_unknown_content_encoding(merchant: Merchant) -> None:
    reply = encoded(merchant, b'{"userId": "u"}', "br")
    merchant.api.error(reply, 415, "unsupported_content_encoding")
    assert merchant.leads() == []
