"""emulator.faults, pure: reading rules, matching calls, verdicts and the rate-limit window."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.errors import EmulatorError
from emulator.faults import (
    RATE_LIMIT,
    RATE_WINDOW_MS,
    Rule,
    Target,
    Window,
    covers,
    decide,
    parse,
    rate_limit,
)

TRACK = Target("tracker", "POST", "/tracker/v1/track", "m1")


def rule(**doc: Any) -> Rule:
    return parse({"action": {"status": 503}, **doc}, "f1", "2030-01-01T00:00:00.000Z")


def never() -> float:
    raise AssertionError("a rule with probability 1 draws nothing")


@pytest.mark.parametrize(
    "action,field,fragment",
    [
        ({}, "action", "does nothing"),
        ({"apply": False}, "action", "does nothing"),
        ({"drop": "after", "status": 500}, "action.drop", "takes no status"),
        ({"drop": "before", "apply": True}, "action.drop", "takes no status"),
        ({"preset": "wishpond_rate_limit", "status": 429}, "action.preset", "in place of status"),
        ({"apply": True}, "action.apply", "needs a status"),
        ({"body": {"x": 1}}, "action.body", "needs a status"),
        ({"headers": {"Retry-After": "1"}, "delay_ms": 5}, "action.headers", "needs a status"),
        ({"status": 204, "body": "no"}, "action.body", "has no body"),
    ],
)
def test_a_malformed_action_is_refused_naming_the_field(
    action: dict[str, Any], field: str, fragment: str
) -> None:
    with pytest.raises(EmulatorError) as caught:
        parse({"action": action}, "f1", "")
    assert (caught.value.status, caught.value.extra["field"]) == (400, field)
    assert fragment in caught.value.message


def test_a_path_no_surface_serves_is_refused() -> None:
    with pytest.raises(EmulatorError) as caught:
        rule(match={"path": "/_emulator/reset"})
    assert caught.value.extra["field"] == "match.path"
    assert "never to the admin API" in caught.value.message
    # Engage's audience syncs live under /_emulator/ and may be matched.
    assert rule(match={"path": "/_emulator/merchants/m1/audiences/vip"}).match["path"]


@pytest.mark.parametrize(
    "match,covered",
    [
        ({}, True),
        ({"surface": "tracker", "method": "post"}, True),
        ({"path": "/tracker/v1/track", "merchant_id": "m1"}, True),
        ({"path": "/tracker/v1/identify"}, False),
        ({"surface": "segment"}, False),
        ({"method": "PUT"}, False),
        ({"merchant_id": "m2"}, False),
    ],
)
def test_every_field_of_a_match_must_agree(match: dict[str, Any], covered: bool) -> None:
    assert covers(rule(match=match).match, TRACK) is covered


def test_a_verdict_carries_the_action() -> None:
    verdict, window = decide(
        rule(action={"status": 429, "headers": {"Retry-After": "1"}, "body": [1]}),
        TRACK,
        0,
        never,
    )
    assert window is None and verdict is not None
    assert (verdict.status, verdict.body, verdict.has_body, dict(verdict.headers)) == (
        429,
        [1],
        True,
        {"Retry-After": "1"},
    )
    assert verdict.answers_now and verdict.describe() == "fault f1: answered 429"


@pytest.mark.parametrize(
    "action,answers_now,text",
    [
        ({"status": 500, "apply": True}, False, "applied, then answered 500"),
        ({"drop": "before"}, True, "closed without an answer, nothing applied"),
        ({"drop": "after", "delay_ms": 20}, False, "20 ms late, applied, then closed"),
        ({"delay_ms": 20}, False, "20 ms late"),
    ],
)
def test_what_each_action_does(action: dict[str, Any], answers_now: bool, text: str) -> None:
    verdict, _ = decide(rule(action=action), TRACK, 0, never)
    assert verdict is not None and verdict.answers_now is answers_now
    assert verdict.describe().startswith("fault f1: " + text)


def test_probability_draws_once_and_faults_below_it() -> None:
    half = rule(probability=0.5)
    assert decide(half, TRACK, 0, lambda: 0.49)[0] is not None
    assert decide(half, TRACK, 0, lambda: 0.5)[0] is None


def test_a_rate_limit_window_passes_100_then_429s_until_60s_after_its_first() -> None:
    window = None
    for n in range(RATE_LIMIT):
        window, retry_after = rate_limit(window, 1_000 + n)
        assert retry_after is None
    assert window == Window(1_000, RATE_LIMIT)
    window, retry_after = rate_limit(window, 1_000 + 500)
    assert retry_after == 60  # 59.5 s left, rounded up
    window, retry_after = rate_limit(window, 1_000 + RATE_WINDOW_MS - 1)
    assert retry_after == 1  # never 0
    window, retry_after = rate_limit(window, 1_000 + RATE_WINDOW_MS)
    assert (window, retry_after) == (Window(1_000 + RATE_WINDOW_MS, 1), None)


def test_the_preset_answers_wishponds_429() -> None:
    preset = rule(action={"preset": "wishpond_rate_limit", "headers": {"X-Test": "1"}})
    preset.windows["m1"] = Window(0, RATE_LIMIT)
    verdict, window = decide(preset, TRACK, 30_000, never)
    assert window == Window(0, RATE_LIMIT + 1) and verdict is not None
    assert (verdict.status, verdict.body) == (429, {"error": "Rate Limit Exceeded"})
    assert dict(verdict.headers) == {"X-Test": "1", "Retry-After": "30"}
    # Another merchant has a window of its own.
    other = Target("tracker", "POST", "/tracker/v1/track", "m2")
    assert decide(preset, other, 30_000, never) == (None, Window(30_000, 1))


def test_a_rule_shows_its_counts() -> None:
    counted = rule(times=2)
    counted.hits = 2
    shown = counted.to_json()
    assert (shown["times"], shown["hits"], shown["remaining"], shown["probability"]) == (
        2,
        2,
        0,
        1.0,
    )
    assert rule().to_json()["remaining"] is None
    assert rule(match={"method": "post"}).to_json()["match"] == {"method": "POST"}
