"""Who may call the admin API and the dashboard: the Host allow-list and the cross-site refusal."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from emulator import create_app
from emulator.settings import Settings

ADMIN_AND_DASHBOARD = [
    ("GET", "/_emulator/state"),
    ("GET", "/_emulator/merchants/m1/leads"),
    ("GET", "/_emulator/requests"),
    ("POST", "/_emulator/reset"),
    ("PUT", "/_emulator/merchants/m1/audiences/vip"),
    ("GET", "/"),
    ("GET", "/_dashboard/dashboard.js"),
    ("GET", "/openapi.json"),
    ("GET", "/no/such/route"),
]


def client(**settings: object) -> FlaskClient:
    return create_app(Settings(**settings)).test_client()  # type: ignore[arg-type]


def seeded(c: FlaskClient) -> bytes:
    body = {"merchant_id": "m1", "write_key": "k", "id": "u1"}
    assert c.post("/tracker/v1/identify", json=body).status_code == 200
    return c.get("/_emulator/state").get_data()


@pytest.mark.parametrize("method,path", ADMIN_AND_DASHBOARD)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:9474", "0.0.0.0:9474", "10.0.0.5"])
def test_a_foreign_host_is_refused_on_a_loopback_bind(method: str, path: str, host: str) -> None:
    c = client()
    before = seeded(c)
    r = c.open(path, method=method, headers={"Host": host}, json={"members": []})
    assert r.status_code == 403 and r.json["error"]["code"] == "host_not_allowed"
    assert "--allowed-host" in r.json["error"]["message"]
    assert c.get("/_emulator/state").get_data() == before


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:1", "localhost.", "127.0.0.1:9474", "127.8.9.10", "[::1]:80"]
)
def test_loopback_names_and_addresses_are_answered(host: str) -> None:
    assert client().get("/_emulator/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "path,body",
    [
        ("/tracker/v1/identify", {"merchant_id": "m1", "write_key": "k", "id": "u1"}),
        ("/v1/identify", {"writeKey": "m1", "userId": "u1"}),
        ("/connect.js", None),
    ],
)
def test_the_browser_surfaces_take_any_host(path: str, body: dict[str, str] | None) -> None:
    r = client().open(
        path, method="POST" if body else "GET", headers={"Host": "cdn.wishpond.net"}, json=body
    )
    assert r.status_code == 200, r.get_data()


def test_allowed_hosts_add_names_and_a_star_allows_any() -> None:
    named = client(allowed_hosts=("emulator.test", "[fd00::1]"))
    for host in ("emulator.test:9474", "EMULATOR.test", "[fd00::1]:9474"):
        assert named.get("/_emulator/health", headers={"Host": host}).status_code == 200
    assert named.get("/_emulator/health", headers={"Host": "other.test"}).status_code == 403
    star = client(allowed_hosts=("*",))
    assert star.get("/_emulator/state", headers={"Host": "anything.example"}).status_code == 200


def test_a_bind_on_every_interface_answers_any_host() -> None:
    # The container binds 0.0.0.0; its callers use names the emulator cannot know.
    c = client(host="0.0.0.0")
    assert c.get("/_emulator/state", headers={"Host": "emulator:9474"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://localhost:3000"},
        {"Origin": "https://localhost"},
        {"Origin": "null"},
        {"Origin": "not a url"},
    ],
)
@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/_emulator/reset"),
        ("DELETE", "/_emulator/merchants/m1"),
        ("PUT", "/_emulator/state"),
        ("PUT", "/_emulator/merchants/m1/audiences/vip"),
        ("POST", "/_emulator/merchants/m1/audiences"),
        ("POST", "/_emulator/no-such-route"),
    ],
)
def test_a_state_change_marked_cross_site_is_refused(
    method: str, path: str, headers: dict[str, str]
) -> None:
    c = client()
    before = seeded(c)
    r = c.open(path, method=method, headers=headers, json={"merchants": {}})
    assert r.status_code == 403 and r.json["error"]["code"] == "cross_site_request"
    assert c.get("/_emulator/state").get_data() == before


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "http://LOCALHOST:80"},
    ],
)
def test_the_dashboard_and_tools_may_change_state(headers: dict[str, str]) -> None:
    c = client()
    seeded(c)
    assert c.post("/_emulator/reset", headers=headers).status_code == 200
    assert c.get("/_emulator/merchants").json["merchants"] == []


def test_reads_and_the_tracker_are_not_cross_site_checked() -> None:
    c = client()
    page = {"Origin": "http://shop.example", "Sec-Fetch-Site": "cross-site"}
    body = {"merchant_id": "m1", "write_key": "k", "id": "u1"}
    assert c.post("/tracker/v1/identify", json=body, headers=page).status_code == 200
    # A cross-site read is allowed by the guard; the missing CORS headers keep its answer from
    # the page.
    r = c.get("/_emulator/merchants", headers=page)
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
