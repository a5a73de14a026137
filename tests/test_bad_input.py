"""A corpus of bad requests: each gets a JSON 4xx with a useful message, state unchanged."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

import contract
from emulator import create_app
from emulator.settings import Settings

GOOD = {"merchant_id": "m1", "write_key": "k", "anonymous_id": "a", "event": "E"}


def body(**changes: Any) -> str:
    doc = {**GOOD, **changes}
    return json.dumps({k: v for k, v in doc.items() if v is not ...})


# (name, method, path, raw body, content type, expected status, words the message must contain)
CORPUS: list[tuple[str, str, str, bytes | str, str, int, str]] = [
    (
        "truncated",
        "POST",
        "/tracker/v1/track",
        '{"merchant_id": "m1"',
        "application/json",
        400,
        "not valid JSON",
    ),
    ("empty", "POST", "/tracker/v1/track", "", "application/json", 400, "empty"),
    ("array", "POST", "/tracker/v1/track", "[1, 2]", "application/json", 400, "JSON object"),
    ("string", "POST", "/tracker/v1/track", '"hello"', "application/json", 400, "JSON object"),
    ("null", "POST", "/tracker/v1/identify", "null", "application/json", 400, "JSON object"),
    ("number", "POST", "/tracker/v1/page", "42", "application/json", 400, "JSON object"),
    ("NaN", "POST", "/tracker/v1/track", '{"x": NaN}', "application/json", 400, "NaN"),
    (
        "Infinity",
        "POST",
        "/tracker/v1/track",
        '{"x": -Infinity}',
        "application/json",
        400,
        "Infinity",
    ),
    (
        "invalid utf-8",
        "POST",
        "/tracker/v1/track",
        b'{"event": "\xff\xfe"}',
        "application/json",
        400,
        "UTF-8",
    ),
    (
        "deep nesting",
        "POST",
        "/tracker/v1/track",
        '{"a":' * 5000 + "1" + "}" * 5000,
        "application/json",
        400,
        "nested too deeply",
    ),
    (
        "deep nesting under limit of parser",
        "POST",
        "/tracker/v1/track",
        body(properties=json.loads('{"a":' * 70 + "1" + "}" * 70)),
        "application/json",
        400,
        "nested too deeply",
    ),
    (
        "number too large for a float",
        "POST",
        "/tracker/v1/track",
        body(properties={"n": 1}).replace('"n": 1', '"n": 1e400'),
        "application/json",
        400,
        "too large",
    ),
    (
        "merchant id with a trailing newline",
        "POST",
        "/tracker/v1/track",
        body(merchant_id="m1\n"),
        "application/json",
        400,
        "merchant_id",
    ),
    (
        "form body",
        "POST",
        "/tracker/v1/track",
        "a=b",
        "application/x-www-form-urlencoded",
        415,
        "Content-Type",
    ),
    (
        "xml body",
        "POST",
        "/tracker/v1/identify",
        "<a/>",
        "application/xml",
        415,
        "application/json",
    ),
    ("empty event", "POST", "/tracker/v1/track", body(event=""), "application/json", 400, "event"),
    (
        "non-string event",
        "POST",
        "/tracker/v1/track",
        body(event=7),
        "application/json",
        400,
        "event",
    ),
    (
        "missing event",
        "POST",
        "/tracker/v1/track",
        body(event=...),
        "application/json",
        400,
        "event is required",
    ),
    ("null event", "POST", "/tracker/v1/track", body(event=None), "application/json", 400, "event"),
    (
        "missing merchant",
        "POST",
        "/tracker/v1/track",
        body(merchant_id=...),
        "application/json",
        400,
        "merchant_id is required",
    ),
    (
        "numeric merchant",
        "POST",
        "/tracker/v1/track",
        body(merchant_id=5),
        "application/json",
        400,
        "merchant_id",
    ),
    (
        "merchant with slash",
        "POST",
        "/tracker/v1/track",
        body(merchant_id="a/b"),
        "application/json",
        400,
        "merchant_id",
    ),
    (
        "missing write key",
        "POST",
        "/tracker/v1/track",
        body(write_key=...),
        "application/json",
        400,
        "write_key is required",
    ),
    (
        "list write key",
        "POST",
        "/tracker/v1/track",
        body(write_key=["k"]),
        "application/json",
        400,
        "write_key",
    ),
    (
        "properties list",
        "POST",
        "/tracker/v1/track",
        body(properties=[1]),
        "application/json",
        400,
        "properties",
    ),
    (
        "properties string",
        "POST",
        "/tracker/v1/page",
        body(event=..., properties="x"),
        "application/json",
        400,
        "properties",
    ),
    (
        "anonymous id number",
        "POST",
        "/tracker/v1/track",
        body(anonymous_id=12),
        "application/json",
        400,
        "anonymous_id",
    ),
    (
        "no session",
        "POST",
        "/tracker/v1/track",
        body(anonymous_id=...),
        "application/json",
        400,
        "anonymous_id",
    ),
    (
        "identify without id",
        "POST",
        "/tracker/v1/identify",
        body(event=...),
        "application/json",
        400,
        "id is required",
    ),
    (
        "identify id empty",
        "POST",
        "/tracker/v1/identify",
        body(event=..., id=""),
        "application/json",
        400,
        "id",
    ),
    (
        "identify id number",
        "POST",
        "/tracker/v1/identify",
        body(event=..., id=1),
        "application/json",
        400,
        "id",
    ),
    (
        "attributes array",
        "POST",
        "/tracker/v1/identify",
        body(event=..., id="u", attributes=[]),
        "application/json",
        400,
        "attributes",
    ),
    (
        "unknown field",
        "POST",
        "/tracker/v1/track",
        body(colour="red"),
        "application/json",
        400,
        "colour is not a known field",
    ),
    (
        "oversized",
        "POST",
        "/tracker/v1/track",
        body(properties={"x": "y" * 2_000_000}),
        "application/json",
        413,
        "larger",
    ),
    ("wrong method on tracker", "GET", "/tracker/v1/track", "", "", 405, "POST"),
    ("wrong method on admin", "POST", "/_emulator/health", "", "", 405, "GET"),
    ("delete state", "DELETE", "/_emulator/state", "", "", 405, "GET"),
    ("unknown route", "GET", "/nowhere", "", "", 404, "openapi"),
    ("state not object", "PUT", "/_emulator/state", "[]", "application/json", 400, "JSON object"),
    (
        "state bad shape",
        "PUT",
        "/_emulator/state",
        '{"merchants": {"m": {"leads": [{}]}}}',
        "application/json",
        400,
        "id is required",
    ),
    (
        "state bad seq",
        "PUT",
        "/_emulator/state",
        '{"merchants": {"m": {"events": [{"type": "track", "seq": 0}]}}}',
        "application/json",
        400,
        "seq",
    ),
    (
        "gzip on tracker",
        "POST",
        "/tracker/v1/track",
        gzip.compress(body().encode()),
        "application/json",
        400,
        "UTF-8",
    ),
]


@pytest.fixture
def seeded() -> FlaskClient:
    client = create_app(Settings(max_body_bytes=1024 * 1024)).test_client()
    identify = {
        "merchant_id": "m1",
        "write_key": "k",
        "id": "u1",
        "anonymous_id": "a",
        "attributes": {"email": "e@x.com"},
    }
    assert client.post("/tracker/v1/identify", json=identify).status_code == 200
    assert client.post("/tracker/v1/track", json=GOOD).status_code == 200
    return client


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_request_gets_json_4xx_and_changes_nothing(
    seeded: FlaskClient, case: tuple[str, str, str, bytes | str, str, int, str]
) -> None:
    _, method, path, raw, ctype, status, words = case
    before = seeded.get("/_emulator/state").get_data()
    headers = {"Content-Type": ctype} if ctype else {}
    r = seeded.open(path, method=method, data=raw, headers=headers)
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.is_json, r.get_data(as_text=True)
    contract.validate("error", r.json)
    assert words in r.json["error"]["message"], r.json
    assert seeded.get("/_emulator/state").get_data() == before


def test_state_cap_rejection_is_507_and_keeps_state() -> None:
    client = create_app(Settings(max_events=2)).test_client()
    for i in range(2):
        assert client.post("/tracker/v1/track", json={**GOOD, "event": f"e{i}"}).status_code == 200
    before = client.get("/_emulator/state").get_data()
    r = client.post("/tracker/v1/track", json=GOOD)
    assert r.status_code == 507 and r.json["error"]["code"] == "storage_full"
    assert "--max-events" in r.json["error"]["message"]
    assert client.get("/_emulator/state").get_data() == before


def test_an_oversized_bad_value_is_not_echoed_whole() -> None:
    client = create_app().test_client()
    r = client.post("/tracker/v1/track", json={**GOOD, "merchant_id": "x" * 500_000})
    assert r.status_code == 400 and "merchant_id" in r.json["error"]["message"]
    assert len(r.get_data()) < 2_000
    entry = client.get("/_emulator/requests").json["requests"][-1]
    body = entry.pop("body")
    assert entry["merchant_id"] == "x" * 256 and len(str(entry)) < 2_000
    # The captured body is its first --journal-body-bytes, marked as cut.
    assert len(body) == 16 * 1024 and entry["body_truncated"] is True
    assert entry["body_bytes"] > 500_000
