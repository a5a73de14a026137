"""The admin API over Flask's test client: every route, success and error."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask.testing import FlaskClient

import contract
from emulator import __version__, create_app
from emulator.settings import Settings


def send(client: FlaskClient, call: str, merchant: str = "m1", **body: Any) -> Any:
    r = client.post(f"/tracker/v1/{call}", json={"merchant_id": merchant, "write_key": "k", **body})
    assert r.status_code == 200, r.json
    return r.json


def test_health(client: FlaskClient) -> None:
    r = client.get("/_emulator/health")
    assert r.status_code == 200
    contract.validate("health", r.json)
    assert r.json["status"] == "ok" and r.json["version"] == __version__
    assert r.json["mode"] == "open"


def test_merchants_lists_counts_and_configured() -> None:
    client = create_app(Settings(merchants={"m1": "k", "m0": "z"})).test_client()
    client.post(
        "/tracker/v1/identify",
        json={"merchant_id": "m1", "write_key": "k", "id": "u", "anonymous_id": "a"},
    )
    r = client.get("/_emulator/merchants")
    contract.validate("merchants", r.json)
    assert r.json["merchants"] == [
        {"id": "m0", "lead_count": 0, "visitor_count": 0, "event_count": 0, "configured": True},
        {"id": "m1", "lead_count": 1, "visitor_count": 1, "event_count": 1, "configured": True},
    ]


def test_leads_and_filters(client: FlaskClient) -> None:
    send(client, "identify", id="u1", attributes={"email": "A@x.com", "plan": "pro"})
    send(client, "identify", id="u2", attributes={"email": "b@x.com", "plan": "free"})
    r = client.get("/_emulator/merchants/m1/leads")
    contract.validate("leads", r.json)
    assert [x["id"] for x in r.json["leads"]] == ["u1", "u2"]
    assert [
        x["id"] for x in client.get("/_emulator/merchants/m1/leads?email=a@x.com").json["leads"]
    ] == ["u1"]
    got = client.get("/_emulator/merchants/m1/leads?attribute.plan=free").json["leads"]
    assert [x["id"] for x in got] == ["u2"]
    assert client.get("/_emulator/merchants/m2/leads").json == {"leads": []}


def test_leads_bad_filters(client: FlaskClient) -> None:
    r = client.get("/_emulator/merchants/m1/leads?emial=x")
    assert r.status_code == 400 and r.json["error"]["code"] == "unknown_parameter"
    assert "emial" in r.json["error"]["message"]
    r = client.get("/_emulator/merchants/m1/leads?audience.vip=maybe")
    assert r.status_code == 400 and "true or false" in r.json["error"]["message"]


def test_lead_detail_and_not_found(client: FlaskClient) -> None:
    send(client, "track", anonymous_id="a", event="Viewed")
    send(client, "identify", id="u1", anonymous_id="a")
    r = client.get("/_emulator/merchants/m1/leads/u1")
    contract.validate("lead-detail", r.json)
    assert [e["type"] for e in r.json["events"]] == ["track", "identify"]
    assert r.json["audience_history"] == []
    missing = client.get("/_emulator/merchants/m1/leads/ghost")
    assert missing.status_code == 404
    contract.validate("error", missing.json)
    assert missing.json["error"]["code"] == "lead_not_found"


def test_events_filters(client: FlaskClient) -> None:
    send(client, "identify", id="u1", anonymous_id="a")
    send(client, "track", anonymous_id="a", event="A")
    send(client, "track", anonymous_id="b", event="B")
    send(client, "page", anonymous_id="b")

    def seqs(query: str) -> list[int]:
        r = client.get(f"/_emulator/merchants/m1/events{query}")
        assert r.status_code == 200, r.json
        contract.validate("events", r.json)
        return [e["seq"] for e in r.json["events"]]

    assert seqs("") == [1, 2, 3, 4]
    assert seqs("?lead_id=u1") == [1, 2]
    assert seqs("?type=track") == [2, 3]
    assert seqs("?event=B") == [3]
    assert seqs("?after_seq=2") == [3, 4]
    assert seqs("?type=page&after_seq=1") == [4]


@pytest.mark.parametrize(
    "query,fragment",
    [
        ("type=click", "type must be one of"),
        ("after_seq=-1", "after_seq"),
        ("after_seq=x", "after_seq"),
        ("wait=100", "wait must be"),
        ("wait=soon", "wait must be"),
        ("min_count=a", "min_count"),
        ("limit=3", "Unknown query parameter 'limit'"),
    ],
)
def test_events_bad_query(client: FlaskClient, query: str, fragment: str) -> None:
    r = client.get(f"/_emulator/merchants/m1/events?{query}")
    assert r.status_code == 400
    assert fragment in r.json["error"]["message"]


def test_events_long_poll_waits_for_min_count(app: Any) -> None:
    client = app.test_client()
    writer = app.test_client()

    def later() -> None:
        for i in range(3):
            send(writer, "track", anonymous_id="a", event=f"e{i}")

    timer = threading.Timer(0.1, later)
    timer.start()
    r = client.get("/_emulator/merchants/m1/events?type=track&wait=10&min_count=3")
    timer.join()
    assert [e["event"] for e in r.json["events"]] == ["e0", "e1", "e2"]


def test_events_long_poll_times_out_with_what_it_has(client: FlaskClient) -> None:
    send(client, "track", anonymous_id="a", event="only")
    r = client.get("/_emulator/merchants/m1/events?wait=0.1&min_count=2")
    assert r.status_code == 200 and len(r.json["events"]) == 1


def test_reset_one_merchant(client: FlaskClient) -> None:
    send(client, "identify", id="u", merchant="m1")
    send(client, "identify", id="u", merchant="m2")
    r = client.delete("/_emulator/merchants/m1")
    assert r.status_code == 200
    assert [m["id"] for m in client.get("/_emulator/merchants").json["merchants"]] == ["m2"]


def test_reset_one_merchant_forgets_its_journal_entries_only(client: FlaskClient) -> None:
    send(client, "identify", id="u", merchant="m1")
    client.post("/tracker/v1/track", json={"merchant_id": "m1", "write_key": "k", "event": ""})
    send(client, "identify", id="u", merchant="m2")
    before = client.get("/_emulator/requests").json["requests"]
    assert [e["merchant_id"] for e in before] == ["m1", "m1", "m2"]
    client.delete("/_emulator/merchants/m1")
    after = client.get("/_emulator/requests").json["requests"]
    assert after == before[2:]
    send(client, "identify", id="u", merchant="m1")
    ids = [e["id"] for e in client.get("/_emulator/requests").json["requests"]]
    assert ids == [before[2]["id"], before[2]["id"] + 1]  # ids keep counting up


def test_reset_everything_keeps_configuration() -> None:
    client = create_app(Settings(merchants={"m1": "k"})).test_client()
    send(client, "identify", id="u")
    assert client.post("/_emulator/reset").status_code == 200
    assert client.get("/_emulator/merchants").json["merchants"][0]["event_count"] == 0
    assert client.get("/_emulator/requests").json["requests"] == []
    bad = client.post(
        "/tracker/v1/identify", json={"merchant_id": "m1", "write_key": "no", "id": "u"}
    )
    assert bad.status_code == 401


def test_state_export_import_roundtrip(client: FlaskClient) -> None:
    send(client, "track", anonymous_id="a", event="A", properties={"n": 1})
    send(client, "identify", id="u1", anonymous_id="a", attributes={"email": "e@x.com"})
    exported = client.get("/_emulator/state").json
    contract.validate("state", exported)
    other = create_app().test_client()
    r = other.put("/_emulator/state", json=exported)
    assert r.status_code == 200
    assert other.get("/_emulator/state").json == exported
    assert other.get("/_emulator/merchants/m1/leads?email=e@x.com").json["leads"][0]["id"] == "u1"


def test_state_import_rejects_bad_documents_and_keeps_state(client: FlaskClient) -> None:
    send(client, "identify", id="u1")
    before = client.get("/_emulator/state").json
    for body in (
        {"merchants": {"m1": {"events": [{"type": "click"}]}}},
        {"leads": []},
        {"merchants": {"bad id!": {}}},
    ):
        r = client.put("/_emulator/state", json=body)
        assert r.status_code == 400, body
        assert r.json["error"]["code"] == "invalid_request"
    r = client.put("/_emulator/state?mode=sideways", json=before)
    assert r.status_code == 400
    assert client.get("/_emulator/state").json == before


def test_state_import_merge(client: FlaskClient) -> None:
    send(client, "identify", id="u1", merchant="m1")
    r = client.put(
        "/_emulator/state?mode=merge",
        json={"merchants": {"m2": {"leads": [{"id": "z", "attributes": {"a": 1}}]}}},
    )
    assert r.status_code == 200
    assert [m["id"] for m in r.json["merchants"]] == ["m1", "m2"]


def test_request_journal_is_bounded_and_counts_drops() -> None:
    client = create_app(Settings(journal_size=3)).test_client()
    for i in range(5):
        send(client, "identify", id=f"u{i}")
    r = client.get("/_emulator/requests")
    contract.validate("journal", r.json)
    assert r.json["dropped"] == 2 and r.json["capacity"] == 3
    assert [e["summary"] for e in r.json["requests"]] == [
        "identify u2",
        "identify u3",
        "identify u4",
    ]
    after = r.json["requests"][0]["id"]
    assert len(client.get(f"/_emulator/requests?after_id={after}").json["requests"]) == 2


def test_request_journal_filters(client: FlaskClient) -> None:
    send(client, "identify", id="u", merchant="m1")
    client.post("/tracker/v1/track", json={"merchant_id": "m2", "write_key": "k"})
    rejected = client.get("/_emulator/requests?outcome=rejected").json["requests"]
    assert [(e["merchant_id"], e["status"]) for e in rejected] == [("m2", 400)]
    assert len(client.get("/_emulator/requests?merchant_id=m1").json["requests"]) == 1
    assert client.get("/_emulator/requests?outcome=odd").status_code == 400


@pytest.fixture
def guarded() -> FlaskClient:
    return create_app(Settings(admin_token="s3cret")).test_client()


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/_emulator/health"),
        ("GET", "/_emulator/merchants"),
        ("GET", "/_emulator/merchants/m1/leads"),
        ("GET", "/_emulator/merchants/m1/leads/u"),
        ("GET", "/_emulator/merchants/m1/events"),
        ("DELETE", "/_emulator/merchants/m1"),
        ("POST", "/_emulator/reset"),
        ("GET", "/_emulator/state"),
        ("PUT", "/_emulator/state"),
        ("GET", "/_emulator/requests"),
    ],
)
def test_admin_token_guards_every_admin_route(guarded: FlaskClient, method: str, path: str) -> None:
    r = guarded.open(path, method=method)
    assert r.status_code == 401 and r.json["error"]["code"] == "admin_token_required"
    r = guarded.open(path, method=method, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json["error"]["code"] == "invalid_admin_token"


def test_admin_token_accepts_the_right_token_and_spares_the_tracker(guarded: FlaskClient) -> None:
    ok = guarded.get("/_emulator/health", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    r = guarded.post("/tracker/v1/identify", json={"merchant_id": "m", "write_key": "k", "id": "u"})
    assert r.status_code == 200


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/_emulator/merchants/bad%20id/leads"),
        ("GET", "/_emulator/merchants/%C2%84/events"),
        ("GET", "/_emulator/merchants/bad!/leads/u1"),
        ("DELETE", "/_emulator/merchants/bad%20id"),
    ],
)
def test_unusable_merchant_id_in_the_path_is_400(
    client: FlaskClient, method: str, path: str
) -> None:
    r = client.open(path, method=method)
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_merchant_id"
    assert "letters, digits" in r.json["error"]["message"]


def test_journal_surface_must_be_known(client: FlaskClient) -> None:
    r = client.get("/_emulator/requests?surface=admin")
    assert r.status_code == 400 and "surface must be one of" in r.json["error"]["message"]
