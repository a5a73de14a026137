"""What Segment forwards to Wishpond of the messages it accepts, and when they happened (pure).

PRODUCT §4.2: a message is acknowledged but not forwarded, in this order, when its messageId
is already held (the store checks that, atomically with applying), when the integrations
option turns Wishpond off, when analytics.js already sent it in device mode, when its type
is not one the destination handles, and when an identify has no userId.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator import isodate
from emulator.destination import FORWARDED, NOT_SUPPORTED, USER_ID_REQUIRED, segment_id

DESTINATION = "Wishpond"  # the destination's name in integrations and _metadata (case-sensitive)
DUPLICATE = "duplicate messageId"
DISABLED = "disabled by the integrations option"
BUNDLED = "sent in device mode by the browser"


def _enabled(setting: Any) -> bool:
    """Return whether an integrations value turns a destination on: true, or its options."""
    return setting is True or isinstance(setting, dict)


def not_forwarded(message: Mapping[str, Any]) -> str | None:
    """Return why Segment keeps a valid message from Wishpond (rules 2-5), or None."""
    integrations = message.get("integrations")
    if isinstance(integrations, dict):
        own = integrations.get(DESTINATION)
        if own is False or (integrations.get("All") is False and not _enabled(own)):
            return DISABLED
    metadata = message.get("_metadata")
    if isinstance(metadata, dict):
        bundled = metadata.get("bundled")
        if isinstance(bundled, list) and DESTINATION in bundled:
            return BUNDLED
    if message["type"] not in FORWARDED:
        return NOT_SUPPORTED
    if message["type"] == "identify" and segment_id(message.get("userId")) is None:
        return USER_ID_REQUIRED
    return None


def message_id(message: Mapping[str, Any]) -> str | None:
    """Return the message's messageId; absent, null or empty is None."""
    value = message.get("messageId")
    return value if isinstance(value, str) and value else None


def _date(value: Any) -> str | None:
    return value if isodate.is_date(value) else None


def timestamp(
    message: Mapping[str, Any], sent_at: Any = None, received_at: str | None = None
) -> str | None:
    """Return Segment's corrected timestamp of a message, or None when it is received_at.

    `received_at - (sentAt - timestamp)` with both (the message's sentAt, else the batch's),
    the message's timestamp (or originalTimestamp) alone without a sentAt. Values that are
    not ISO dates count as absent.
    """
    happened = _date(message.get("timestamp")) or _date(message.get("originalTimestamp"))
    if happened is None:
        return None
    sent = _date(message.get("sentAt")) or _date(sent_at)
    if sent is None or received_at is None:
        return isodate.normalize(happened)
    skew = isodate.parse(sent) - isodate.parse(happened)
    return isodate.to_iso(isodate.parse(received_at) - skew)
