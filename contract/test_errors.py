"""Every documented error code for the input that causes it; rejections change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.conftest import Api, Merchant, Reply


def unchanged(merchant: Merchant, action: Any) -> Reply:
    before = merchant.api.call("GET", merchant.path("/events")).raw
    leads = merchant.api.call("GET", merchant.path("/leads")).raw
    reply: Reply = action()
    assert merchant.api.call("GET", merchant.path("/events")).raw == before
    assert merchant.api.call("GET", merchant.path("/leads")).raw == leads
    return reply


@pytest.mark.parametrize(
    "raw,ctype,status,code",
    [
        (b'{"merchant_id": ', "application/json", 400, "invalid_json"),
        (b"", "application/json", 400, "invalid_json"),
        (b'{"x": NaN}', "application/json", 400, "invalid_json"),
        (b'{"a":' * 200 + b"1" + b"}" * 200, "application/json", 400, "invalid_json"),
        (b'{"event": "\xff"}', "application/json", 400, "invalid_utf8"),
        (b"[]", "application/json", 400, "body_not_object"),
        (b'"s"', "application/json", 400, "body_not_object"),
        (b"a=b", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_malformed_bodies(
    merchant: Merchant, raw: bytes, ctype: str, status: int, code: str
) -> None:
    reply = unchanged(
        merchant,
        lambda: merchant.api.call("POST", "/tracker/v1/track", data=raw, content_type=ctype),
    )
    assert merchant.api.error(reply, status, code)


@pytest.mark.parametrize(
    "call,body,field",
    [
        ("track", {"anonymous_id": "a", "event": ""}, "event"),
        ("track", {"anonymous_id": "a", "event": 5}, "event"),
        ("track", {"anonymous_id": "a"}, "event"),
        ("track", {"anonymous_id": "a", "event": "e", "properties": []}, "properties"),
        ("identify", {"attributes": {}}, "id"),
        ("identify", {"id": 42}, "id"),
        ("identify", {"id": "u", "attributes": "x"}, "attributes"),
        ("page", {"anonymous_id": 1}, "anonymous_id"),
    ],
)
def test_wrongly_typed_fields_are_named(
    merchant: Merchant, call: str, body: dict[str, Any], field: str
) -> None:
    reply = unchanged(merchant, lambda: merchant.send(call, **body))
    message = merchant.api.error(reply, 400, "invalid_request")
    assert field in message


def test_oversized_body_is_413(merchant: Merchant) -> None:
    big = {
        **merchant.creds(),
        "anonymous_id": "a",
        "event": "e",
        "properties": {"blob": "x" * (8 * 1024 * 1024)},
    }
    reply = unchanged(merchant, lambda: merchant.api.call("POST", "/tracker/v1/track", big))
    merchant.api.error(reply, 413, "payload_too_large")


def test_unknown_route_and_wrong_method(api: Api) -> None:
    api.error(api.call("GET", "/no/such/route"), 404, "not_found")
    api.error(api.call("GET", "/tracker/v1/track"), 405, "method_not_allowed")
    api.error(api.call("DELETE", "/_emulator/health"), 405, "method_not_allowed")


def test_admin_query_errors(merchant: Merchant) -> None:
    api = merchant.api
    api.error(api.call("GET", merchant.path("/leads/nobody")), 404, "lead_not_found")
    api.error(api.call("GET", merchant.path("/events?colour=red")), 400, "unknown_parameter")
    api.error(api.call("GET", merchant.path("/events?after_seq=-3")), 400, "invalid_parameter")
    api.error(api.call("GET", merchant.path("/events?type=click")), 400, "invalid_parameter")
    api.error(api.call("GET", merchant.path("/leads?audience.x=perhaps")), 400, "invalid_parameter")


def test_bad_state_document_keeps_state(merchant: Merchant) -> None:
    merchant.identify("u1", {"keep": True})
    before = merchant.api.call("GET", "/_emulator/state").raw
    bad = {"merchants": {merchant.id: {"events": [{"type": "click"}]}}}
    merchant.api.error(merchant.api.call("PUT", "/_emulator/state", bad), 400, "invalid_request")
    assert merchant.api.call("GET", "/_emulator/state").raw == before


def test_strict_mode_credentials(merchant: Merchant, health: Any) -> None:
    if health.get("mode") != "strict":
        pytest.skip("the server is in open mode: start it with --merchant to test credentials")
    wrong_key = {**merchant.creds(), "write_key": merchant.key + "-wrong", "id": "u"}
    reply = unchanged(
        merchant, lambda: merchant.api.call("POST", "/tracker/v1/identify", wrong_key)
    )
    assert merchant.id in merchant.api.error(reply, 401, "invalid_write_key")
    unknown = {**merchant.creds(), "merchant_id": "not-configured-anywhere", "id": "u"}
    reply = merchant.api.call("POST", "/tracker/v1/identify", unknown)
    message = merchant.api.error(reply, 401, "unknown_merchant")
    # A CORS-open route: it names the merchant asked for, and no other tenant.
    assert "not-configured-anywhere" in message and merchant.id not in message


def test_admin_token(api: Api) -> None:
    if not api.token:
        pytest.skip("no --admin-token given: the server is assumed to have none")
    api.error(api.call("GET", "/_emulator/health", admin=False), 401, "admin_token_required")
    wrong = api.call(
        "GET",
        "/_emulator/health",
        admin=False,
        headers={"Authorization": "Bearer not-" + api.token},
    )
    api.error(wrong, 401, "invalid_admin_token")


def test_storage_full(merchant: Merchant, health: Any) -> None:
    room = health["max_events"] - merchant.api.ok("GET", "/_emulator/health")["total_events"]
    if room > 20_000:
        pytest.skip(
            f"the server's --max-events leaves room for {room} events; "
            "start it with a small cap (e.g. 5000) to test storage_full"
        )
    api = merchant.api
    filler = f"{merchant.id}-filler"
    too_many = {"merchants": {filler: {"events": [{"type": "page"}] * (room + 1)}}}
    api.error(api.call("PUT", "/_emulator/state?mode=merge", too_many), 507, "storage_full")
    exactly = {"merchants": {filler: {"events": [{"type": "page"}] * room}}}
    api.ok("PUT", "/_emulator/state?mode=merge", exactly)
    try:
        reply = unchanged(merchant, lambda: merchant.send("track", anonymous_id="a", event="e"))
        assert "max-events" in api.error(reply, 507, "storage_full")
    finally:
        api.ok("DELETE", f"/_emulator/merchants/{filler}")
    merchant.track("fits again", {}, anonymous_id="a")


def test_errors_are_never_html(api: Api) -> None:
    for method, path in (
        ("GET", "/nope"),
        ("PATCH", "/_emulator/state"),
        ("POST", "/tracker/v1/identify"),
    ):
        reply = api.call(method, path, data=b"{", content_type="application/json")
        assert 400 <= reply.status < 500
        assert json.loads(reply.raw)["error"]["message"]


def test_unusable_merchant_id_in_a_path(api: Api) -> None:
    reply = api.call("GET", "/_emulator/merchants/no%20spaces/leads")
    assert "letters, digits" in api.error(reply, 400, "invalid_merchant_id")
