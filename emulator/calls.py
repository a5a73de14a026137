"""The types the mapping and the store share: Call, JSON, event types, sources, surfaces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import contract

JSON = dict[str, Any]

# Each enum has one home, the contract's common.json; these read it.
EVENT_TYPES = contract.enum("event_type")
SOURCES = contract.enum("source")
SURFACES = contract.enum("surface")
OUTCOMES = contract.enum("outcome")


@dataclass
class Call:
    """One write to apply to a merchant: identify, track or page."""

    type: str
    lead_id: str | None = None
    anonymous_id: str | None = None
    event: str | None = None
    properties: JSON | None = None
    attributes: JSON | None = None
    audiences: Mapping[str, bool] | None = None
    source: str = "tracker"
    # Segment's messageId, applied once per merchant; None applies every time.
    message_id: str | None = None
    # When it happened (Segment's corrected timestamp); None means when it was received.
    timestamp: str | None = None
    # What it breaks in the merchant's tracking plan: () when it conforms, None when unchecked.
    violations: Sequence[JSON] | None = None
