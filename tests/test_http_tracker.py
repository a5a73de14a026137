"""The tracker surface over Flask's test client: calls, credentials, CORS."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

import contract
from emulator import create_app
from emulator.settings import Settings

CREDS = {"merchant_id": "m1", "write_key": "k1"}


def post(client: FlaskClient, call: str, **body: Any) -> Any:
    return client.post(f"/tracker/v1/{call}", json={**CREDS, **body})


def test_identify_returns_lead(client: FlaskClient) -> None:
    r = post(client, "identify", id="u1", anonymous_id="a", attributes={"email": "j@x.com"})
    assert r.status_code == 200
    contract.validate("identify-response", r.json)
    assert r.json["lead"]["attributes"] == {"email": "j@x.com"}
    assert r.json["lead"]["anonymous_ids"] == ["a"]


def test_identify_without_attributes_or_anonymous_id(client: FlaskClient) -> None:
    r = post(client, "identify", id="u1")
    assert r.status_code == 200 and r.json["lead"]["attributes"] == {}


def test_track_returns_event(client: FlaskClient) -> None:
    post(client, "identify", id="u1", anonymous_id="a")
    r = post(client, "track", anonymous_id="a", event="Signed Up", properties={"plan": "x"})
    assert r.status_code == 200
    contract.validate("track-response", r.json)
    ev = r.json["event"]
    assert (ev["type"], ev["lead_id"], ev["event"], ev["properties"], ev["source"]) == (
        "track",
        "u1",
        "Signed Up",
        {"plan": "x"},
        "tracker",
    )


def test_track_with_id_only(client: FlaskClient) -> None:
    r = post(client, "track", id="u7", event="Paid")
    assert r.json["event"]["lead_id"] == "u7" and r.json["event"]["anonymous_id"] is None


def test_page_has_no_title(client: FlaskClient) -> None:
    r = post(client, "page", anonymous_id="a", properties={"url": "https://x/"})
    assert r.status_code == 200
    assert r.json["event"]["type"] == "page" and r.json["event"]["event"] is None


def test_text_plain_body_is_accepted_for_beacons(client: FlaskClient) -> None:
    body = '{"merchant_id":"m1","write_key":"k","anonymous_id":"a","event":"Left"}'
    r = client.post("/tracker/v1/track", data=body, content_type="text/plain;charset=UTF-8")
    assert r.status_code == 200 and r.json["event"]["event"] == "Left"


@pytest.mark.parametrize("call", ["identify", "track", "page"])
def test_preflight_and_cors_headers(client: FlaskClient, call: str) -> None:
    r = client.options(
        f"/tracker/v1/{call}",
        headers={"Origin": "http://other:1", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in r.headers["Access-Control-Allow-Headers"]
    bad = client.post(f"/tracker/v1/{call}", json={})
    assert bad.status_code == 400 and bad.headers["Access-Control-Allow-Origin"] == "*"


def test_admin_api_sends_no_cors(client: FlaskClient) -> None:
    r = client.get("/_emulator/health", headers={"Origin": "http://evil"})
    assert "Access-Control-Allow-Origin" not in r.headers


@pytest.fixture
def strict() -> FlaskClient:
    return create_app(Settings(merchants={"m1": "k1", "m2": "k2"})).test_client()


def test_strict_mode_accepts_right_keys(strict: FlaskClient) -> None:
    assert post(strict, "identify", id="u").status_code == 200


def test_strict_mode_unknown_merchant(strict: FlaskClient) -> None:
    r = strict.post(
        "/tracker/v1/identify", json={"merchant_id": "m9", "write_key": "k1", "id": "u"}
    )
    assert r.status_code == 401 and r.json["error"]["code"] == "unknown_merchant"
    assert "m9" in r.json["error"]["message"]
    assert strict.get("/_emulator/merchants/m9/leads").json == {"leads": []}


def test_strict_mode_wrong_key_names_the_merchant(strict: FlaskClient) -> None:
    r = strict.post("/tracker/v1/track", json={**CREDS, "write_key": "k2", "id": "u", "event": "e"})
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_write_key"
    assert "'m1'" in r.json["error"]["message"]
    assert strict.get("/_emulator/merchants/m1/events").json == {"events": []}
    journal = strict.get("/_emulator/requests").json["requests"]
    assert journal[-1]["status"] == 401 and journal[-1]["merchant_id"] == "m1"
    assert journal[-1]["error"]["code"] == "invalid_write_key"


def test_journal_records_accepted_calls(client: FlaskClient) -> None:
    post(client, "identify", id="u1")
    post(client, "track", id="u1", event="Paid")
    entries = client.get("/_emulator/requests?surface=tracker").json["requests"]
    assert [(e["path"], e["status"], e["summary"]) for e in entries] == [
        ("/tracker/v1/identify", 200, "identify u1"),
        ("/tracker/v1/track", 200, "track 'Paid'"),
    ]
