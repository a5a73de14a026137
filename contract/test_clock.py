"""The emulator's clock and computed audiences: a forward-only clock that drives Engage syncs."""

from __future__ import annotations

from datetime import datetime

import contract
from contract.conftest import Api, Merchant


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def test_clock_reads_and_only_moves_forward(api: Api) -> None:
    before = api.ok("GET", "/_emulator/clock", schema="clock")
    moved = api.ok("POST", "/_emulator/clock", {"advance": "1s"}, schema="clock-moved")
    assert (when(moved["now"]) - when(before["now"])).total_seconds() >= 1
    assert moved["offset_seconds"] >= before["offset_seconds"] + 1
    back = api.call("POST", "/_emulator/clock", {"set": "2001-01-01T00:00:00Z"})
    api.error(back, 400, "clock_backwards")
    bad = api.call("POST", "/_emulator/clock", {"advance": "soon"})
    assert "advance" in api.error(bad, 400, "invalid_duration")
    api.error(api.call("POST", "/_emulator/clock", {"set": "tomorrow"}), 400, "invalid_time")
    far = api.call("POST", "/_emulator/clock", {"advance": 10**12})  # past year 9999
    api.error(far, 400, "clock_out_of_range")
    after = api.ok("GET", "/_emulator/clock", schema="clock")
    assert after["offset_seconds"] - moved["offset_seconds"] < 60  # the refusals moved nothing


def test_computed_audience_lifecycle(merchant: Merchant) -> None:
    api, key = merchant.api, "contract_buyers"
    path = merchant.path(f"/computed-audiences/{key}")
    rule = {"event": "Order Completed", "within": "30d"}
    defined = api.ok("PUT", path, {"rule": rule, "first_sync_after": "1h"}, "computed-audience")
    assert (defined["members"], defined["last_sync_at"], defined["sync_every"]) == ([], None, "3h")
    merchant.track("Order Completed", id="u1")
    synced = api.ok("POST", path + "/sync", schema="computed-sync")
    assert (synced["entered"], synced["exited"]) == (["u1"], [])
    [call] = synced["calls"]
    contract.validate("segment-message", call)
    assert call["context"]["personas"]["computation_key"] == key
    lead = merchant.lead("u1")
    assert lead["audiences"] == {key: True}
    assert lead["audience_history"][0]["received_at"] == synced["at"]
    listed = api.ok("GET", merchant.path("/computed-audiences"), schema="computed-audiences")
    assert [a["members"] for a in listed["computed_audiences"]] == [["u1"]]
    bad = api.call("PUT", path, {"rule": {"event": "E", "within": "a month"}})
    assert "rule.within" in api.error(bad, 400, "invalid_duration")
    api.ok("DELETE", path, schema="computed-audience")
    api.error(api.call("GET", path), 404, "audience_not_found")


def test_one_move_runs_at_most_ten_thousand_syncs(merchant: Merchant) -> None:
    api, path = merchant.api, merchant.path("/computed-audiences/every_second")
    api.ok("PUT", path, {"rule": {"trait": "plan", "equals": "pro"}, "sync_every": "1s"})
    reply = api.call("POST", "/_emulator/clock", {"advance": "1d"})
    assert "smaller steps" in api.error(reply, 400, "too_many_syncs")
    api.ok("DELETE", path)
