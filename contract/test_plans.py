"""Tracking plans (PRODUCT section 8): a merchant's plan, violations on events, the report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import contract
from contract.conftest import Merchant

PLAN: dict[str, Any] = {
    "name": "Contract",
    "rules": [
        {
            "type": "IDENTIFY",
            "version": 1,
            "jsonSchema": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {
                    "traits": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
                        "required": ["name", "email"],
                    }
                },
            },
        },
        {
            "type": "TRACK",
            "key": "Signed Up",
            "version": 1,
            "jsonSchema": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {
                    "properties": {
                        "type": "object",
                        "properties": {"plan": {"type": "string"}, "source": {"type": "string"}},
                        "required": ["plan", "source"],
                    }
                },
            },
        },
        {"type": "TRACK", "key": "Order Completed", "version": 1, "jsonSchema": {}},
    ],
}


@pytest.fixture
def planned(merchant: Merchant) -> Iterator[Merchant]:
    """The test's merchant with the contract plan of its own, removed afterwards."""
    state = merchant.api.ok("PUT", merchant.path("/tracking-plan"), PLAN, "tracking-plan-state")
    assert state["scope"] == "merchant" and state["plan"]["name"] == "Contract"
    try:
        yield merchant
    finally:
        merchant.api.call("DELETE", merchant.path("/tracking-plan"))


def kinds(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(v["kind"], v["field"]) for v in found]


def test_a_plan_is_put_read_and_removed(planned: Merchant) -> None:
    path = planned.path("/tracking-plan")
    assert planned.api.ok("GET", path, schema="tracking-plan-state")["plan"]["name"] == "Contract"
    after = planned.api.ok("DELETE", path, schema="tracking-plan-state")
    assert after["scope"] != "merchant"
    if after["scope"] is None:  # no plan for every merchant on this server
        planned.api.error(planned.api.call("GET", path), 404, "tracking_plan_not_found")
        reply = planned.api.call("GET", path + "/report")
        planned.api.error(reply, 404, "tracking_plan_not_found")


def test_an_invalid_plan_is_refused_naming_the_rule(planned: Merchant) -> None:
    bad = {"rules": [{"type": "TRACK", "key": "Signed Up", "version": 1, "jsonSchema": []}]}
    reply = planned.api.call("PUT", planned.path("/tracking-plan"), bad)
    message = planned.api.error(reply, 400, "invalid_tracking_plan")
    assert "rules.0.jsonSchema" in message and "Signed Up" in message
    state = planned.api.ok("GET", planned.path("/tracking-plan"), schema="tracking-plan-state")
    assert state["plan"]["name"] == "Contract"


def test_calls_carry_their_violations_and_the_report_counts_them(planned: Merchant) -> None:
    planned.identify("u1", {"name": "Jane Kim", "email": "jane@example.com"})
    good = planned.track("Signed Up", {"plan": "Startup", "source": "Ads"}, id="u1")
    assert good["violations"] == []
    missing = planned.track("Signed Up", {"plan": "Startup"}, id="u1")
    assert kinds(missing["violations"]) == [("missing_property", "properties.source")]
    unplanned = planned.track("Clicked", {}, id="u1")
    assert kinds(unplanned["violations"]) == [("unplanned_event", "event")]
    entries = [e for e in planned.journal() if e.get("violations")]
    assert [e["violations"][0]["event"] for e in entries] == ["Signed Up", "Clicked"]
    report = planned.api.ok(
        "GET", planned.path("/tracking-plan/report"), schema="tracking-plan-report"
    )
    assert report == {
        "plan": "Contract",
        "planned_seen": ["identify", "Signed Up"],
        "planned_unseen": ["Order Completed"],
        "unplanned_seen": ["Clicked"],
        "violations": [
            {"event": "Clicked", "kind": "unplanned_event", "field": "event", "count": 1},
            {
                "event": "Signed Up",
                "kind": "missing_property",
                "field": "properties.source",
                "count": 1,
            },
        ],
    }
    # A reset starts the report again and keeps the plan.
    planned.api.ok("DELETE", planned.path())
    again = planned.api.ok("GET", planned.path("/tracking-plan/report"))
    assert again["planned_seen"] == [] and again["violations"] == []


def test_blocked_calls_are_not_applied(planned: Merchant) -> None:
    blocking = {**PLAN, "settings": {"block": ["unplanned_event"]}}
    planned.api.ok("PUT", planned.path("/tracking-plan"), blocking)
    reply = planned.send("track", id="u1", event="Clicked", properties={})
    message = planned.api.error(reply, 422, "blocked_by_tracking_plan")
    assert "unplanned_event" in message
    assert planned.events() == []
    (entry,) = planned.journal()
    assert entry["violations"][0]["blocked"] is True
    contract.validate("journal", {"requests": [entry], "dropped": 0, "capacity": 1})
