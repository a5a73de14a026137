"""Fault rules (PRODUCT 4.6): a rule answers in the server's place, and retries apply once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from contract.conftest import Api, Merchant


@pytest.fixture
def rules(merchant: Merchant) -> Iterator[list[str]]:
    """Collect the ids of the rules a test adds, and remove them all at the end."""
    added: list[str] = []
    yield added
    for rule_id in added:
        merchant.api.call("DELETE", f"/_emulator/faults/{rule_id}")


def add(merchant: Merchant, rules: list[str], action: Any, **rule: Any) -> dict[str, Any]:
    """Add a rule for this merchant's calls only (on a shared server, never another's)."""
    match = {"merchant_id": merchant.id, **rule.pop("match", {})}
    reply = merchant.api.call(
        "POST", "/_emulator/faults", {"match": match, "action": action, **rule}
    )
    assert reply.status == 201, reply.body
    rules.append(reply.body["fault"]["id"])
    return reply.body["fault"]  # type: ignore[no-any-return]


def mine(api: Api, rule_id: str) -> dict[str, Any]:
    faults = api.ok("GET", "/_emulator/faults", schema="faults")["faults"]
    return next(f for f in faults if f["id"] == rule_id)


def test_a_rule_answers_its_times_in_the_servers_place(
    merchant: Merchant, rules: list[str]
) -> None:
    rule = add(merchant, rules, {"status": 503}, match={"path": "/tracker/v1/track"}, times=1)
    assert (rule["hits"], rule["remaining"]) == (0, 1)
    merchant.api.error(merchant.send("track", event="E", anonymous_id="a"), 503, "injected_fault")
    merchant.track("E", anonymous_id="a")
    assert [e["event"] for e in merchant.events()] == ["E"]
    assert (
        mine(merchant.api, rule["id"])["hits"],
        mine(merchant.api, rule["id"])["remaining"],
    ) == (1, 0)
    [faulted] = merchant.journal("faulted")
    assert (faulted["status"], faulted["fault_id"]) == (503, rule["id"])
    removed = merchant.api.call("DELETE", f"/_emulator/faults/{rule['id']}")
    assert removed.status == 200 and removed.body["fault"]["hits"] == 1
    again = merchant.api.call("DELETE", f"/_emulator/faults/{rule['id']}")
    merchant.api.error(again, 404, "fault_not_found")


def test_a_malformed_rule_gets_a_400_naming_the_field(merchant: Merchant) -> None:
    for rule, code, field in (
        ({"action": {"drop": "after", "status": 500}}, "invalid_fault", "action.drop"),
        (
            {"match": {"surface": "admin"}, "action": {"status": 503}},
            "invalid_fault",
            "match.surface",
        ),
        ({"action": {"status": 503}, "times": 0}, "invalid_request", "times"),
    ):
        reply = merchant.api.call("POST", "/_emulator/faults", rule)
        merchant.api.error(reply, 400, code)
        assert reply.body["error"]["field"] == field


def test_a_retry_after_an_applied_call_applies_nothing_twice(
    merchant: Merchant, rules: list[str]
) -> None:
    add(merchant, rules, {"status": 500, "apply": True}, times=1)
    call = {"event": "Paid", "anonymous_id": "a", "message_id": f"m-{uuid.uuid4().hex}"}
    assert merchant.send("track", **call).status == 500  # applied; the answer is the fault's
    retry = merchant.send("track", **call)
    assert retry.status == 200 and retry.body["duplicate"] is True
    assert [e["message_id"] for e in merchant.events()] == [call["message_id"]]
    assert retry.body["event"] == merchant.events()[0]


def test_drop_before_closes_the_connection_without_an_answer(
    merchant: Merchant, rules: list[str]
) -> None:
    add(merchant, rules, {"drop": "before"}, times=1)
    body = json.dumps({**merchant.creds(), "event": "E", "anonymous_id": "a"}).encode()
    request = (
        b"POST /tracker/v1/track HTTP/1.1\r\nHost: emulator\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
    )
    reply = merchant.api.raw(request)
    assert (reply.status, reply.raw) == (0, b"")
    assert merchant.events() == []
    [entry] = merchant.journal("faulted")
    assert entry["status"] == 0
