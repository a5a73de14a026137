"""Engage, as pure functions: audience keys, sync diffs, payload recognition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator import engage

SCENARIO = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "engage-scenario.json").read_text()
)


@pytest.mark.parametrize(
    "name,key",
    [
        ("Order Completed Last 30days", "order_completed_last_30days"),
        ("orderCompletedLast30days", "order_completed_last30days"),
        ("orderCompletedLast30Days", "order_completed_last30_days"),
        ("VIP Customers (EU)", "vip_customers_eu"),
        ("HTMLEmailOpeners", "html_email_openers"),
        ("  --Big   Spenders!!  ", "big_spenders"),
        ("already_snake_case", "already_snake_case"),
        ("Top 10 Buyers", "top_10_buyers"),
        ("Viewed 3+ Pages in 7d", "viewed_3_pages_in_7d"),
        ("Café Regulars", "cafe_regulars"),
        ("a.b-c/d", "a_b_c_d"),
        ("!!!", ""),
    ],
)
def test_audience_key(name: str, key: str) -> None:
    assert engage.audience_key(name) == key


def test_scenario_fixture_matches_the_sync_diff() -> None:
    previous: set[str] = set()
    ever: set[str] = set()
    for step in SCENARIO["steps"]:
        result = engage.sync(SCENARIO["key"], previous, step["members"], first=not ever)
        assert result.first is step["first_sync"], step["name"]
        got = [(m["userId"], m["traits"][SCENARIO["key"]]) for m in result.messages]
        assert got == [(c["userId"], c["value"]) for c in step["calls"]], step["name"]
        for user, value in got:
            ever.add(user)
            (previous.add if value else previous.discard)(user)
        assert previous == {u for u, v in step["audiences"].items() if v}, step["name"]


def test_first_sync_sends_true_to_every_member_once() -> None:
    result = engage.sync("k", [], ["b", "a", "b"], first=True)
    assert (result.joined, result.left, result.members) == (["b", "a"], [], ["b", "a"])


def test_audience_message_is_engage_shaped() -> None:
    message = engage.audience_message("vip", "u1", False)
    assert message["type"] == "identify" and message["userId"] == "u1"
    assert message["traits"] == {"vip": False}
    personas = message["context"]["personas"]
    assert personas["computation_class"] == "audience"
    assert personas["computation_key"] == "vip"
    assert personas["computation_id"].startswith("aud_")
    assert personas["computation_id"] == engage.computation_id("vip") != engage.computation_id("x")
