"""The ingest core: Segment messages to calls, Engage recognition, and per-message verdicts."""

from __future__ import annotations

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
