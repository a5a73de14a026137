"""The forwarding rules of PRODUCT §4.2 and Segment's corrected timestamps, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from emulator import forwarding
from emulator.forwarding import BUNDLED, DISABLED, not_forwarded, timestamp

TRACK = {"type": "track", "userId": "u", "event": "E"}


@pytest.mark.parametrize(
    "integrations,reason",
    [
        (None, None),
        ({}, None),
        ({"All": True}, None),
        ({"Wishpond": True}, None),
        ({"Wishpond": False}, DISABLED),
        ({"All": True, "Wishpond": False}, DISABLED),
        ({"All": False}, DISABLED),
        ({"All": False, "Wishpond": True}, None),
        ({"All": False, "Wishpond": {"siteId": "1"}}, None),  # options turn it on too
        ({"All": False, "Wishpond": "yes"}, DISABLED),
        ({"All": False, "wishpond": True}, DISABLED),  # names are case-sensitive
        ({"wishpond": False}, None),
        ({"WISHPOND": False, "All": True}, None),
        ({"Segment.io": False}, None),
    ],
)
def test_integrations_routing(integrations: Any, reason: str | None) -> None:
    message = dict(TRACK, integrations=integrations)
    assert not_forwarded(message) == reason


@pytest.mark.parametrize(
    "metadata,reason",
    [
        ({"bundled": ["Segment.io", "Wishpond"]}, BUNDLED),
        ({"bundled": ["Segment.io"], "unbundled": ["Wishpond"]}, None),
        ({"bundled": ["wishpond"]}, None),
        ({"bundled": "Wishpond"}, None),
        ("Wishpond", None),
        ({}, None),
    ],
)
def test_bundled_metadata(metadata: Any, reason: str | None) -> None:
    assert not_forwarded(dict(TRACK, _metadata=metadata)) == reason


def test_rules_apply_in_order() -> None:
    page = {"type": "page", "userId": "u"}
    anonymous = {"type": "identify", "anonymousId": "a"}
    assert not_forwarded(page) == "not supported by the Wishpond destination"
    assert not_forwarded(anonymous) == "user id required"
    both = dict(page, integrations={"Wishpond": False}, _metadata={"bundled": ["Wishpond"]})
    assert not_forwarded(both) == DISABLED
    assert not_forwarded(dict(anonymous, _metadata={"bundled": ["Wishpond"]})) == BUNDLED
    assert not_forwarded({"type": "identify", "userId": "u"}) is None


@pytest.mark.parametrize(
    "value,expected", [("m-1", "m-1"), ("", None), (None, None), (5, None), ("x" * 100, "x" * 100)]
)
def test_message_id(value: Any, expected: str | None) -> None:
    assert forwarding.message_id({"messageId": value}) == expected


RECEIVED = "2024-05-01T12:00:10.000Z"


@pytest.mark.parametrize(
    "message,batch_sent_at,expected",
    [
        # Segment: timestamp = receivedAt - (sentAt - timestamp)
        (
            {"timestamp": "2024-05-01T11:00:00.000Z", "sentAt": "2024-05-01T11:00:05.000Z"},
            None,
            "2024-05-01T12:00:05.000Z",
        ),
        # a batch-level sentAt counts for every message
        (
            {"timestamp": "2024-05-01T11:00:00.000Z"},
            "2024-05-01T11:00:02.500Z",
            "2024-05-01T12:00:07.500Z",
        ),
        # the message's own sentAt wins over the batch's
        (
            {"timestamp": "2024-05-01T11:00:00.000Z", "sentAt": "2024-05-01T11:00:01.000Z"},
            "2024-05-01T11:00:09.000Z",
            "2024-05-01T12:00:09.000Z",
        ),
        # originalTimestamp stands in for timestamp
        (
            {"originalTimestamp": "2024-05-01T11:00:00+01:00", "sentAt": "2024-05-01T10:00:00Z"},
            None,
            RECEIVED,
        ),
        # no sentAt: the timestamp as sent (a historical import), in UTC with milliseconds
        ({"timestamp": "2019-03-04T05:06:07+02:00"}, None, "2019-03-04T03:06:07.000Z"),
        ({"timestamp": "2019-03-04"}, None, "2019-03-04T00:00:00.000Z"),
        # nothing usable: received_at (None)
        ({}, "2024-05-01T11:00:00Z", None),
        ({"timestamp": "yesterday", "sentAt": "2024-05-01T11:00:00Z"}, None, None),
        ({"timestamp": None}, None, None),
        # an unusable sentAt leaves the timestamp alone
        (
            {"timestamp": "2024-05-01T11:00:00Z", "sentAt": "soon"},
            None,
            "2024-05-01T11:00:00.000Z",
        ),
    ],
)
def test_timestamp_correction(message: Any, batch_sent_at: Any, expected: str | None) -> None:
    assert timestamp(message, batch_sent_at, RECEIVED) == expected


def test_a_clock_skew_is_taken_out() -> None:
    # A client clock one hour fast: the event still lands a second before it was received.
    fast = {"timestamp": "2024-05-01T13:00:09.000Z", "sentAt": "2024-05-01T13:00:10.000Z"}
    assert timestamp(fast, None, RECEIVED) == "2024-05-01T12:00:09.000Z"
