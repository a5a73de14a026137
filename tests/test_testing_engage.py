"""The pytest plugin on the emulator's clock: define_audience, advance, assert_audience."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from emulator.testing import EmulatorAPIError, EmulatorClient

KEY = "order_completed_last_30days"
LEAD = "1e810c197e"


def order(url: str, lead: str = LEAD) -> None:
    body = {"merchant_id": "shop", "write_key": "k", "id": lead, "event": "Order Completed"}
    assert requests.post(f"{url}/tracker/v1/track", json=body, timeout=5).status_code == 200


def test_the_seed_story_through_the_plugin(wishpond_emulator: EmulatorClient) -> None:
    shop = wishpond_emulator.merchant("shop")
    defined = shop.define_audience(KEY, {"event": "Order Completed", "within": "30d"})
    assert (defined["first_sync_after"], defined["sync_every"]) == ("6h", "3h")
    order(wishpond_emulator.url)
    assert wishpond_emulator.advance("5h")["syncs"] == []
    with pytest.raises(AssertionError) as miss:
        shop.assert_audience(LEAD, KEY, True)
    assert f"lead {LEAD} is not a member yet: the first sync is due at " in str(miss.value)
    assert ", advance 1h; it meets the rule now" in str(miss.value)
    [sync] = wishpond_emulator.advance("1h")["syncs"]
    assert sync["entered"] == [LEAD]
    assert shop.assert_audience(LEAD, KEY, True)["audiences"] == {KEY: True}
    with pytest.raises(AssertionError) as miss:
        shop.assert_audience(LEAD, KEY, False)
    assert "it stops meeting the rule at" in str(miss.value)
    assert "advance 29d 21h" in str(miss.value)  # the first sync after the order is 30d old
    wishpond_emulator.advance("31d")
    shop.assert_audience(LEAD, KEY, False)
    order(wishpond_emulator.url)
    assert shop.run_sync(KEY)["entered"] == [LEAD]
    shop.assert_audience(LEAD, KEY, True)
    [listed] = shop.computed_audiences()
    assert listed["members"] == [LEAD]
    assert wishpond_emulator.clock()["offset_seconds"] >= 31 * 86400 + 6 * 3600


def test_a_computed_audience_is_checked_at_once(wishpond_emulator: EmulatorClient) -> None:
    client = EmulatorClient(wishpond_emulator.url, timeout=5.0)
    shop = client.merchant("shop")
    shop.define_audience("pros", {"trait": "plan", "equals": "pro"}, first_sync_after="1h")
    order(wishpond_emulator.url)
    started = time.monotonic()
    with pytest.raises(AssertionError, match="not a member yet: the first sync is due at"):
        shop.assert_audience(LEAD, "pros", True)
    # Only a sync can change it, and syncs run when the clock moves: nothing to wait for.
    assert time.monotonic() - started < 2.5


def test_other_audiences_are_waited_for(wishpond_emulator: EmulatorClient) -> None:
    shop = wishpond_emulator.merchant("shop")
    order(wishpond_emulator.url)
    timer = threading.Timer(0.3, shop.sync_audience, args=("vip", [LEAD]))
    timer.start()
    shop.assert_audience(LEAD, "vip", True)
    timer.join()
    with pytest.raises(AssertionError, match="No computed audience 'vip' is defined"):
        EmulatorClient(wishpond_emulator.url, timeout=0.2).merchant("shop").assert_audience(
            LEAD, "vip", False
        )


def test_a_missing_lead_lists_its_neighbours(wishpond_emulator: EmulatorClient) -> None:
    shop = wishpond_emulator.merchant("shop")
    order(wishpond_emulator.url, "1e810c197f")
    shop.define_audience(KEY, {"event": "Order Completed", "within": "30d"})
    with pytest.raises(AssertionError) as miss:
        shop.assert_audience(LEAD, KEY, True)
    assert f"merchant 'shop' has no lead '{LEAD}'" in str(miss.value)
    assert "'1e810c197f' has a similar id" in str(miss.value)


def test_bad_durations_raise_the_emulators_error(wishpond_emulator: EmulatorClient) -> None:
    with pytest.raises(EmulatorAPIError) as err:
        wishpond_emulator.advance("-1h")
    assert err.value.code == "clock_backwards"
    with pytest.raises(EmulatorAPIError) as err:
        wishpond_emulator.merchant("shop").define_audience("k", {"event": "E", "within": "soon"})
    assert err.value.code == "invalid_duration" and "rule.within" in err.value.message
