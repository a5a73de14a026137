"""The Segment surface over Flask's test client: mapping, routing, limits, atomicity."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import contract
from emulator import create_app
from emulator.settings import Settings

VECTORS = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "segment-vectors.json").read_text()
)
ALL = VECTORS["reference"] + VECTORS["extra"]


def strict() -> FlaskClient:
    """Return a test client of a fresh app answering /v1 in strict mode."""
    return create_app(Settings(segment_responses="strict")).test_client()


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def batch(client: FlaskClient, messages: list[Any], key: str = "m1", **extra: Any) -> Any:
    return client.post("/v1/batch", json={"batch": messages, **extra}, headers=basic(key))


def leads(client: FlaskClient, merchant: str = "m1") -> list[dict[str, Any]]:
    return client.get(f"/_emulator/merchants/{merchant}/leads").json["leads"]  # type: ignore[no-any-return]


def events(client: FlaskClient, merchant: str = "m1") -> list[dict[str, Any]]:
    return client.get(f"/_emulator/merchants/{merchant}/events").json["events"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("vector", ALL, ids=[v["name"] for v in ALL])
def test_vector_over_http(client: FlaskClient, vector: dict[str, Any]) -> None:
    r = batch(client, [vector["segment"]])
    assert r.status_code == 200 and r.json == {"success": True}
    expected = vector["wishpond"]
    if expected is None:
        assert events(client) == []
        entry = client.get("/_emulator/requests").json["requests"][-1]
        assert entry["skipped"] == [
            {"index": 0, "type": vector["segment"]["type"], "reason": vector["skip_reason"]}
        ]
        return
    [event] = events(client)
    assert (event["type"], event["source"]) == (expected["method"], "segment")
    if expected["method"] == "identify":
        user_id, traits = expected["args"]
        [lead] = leads(client)
        assert (lead["id"], lead["attributes"]) == (user_id, traits)
        assert event["attributes"] == traits and event["lead_id"] == user_id
    else:
        title, properties = expected["args"]
        assert (event["event"], event["properties"]) == (title, properties)


@pytest.mark.parametrize("kind", ["identify", "track", "page", "screen", "group", "alias"])
def test_single_endpoints(client: FlaskClient, kind: str) -> None:
    body = {"userId": "u1", "event": "E", "groupId": "g", "previousId": "p", "traits": {"a": 1}}
    r = client.post(f"/v1/{kind}", json=body, headers=basic("m1"))
    assert r.status_code == 200
    contract.validate("segment-response", r.json)
    stored = [(e["type"], e["lead_id"]) for e in events(client)]
    assert stored == ([(kind, "u1")] if kind in ("identify", "track") else [])


def test_single_endpoint_rejects_another_type(client: FlaskClient) -> None:
    body = {"type": "identify", "userId": "u"}
    r = client.post("/v1/track", json=body, headers=basic("m1"))
    assert r.status_code == 200 and r.headers["Wishpond-Emulator-Dropped"] == "1"
    [drop] = client.get("/_emulator/requests").json["requests"][-1]["drops"]
    assert (drop["index"], drop["field"]) == (0, "type")
    r = strict().post("/v1/track", json=body, headers=basic("m1"))
    assert r.status_code == 400 and r.json["error"]["errors"][0]["field"] == "type"


def test_import_is_batch(client: FlaskClient) -> None:
    r = client.post(
        "/v1/import",
        json={"batch": [{"type": "identify", "userId": "u"}]},
        headers=basic("m1"),
    )
    assert r.status_code == 200 and [x["id"] for x in leads(client)] == ["u"]


def test_write_key_in_body_and_open_mode_routing(client: FlaskClient) -> None:
    r = client.post("/v1/identify", json={"userId": "u", "writeKey": "shop-7"})
    assert r.status_code == 200
    assert [x["id"] for x in leads(client, "shop-7")] == ["u"]
    assert leads(client, "m1") == []


def test_basic_auth_wins_over_body_key(client: FlaskClient) -> None:
    client.post("/v1/identify", json={"userId": "u", "writeKey": "other"}, headers=basic("m1"))
    assert len(leads(client, "m1")) == 1 and leads(client, "other") == []


@pytest.mark.parametrize("headers", [{}, basic(""), {"Authorization": "Bearer m1"}])
def test_missing_write_key_is_401(client: FlaskClient, headers: dict[str, str]) -> None:
    r = client.post("/v1/identify", json={"userId": "u"}, headers=headers)
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_write_key"
    assert "Basic" in r.json["error"]["message"]


def test_unusable_write_key_in_open_mode(client: FlaskClient) -> None:
    r = client.post("/v1/identify", json={"userId": "u"}, headers=basic("has space"))
    assert r.status_code == 400 and r.json["error"]["code"] == "unusable_write_key"
    assert "--source" in r.json["error"]["message"]


@pytest.mark.parametrize(
    "settings",
    [
        Settings(sources={"wk_live": "shop"}),
        Settings(merchants={"shop": "k"}, sources={"wk_live": "shop"}),
        Settings(merchants={"shop": "k"}),
    ],
    ids=["sources", "merchants-and-sources", "merchants"],
)
def test_configured_sources_route_and_unknown_keys_get_401(settings: Settings) -> None:
    client = create_app(replace(settings, segment_responses="strict")).test_client()
    for headers in (basic("shop"), {}):
        r = client.post("/v1/identify", json={"userId": "u"}, headers=headers)
        assert r.status_code == 401 and r.json["error"]["code"] == "invalid_write_key"
    if settings.sources:
        assert (
            "--source shop:MERCHANT_ID"
            in client.post("/v1/identify", json={"userId": "u"}, headers=basic("shop")).json[
                "error"
            ]["message"]
        )
        r = client.post("/v1/identify", json={"userId": "u"}, headers=basic("wk_live"))
        assert r.status_code == 200 and [x["id"] for x in leads(client, "shop")] == ["u"]
    assert leads(client, "wk_live") == []


def test_gzip_body(client: FlaskClient) -> None:
    body = json.dumps({"batch": [{"type": "identify", "userId": "gz"}]}).encode()
    r = client.post(
        "/v1/batch",
        data=gzip.compress(body),
        headers={**basic("m1"), "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 200 and [x["id"] for x in leads(client)] == ["gz"]


def test_gzip_bomb_is_refused_without_inflating_it(client: FlaskClient) -> None:
    # 10 MB of spaces compresses to ~10 KB; inflation stops once it passes 500 KB.
    bomb = gzip.compress(b'{"batch": []' + b" " * 10_000_000 + b"}")
    r = client.post(
        "/v1/batch",
        data=bomb,
        headers={**basic("m1"), "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json["error"]["code"] == "request_too_large"
    assert "512000" in r.json["error"]["message"]


@pytest.mark.parametrize(
    "data,encoding,status,code",
    [
        (b"not gzip at all", "gzip", 400, "invalid_gzip"),
        (gzip.compress(b'{"batch": []}')[:-6], "gzip", 400, "invalid_gzip"),
        (b'{"batch": []}', "br", 415, "unsupported_content_encoding"),
    ],
    ids=["garbage", "truncated", "brotli"],
)
def test_bad_encodings(
    client: FlaskClient, data: bytes, encoding: str, status: int, code: str
) -> None:
    r = client.post(
        "/v1/batch",
        data=data,
        headers={**basic("m1"), "Content-Encoding": encoding, "Content-Type": "application/json"},
    )
    assert r.status_code == status and r.json["error"]["code"] == code


def test_message_over_32_kb_rejects_the_batch(client: FlaskClient) -> None:
    big = {"type": "track", "userId": "u", "event": "Big", "properties": {"x": "y" * 33_000}}
    r = batch(client, [{"type": "identify", "userId": "u"}, big])
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_batch"
    [error] = r.json["error"]["errors"]
    assert error["index"] == 1 and "32768" in error["message"]
    assert "message 1" in r.json["error"]["message"] and "bytes" in r.json["error"]["message"]
    assert events(client) == []


def test_message_of_exactly_32_kb_is_accepted(client: FlaskClient) -> None:
    message = {"type": "track", "userId": "u", "event": "E", "properties": {"x": ""}}
    pad = 32 * 1024 - len(json.dumps(message, separators=(",", ":")))
    message["properties"] = {"x": "y" * pad}
    assert batch(client, [message]).status_code == 200


def test_request_over_500_kb_is_rejected(client: FlaskClient) -> None:
    messages = [
        {"type": "track", "userId": "u", "event": "E", "properties": {"x": "y" * 20_000}}
        for _ in range(27)
    ]
    r = batch(client, messages)
    assert r.status_code == 400 and r.json["error"]["code"] == "request_too_large"
    assert "500 KB" in r.json["error"]["message"] and events(client) == []


def test_strict_batch_with_bad_messages_is_rejected_whole() -> None:
    client = strict()
    messages = [
        {"type": "identify", "userId": "ok", "traits": {"email": "ok@x.com"}},
        {"type": "track", "userId": "ok"},
        {"type": "identify", "traits": {}},
        {"type": "track", "userId": "ok", "event": "Fine"},
        {"type": "jump", "userId": "ok"},
    ]
    r = batch(client, messages)
    assert r.status_code == 400
    errors = r.json["error"]["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [
        (1, "event"),
        (2, "(message)"),
        (4, "type"),
    ]
    assert "3 of 5 messages are invalid" in r.json["error"]["message"]
    assert "userId or anonymousId" in errors[1]["message"]
    assert leads(client) == [] and events(client) == []


def test_storage_full_rejects_the_whole_batch() -> None:
    client = create_app(Settings(max_events=2)).test_client()
    messages = [{"type": "track", "userId": "u", "event": f"E{i}"} for i in range(3)]
    r = batch(client, messages)
    assert r.status_code == 507 and r.json["error"]["code"] == "storage_full"
    assert events(client) == []
    assert batch(client, messages[:2]).status_code == 200


def test_anonymous_id_is_the_session(client: FlaskClient) -> None:
    batch(client, [{"type": "track", "anonymousId": "sess", "event": "Browsed"}])
    assert events(client)[0]["lead_id"] is None
    batch(
        client,
        [
            {"type": "identify", "userId": "jane", "anonymousId": "sess", "traits": {}},
            {"type": "track", "anonymousId": "sess", "event": "Bought"},
        ],
    )
    got = [(e["event"], e["lead_id"]) for e in events(client)]
    assert got == [("Browsed", "jane"), (None, "jane"), ("Bought", "jane")]
    detail = client.get("/_emulator/merchants/m1/leads/jane").json
    assert detail["anonymous_ids"] == ["sess"] and detail["event_count"] == 3


def test_track_with_user_id_attaches_without_identify(client: FlaskClient) -> None:
    batch(client, [{"type": "track", "userId": 77, "event": "Paid"}])
    assert [(e["lead_id"], e["event"]) for e in events(client)] == [("77", "Paid")]


def test_batch_context_reaches_every_message(client: FlaskClient) -> None:
    shared = {"personas": {"computation_class": "audience", "computation_key": "vip"}}
    batch(client, [{"type": "identify", "userId": "u", "traits": {"vip": True}}], context=shared)
    [lead] = leads(client)
    assert lead["audiences"] == {"vip": True} and events(client)[0]["source"] == "engage"


def test_engage_identify_and_track_styles_toggle_audiences(client: FlaskClient) -> None:
    def identify(value: bool) -> dict[str, Any]:
        return {
            "type": "identify",
            "userId": "u",
            "traits": {"vip": value, "email": "u@x.com"},
            "context": {"personas": {"computation_class": "audience", "computation_key": "vip"}},
        }

    def track(event: str) -> dict[str, Any]:
        return {
            "type": "track",
            "userId": "u",
            "event": event,
            "properties": {"audience_key": "big", "big": event.endswith("Entered")},
            "context": {"traits": {"email": "u@x.com"}},
        }

    batch(client, [identify(True), track("Audience Entered")])
    batch(client, [identify(False), track("Audience Exited"), identify(True)])
    detail = client.get("/_emulator/merchants/m1/leads/u").json
    assert detail["audiences"] == {"vip": True, "big": False}
    assert detail["attributes"]["vip"] is True and detail["attributes"]["email"] == "u@x.com"
    assert [(h["key"], h["value"]) for h in detail["audience_history"]] == [
        ("vip", True),
        ("big", True),
        ("vip", False),
        ("big", False),
        ("vip", True),
    ]
    assert [e["source"] for e in detail["events"]] == ["engage", "segment"] * 2 + ["engage"]
    assert (
        client.get("/_emulator/merchants/m1/leads?audience.vip=true").json["leads"][0]["id"] == "u"
    )


@pytest.mark.parametrize(
    "message,field",
    [
        ({"type": "track", "userId": "u", "event": "Audience Entered"}, "properties"),
        (
            {
                "type": "identify",
                "userId": "u",
                "traits": {},
                "context": {"personas": {"computation_class": "audience"}},
            },
            "context.personas.computation_key",
        ),
    ],
)
def test_malformed_engage_payloads(
    client: FlaskClient, message: dict[str, Any], field: str
) -> None:
    r = batch(client, [message])
    assert r.status_code == 200 and r.headers["Wishpond-Emulator-Dropped"] == "1"
    assert client.get("/_emulator/requests").json["requests"][-1]["drops"][0]["field"] == field
    r = batch(strict_client := strict(), [message])
    assert r.status_code == 400 and r.json["error"]["errors"][0]["field"] == field
    assert events(client) == [] and events(strict_client) == []


def test_journal_records_merchant_summary_and_skips(client: FlaskClient) -> None:
    batch(client, [{"type": "page", "userId": "u"}, {"type": "identify", "userId": "u"}])
    entry = client.get("/_emulator/requests?surface=segment").json["requests"][-1]
    assert (entry["merchant_id"], entry["status"], entry["summary"]) == (
        "m1",
        200,
        "identify u, 1 skipped",
    )
    assert entry["skipped"] == [
        {"index": 0, "type": "page", "reason": "not supported by the Wishpond destination"}
    ]


def test_segment_surface_needs_no_admin_token() -> None:
    client = create_app(Settings(admin_token="t")).test_client()
    assert batch(client, [{"type": "identify", "userId": "u"}]).status_code == 200


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({"batch": "nope"}, "batch"),
        ({"messages": []}, "batch is required"),
    ],
)
def test_bad_batch_envelopes(client: FlaskClient, body: dict[str, Any], fragment: str) -> None:
    r = client.post("/v1/batch", json=body, headers=basic("m1"))
    assert r.status_code == 400 and fragment in r.json["error"]["message"]


def test_text_plain_and_empty_batch(client: FlaskClient) -> None:
    r = client.post(
        "/v1/batch", data='{"batch": []}', content_type="text/plain", headers=basic("m1")
    )
    assert r.status_code == 200 and r.json == {"success": True}


def test_batch_context_with_a_malformed_message_context() -> None:
    messages = [{"type": "identify", "userId": "u", "context": "nope"}, 7]
    r = batch(strict(), messages, context={"ip": "127.0.0.1"})
    assert r.status_code == 400
    assert [(e["index"], e["field"]) for e in r.json["error"]["errors"]] == [
        (0, "context"),
        (1, "(message)"),
    ]


@pytest.mark.parametrize("context", [[], 0, "", False])
def test_a_bad_message_context_is_reported_under_a_shared_context(context: Any) -> None:
    client = strict()
    messages = [{"type": "identify", "userId": "u", "context": context}]
    r = batch(client, messages, context={"ip": "127.0.0.1"})
    assert r.status_code == 400
    assert [(e["index"], e["field"]) for e in r.json["error"]["errors"]] == [(0, "context")]
    # A null context is no context: the batch's own applies.
    ok = batch(client, [{"type": "identify", "userId": "u", "context": None}], context={"ip": "1"})
    assert ok.status_code == 200


def test_a_lone_surrogate_escape_is_refused_before_anything_is_stored(client: FlaskClient) -> None:
    message = '{"type": "track", "userId": "u", "event": "E", "properties": {"x": "\\ud800"}}'
    body = '{"batch": [' + message + "]}"
    r = client.post("/v1/batch", data=body, content_type="application/json", headers=basic("m1"))
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_unicode"
    assert "batch[0].properties.x" in r.json["error"]["message"] and events(client) == []
    paired = message.replace("\\ud800", "\\ud83d\\ude00")  # a pair is one character
    r = client.post(
        "/v1/batch",
        data='{"batch": [' + paired + "]}",
        content_type="application/json",
        headers=basic("m1"),
    )
    assert r.status_code == 200 and events(client)[0]["properties"] == {"x": "\U0001f600"}


def test_audience_identify_with_a_non_boolean_trait_is_applied_without_a_toggle(
    client: FlaskClient,
) -> None:
    personas = {"personas": {"computation_class": "audience", "computation_key": "vip"}}
    r = batch(
        client, [{"type": "identify", "userId": "u", "traits": {"vip": 1}, "context": personas}]
    )
    assert r.status_code == 200
    lead = client.get("/_emulator/merchants/m1/leads/u").json
    assert lead["attributes"] == {"vip": 1, "id": "u"}
    assert lead["audiences"] == {} and lead["audience_history"] == []
    entry = client.get("/_emulator/requests?outcome=skipped").json["requests"][-1]
    assert "traits.vip must be true or false" in entry["skipped"][0]["reason"]


@pytest.mark.parametrize("header", ["Basic !!!", "Basic Og==", "basic "])
def test_malformed_basic_auth_says_how_to_send_the_key(client: FlaskClient, header: str) -> None:
    r = client.post(
        "/v1/identify", json={"userId": "u", "writeKey": "m1"}, headers={"Authorization": header}
    )
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_write_key"
    assert "base64 of 'WRITE_KEY:'" in r.json["error"]["message"]
    assert client.get("/_emulator/merchants/m1/leads").json == {"leads": []}
