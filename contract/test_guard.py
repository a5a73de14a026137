"""Who may call the admin API, and input no route may store: every answer a JSON 4xx."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from contract.conftest import Api, Merchant

FOREIGN = "rebinding.example"


def test_a_foreign_host_reads_nothing(merchant: Merchant) -> None:
    api = merchant.api
    port = urllib.parse.urlsplit(api.base).port
    probe = api.call("GET", "/_emulator/health", headers={"Host": f"{FOREIGN}:{port}"})
    if probe.status == 200:
        pytest.skip("the server answers any Host (--allowed-host *, as the container image does)")
    merchant.identify("u1", {"email": "u1@example.com"})
    for path in ("/_emulator/state", merchant.path("/leads"), "/"):
        reply = api.call("GET", path, headers={"Host": f"{FOREIGN}:{port}"})
        assert "--allowed-host" in api.error(reply, 403, "host_not_allowed")
    # The browser surfaces take any Host: tests map cdn.wishpond.net onto the emulator.
    tracked = api.call(
        "POST",
        "/tracker/v1/track",
        {**merchant.creds(), "anonymous_id": "a", "event": "Mapped"},
        headers={"Host": "cdn.wishpond.net"},
    )
    assert tracked.status == 200, tracked.body
    assert api.call("GET", "/connect.js", headers={"Host": "cdn.wishpond.net"}).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://attacker.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_page_on_another_site_cannot_change_state(
    merchant: Merchant, headers: dict[str, str]
) -> None:
    api = merchant.api
    merchant.identify("u1", {"keep": True})
    before = api.call("GET", "/_emulator/state").raw
    for method, path, body in (
        ("POST", "/_emulator/reset", None),
        ("DELETE", merchant.path(), None),
        ("PUT", "/_emulator/state", {"merchants": {}}),
        ("PUT", merchant.path("/audiences/vip"), {"members": ["u1"]}),
    ):
        reply = api.call(method, path, body, headers=headers)
        api.error(reply, 403, "cross_site_request")
    assert api.call("GET", "/_emulator/state").raw == before
    # The emulator's own origin (its dashboard) may.
    own = urllib.parse.urlsplit(api.base)
    same = {"Origin": f"{own.scheme}://{own.netloc}", "Sec-Fetch-Site": "same-origin"}
    assert api.call("DELETE", merchant.path(), headers=same).status == 200


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/_emulator/health?x=1"),
        ("GET", "/_emulator/merchants?merchant=m1"),
        ("GET", "/_emulator/state?merchant=m1"),
        ("GET", "/_emulator/requests?colour=red"),
        ("POST", "/_emulator/reset?merchant=m1"),
        ("DELETE", "/_emulator/merchants/{m}?lead=u1"),
        ("GET", "/_emulator/merchants/{m}/leads/u1?events=0"),
    ],
)
def test_every_admin_route_refuses_unknown_parameters(
    merchant: Merchant, method: str, path: str
) -> None:
    merchant.identify("u1", {"keep": True})
    before = merchant.api.call("GET", "/_emulator/state").raw
    reply = merchant.api.call(method, path.replace("{m}", merchant.id))
    merchant.api.error(reply, 400, "unknown_parameter")
    assert merchant.api.call("GET", "/_emulator/state").raw == before


def test_double_slashes_are_a_json_404(api: Api) -> None:
    for path in ("/_emulator//state", "//_emulator/state", "/_emulator/merchants//leads"):
        reply = api.call("GET", path)
        api.error(reply, 404, "not_found")
        assert "location" not in reply.headers


@pytest.mark.parametrize(
    "text",
    [
        '{"x": "\\ud800"}',
        '{"x": ["ok", "\\udfff"]}',
        '{"\\udc00": 1}',
        '{"x": "\\ude00\\ud83d"}',  # a pair in the wrong order is two lone halves
    ],
)
def test_a_lone_surrogate_anywhere_is_400(merchant: Merchant, text: str) -> None:
    creds = json.dumps(merchant.creds())[1:-1]
    body = "{" + creds + ', "anonymous_id": "a", "event": "E", "properties": ' + text + "}"
    reply = merchant.api.call("POST", "/tracker/v1/track", data=body.encode())
    assert "surrogate" in merchant.api.error(reply, 400, "invalid_unicode")
    assert merchant.events() == []


def test_a_numeric_user_id_is_checked_as_the_string_it_becomes(merchant: Merchant) -> None:
    if not merchant.segment_key:
        pytest.skip("the server is strict: pass --segment-write-key")
    reply = merchant.segment("/v1/identify", {"userId": 10**300, "traits": {}})
    strict = reply.status == 400
    if strict:
        assert "301 characters" in merchant.api.error(reply, 400, "invalid_batch")
    assert merchant.leads() == []
    assert merchant.segment("/v1/identify", {"userId": 10**20}).status == 200
    assert [lead["id"] for lead in merchant.leads()] == [str(10**20)]
