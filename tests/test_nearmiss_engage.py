"""The pure audience near-miss explainer: facts in, what to do (which sync, how far) out."""

from __future__ import annotations

from typing import Any

from emulator.clock import DAY, HOUR, MINUTE, format_ms, parse_time
from emulator.nearmiss_engage import AudienceFacts, describe_audience_miss

NOW = "2030-01-10T12:00:00.000Z"
T0 = parse_time(NOW) or 0
KEY = "order_completed_last_30days"
RULE = {"event": "Order Completed", "within": "30d", "min_count": 1}


def at(offset_ms: int) -> str:
    return format_ms(T0 + offset_ms)


def order(offset_ms: int, **props: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Order Completed", "properties": props,
            "received_at": at(offset_ms)}  # fmt: skip


def lead(*events: dict[str, Any], value: bool | None = None, **attrs: Any) -> dict[str, Any]:
    audiences = {} if value is None else {KEY: value}
    return {"id": "1e810c197e", "attributes": attrs, "audiences": audiences, "events": list(events)}


def audience(next_in: int, last_ago: int | None = None, rule: Any = RULE) -> dict[str, Any]:
    return {
        "key": KEY,
        "rule": rule,
        "sync_every": "3h",
        "members": [],
        "last_sync_at": None if last_ago is None else at(-last_ago),
        "next_sync_at": at(next_in),
    }


def explain(expected: bool, the_lead: Any, the_audience: Any, **kw: Any) -> str:
    facts = AudienceFacts("shop", "1e810c197e", KEY, expected, NOW, the_lead, the_audience, **kw)
    return describe_audience_miss(facts)


def test_before_the_first_sync_says_when_and_how_far() -> None:
    text = explain(True, lead(order(-HOUR)), audience(3 * HOUR + 11 * MINUTE + 30_000))
    assert text.startswith(
        f"lead 1e810c197e is not a member yet: the first sync is due at "
        f"{at(3 * HOUR + 11 * MINUTE + 30_000)}, advance 3h 12m; it meets the rule now"
    )
    assert f"the clock is at {NOW}" in text


def test_before_the_first_sync_without_a_qualifying_event() -> None:
    text = explain(
        True,
        lead(order(-HOUR, plan="free")),
        audience(HOUR, rule={**RULE, "where": {"plan": "pro"}}),
    )
    assert "the first sync is due at" in text and "it does not meet the rule now" in text
    assert "0 such event(s)" in text


def test_qualifying_after_the_last_sync_names_the_next() -> None:
    text = explain(True, lead(order(-MINUTE), value=False), audience(2 * HOUR, last_ago=HOUR))
    assert "it meets the rule now, but the last sync ran at " + at(-HOUR) in text
    assert f"the next sync is due at {at(2 * HOUR)}, advance 2h" in text


def test_an_order_that_left_the_window_is_named() -> None:
    text = explain(True, lead(order(-31 * DAY), value=False), audience(HOUR, last_ago=HOUR))
    assert text.startswith("lead 1e810c197e is not a member: it has 0 such event(s)")
    assert f"its newest, at {at(-31 * DAY)}, left the window at {at(-DAY)}" in text


def test_still_a_member_says_when_it_stops_and_which_sync_sends_false() -> None:
    # The order leaves the 30-day window 20 days from now; syncs run every 3h from +1h.
    text = explain(False, lead(order(-10 * DAY), value=True), audience(HOUR, last_ago=2 * HOUR))
    stop = -10 * DAY + 30 * DAY
    first_after = HOUR + -(-(stop - HOUR) // (3 * HOUR)) * 3 * HOUR
    assert f"it stops meeting the rule at {at(stop)}" in text
    assert f"the first sync after that is due at {at(first_after)}, advance 20d 1h" in text


def test_with_min_count_it_stops_when_too_few_remain() -> None:
    rule = {**RULE, "min_count": 2}
    the_lead = lead(order(-20 * DAY), order(-5 * DAY), order(-DAY), value=True)
    text = explain(False, the_lead, audience(HOUR, last_ago=HOUR, rule=rule))
    assert f"it stops meeting the rule at {at(25 * DAY)}" in text  # when the -5d order leaves


def test_stopped_qualifying_but_not_synced_yet() -> None:
    text = explain(False, lead(order(-40 * DAY), value=True), audience(HOUR, last_ago=2 * HOUR))
    assert "still a member: it no longer meets the rule" in text
    assert f"the next sync sends false, and it is due at {at(HOUR)}, advance 1h" in text


def test_false_for_a_lead_that_was_never_a_member() -> None:
    text = explain(False, lead(order(-HOUR)), audience(HOUR))
    assert "never got the key" in text and "Engage sends false only to members that leave" in text
    assert "the next sync" in text and "makes it a member" in text


def test_trait_rules_say_what_the_attribute_is() -> None:
    rule = {"trait": "plan", "equals": "pro"}
    text = explain(True, lead(plan="free", value=False), audience(HOUR, last_ago=HOUR, rule=rule))
    assert "its plan is 'free'; the rule wants 'pro'" in text
    text = explain(False, lead(plan="pro", value=True), audience(HOUR, last_ago=HOUR, rule=rule))
    assert text.startswith("lead 1e810c197e is still a member: its plan is 'pro'")


def test_no_computed_audience_says_how_to_make_one() -> None:
    text = explain(True, lead(value=None), None, waited=3.0)
    assert "No computed audience 'order_completed_last_30days' is defined" in text
    assert "define_audience" in text and "waited 3s" in text


def test_missing_lead_lists_the_nearest_matches() -> None:
    text = explain(True, None, audience(HOUR), missing=["lead '1e810c197f' has a similar id"])
    assert text.startswith("merchant 'shop' has no lead '1e810c197e'")
    assert "  - lead '1e810c197f' has a similar id" in text
