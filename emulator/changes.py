"""What the store tells a durable record after each write, and the record that keeps nothing.

The store calls `Sink.write` with a change while it holds its lock (so changes arrive in the
order they were made), then `Sink.flush` once the lock is released and before it answers, so
that whatever the store answered is durable. Without a data file the sink is `Sink` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.calls import JSON
from emulator.model import Merchant, Touched

# The documents the store keeps itself: the clock's offset, and each merchant's computed
# audiences (AUDIENCES + merchant id).
CLOCK = "clock"
AUDIENCES = "computed_audiences/"


@dataclass(frozen=True)
class Calls:
    """Calls applied to one merchant (one apply or deliver): what they touched."""

    merchant: Merchant
    touched: Touched


@dataclass(frozen=True)
class Reset:
    """One merchant forgotten, or every merchant (merchant_id None)."""

    merchant_id: str | None


@dataclass(frozen=True)
class Replace:
    """Whole merchants loaded; with everything, every other merchant is gone."""

    merchants: Mapping[str, Merchant]
    everything: bool


@dataclass(frozen=True)
class Document:
    """An app-level document (JSON) set, or removed when body is None."""

    name: str
    body: Any


Change = Calls | Reset | Replace | Document


class Sink:
    """Where the store records its writes; this one keeps nothing (state lives in memory)."""

    # Whether the store should note what its calls touch (Merchant.touched) for write().
    recording = False

    def describe(self) -> JSON | None:
        """Return what health shows of the durable record: None when there is none."""
        return None

    def check(self) -> None:
        """Raise an EmulatorError if writes can no longer be recorded (before any is made)."""

    def write(self, change: Change) -> None:
        """Record a change (the store's lock is held)."""

    def flush(self) -> None:
        """Return once every change this thread wrote is durable (the lock is not held)."""

    def documents(self) -> dict[str, Any]:
        """Return the documents the record held when it was opened."""
        return {}

    def close(self) -> None:
        """Finish writing and let the record go."""
