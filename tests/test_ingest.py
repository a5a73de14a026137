"""The ingest core: Segment messages to calls, Engage recognition, and per-message verdicts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator import engage, ingest
from emulator.calls import Call
from emulator.destination import Skip


def _personas(kind: str, key: str) -> dict[str, Any]:
    return {"personas": {"computation_class": kind, "computation_key": key}}


def test_audience_identify_toggles_and_is_engage_sourced() -> None:
    message = {
        "type": "identify",
        "userId": "u",
        "traits": {"vip": True, "email": "u@x.com"},
        "context": _personas("audience", "vip"),
    }
    call = ingest.to_call(message)
    assert isinstance(call, Call)
    assert (call.audiences, call.source) == ({"vip": True}, "engage")
    assert call.attributes == {"vip": True, "email": "u@x.com", "id": "u"}


def test_computed_trait_is_plain_traits_from_engage() -> None:
    message = {
        "type": "identify",
        "userId": "u",
        "traits": {"ltv": 120},
        "context": _personas("trait", "ltv"),
    }
    call = ingest.to_call(message)
    assert isinstance(call, Call)
    assert (call.audiences, call.source, call.attributes) == (
        None,
        "engage",
        {"ltv": 120, "id": "u"},
    )


@pytest.mark.parametrize("event,value", [("Audience Entered", True), ("Audience Exited", False)])
def test_audience_track_events_toggle(event: str, value: bool) -> None:
    message = {
        "type": "track",
        "userId": "u",
        "event": event,
        "properties": {"audience_key": "vip", "vip": value},
        "context": _personas("audience", "vip"),
    }
    call = ingest.to_call(message)
    assert isinstance(call, Call)
    assert (call.type, call.event, call.audiences, call.source) == (
        "track",
        event,
        {"vip": value},
        "engage",
    )


def test_plain_segment_calls_have_no_toggles() -> None:
    call = ingest.to_call({"type": "identify", "userId": "u", "traits": {"vip": True}})
    assert isinstance(call, Call) and (call.audiences, call.source) == (None, "segment")


def test_audience_identify_without_user_id_is_skipped() -> None:
    message = {
        "type": "identify",
        "anonymousId": "a",
        "traits": {"vip": True},
        "context": _personas("audience", "vip"),
    }
    assert ingest.to_call(message) == Skip("identify", "user id required")


def test_audience_identify_with_a_non_boolean_trait_toggles_nothing() -> None:
    message = {
        "type": "identify",
        "userId": "u",
        "traits": {"vip": "yes"},
        "context": _personas("audience", "vip"),
    }
    call = ingest.to_call(message)
    assert isinstance(call, Call) and call.audiences is None
    assert call.attributes == {"vip": "yes", "id": "u"}
    reason = engage.ignored_toggle(message, engage.personas(message))
    assert reason is not None and "traits.vip must be true or false" in reason
    message["traits"] = {"vip": False}
    assert engage.ignored_toggle(message, engage.personas(message)) is None


def test_plan_keeps_the_valid_messages_and_drops_the_others() -> None:
    messages: list[Any] = [
        {"type": "track", "userId": "u", "event": "A", "messageId": "m-a"},
        {"type": "track", "userId": "u"},
        {"type": "page", "userId": "u", "messageId": "m-page"},
        {"type": "identify", "anonymousId": "x"},
        7,
    ]
    plan = ingest.plan(messages, now="2024-01-01T00:00:00.000Z")
    assert [e if isinstance(e, str) else e.event for e in plan.entries] == ["A", "m-page"]
    assert plan.indexes == [0, 2]
    assert [(d["index"], d.get("field")) for d in plan.drops] == [(1, "event"), (4, "(message)")]
    assert plan.drops[0]["message"] == {"type": "track", "userId": "u"}
    assert plan.refusal(strict=False) is None
    refusal = plan.refusal(strict=True)
    assert refusal is not None and refusal.code == "invalid_batch"
    assert [s["reason"] for s in plan.skipped] == [
        "not supported by the Wishpond destination",
        "user id required",
    ]


def test_a_message_over_32_kb_refuses_the_request_in_both_modes() -> None:
    big = {"type": "track", "userId": "u", "event": "E", "properties": {"x": "y" * 33_000}}
    plan = ingest.plan([{"type": "identify", "userId": "u"}, big])
    assert plan.oversized and plan.refusal(strict=False) is not None


@pytest.mark.parametrize(("count", "over"), [(5_400, False), (5_500, True)])
def test_a_message_is_measured_as_json_writes_it_even_where_a_fast_writer_is_shorter(
    count: int, over: bool
) -> None:
    """1e-09 is 5 bytes as json writes it, 4 as a shorter writer may: the limit is json's."""
    big = {"type": "track", "userId": "u", "event": "E", "properties": {"x": [1e-9] * count}}
    size = len(json.dumps(big, separators=(",", ":")))
    assert (size > ingest.MAX_MESSAGE) is over
    plan = ingest.plan([big])
    assert plan.oversized is over
    if over:
        assert f"message is {size} bytes" in plan.drops[0]["reason"]


def test_settle_turns_repeats_into_duplicate_skips() -> None:
    messages = [
        {"type": "identify", "userId": "u", "messageId": "1"},
        {"type": "track", "userId": "u", "event": "E", "messageId": "1"},
        {"type": "group", "userId": "u", "groupId": "g", "messageId": "1"},
    ]
    plan = ingest.plan(messages)
    skipped, summary = plan.settle([1, 2])
    assert skipped == [
        {"index": 1, "type": "track", "reason": "duplicate messageId"},
        {"index": 2, "type": "group", "reason": "duplicate messageId"},
    ]
    assert summary == "identify u, 2 skipped"


def test_batch_context_and_integrations_merge_into_each_message() -> None:
    body = {
        "batch": [
            {"type": "track", "event": "A", "integrations": {"Wishpond": True}},
            {"type": "track", "event": "B", "context": {"ip": "own"}, "integrations": None},
        ],
        "context": {"ip": "shared", "locale": "en"},
        "integrations": {"All": False, "Wishpond": False},
    }
    first, second = ingest.batch_messages(body)
    assert first["integrations"] == {"All": False, "Wishpond": True}
    assert first["context"] == {"ip": "shared", "locale": "en"}
    assert second["integrations"] == {"All": False, "Wishpond": False}
    assert second["context"] == {"ip": "own", "locale": "en"}
    assert body["batch"][1]["context"] == {"ip": "own"}  # the request is left as sent


def test_calls_carry_the_message_id_and_the_corrected_timestamp() -> None:
    message = {
        "type": "track",
        "userId": "u",
        "event": "E",
        "messageId": "abc",
        "timestamp": "2024-01-01T00:00:00.000Z",
        "sentAt": "2024-01-01T00:00:01.000Z",
    }
    [call] = ingest.plan([message], now="2024-01-01T00:10:00.000Z").entries
    assert isinstance(call, Call)
    assert (call.message_id, call.timestamp) == ("abc", "2024-01-01T00:09:59.000Z")
