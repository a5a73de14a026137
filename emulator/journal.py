"""The bounded request journal: a ring buffer of recent calls and their outcomes."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field

from emulator.calls import JSON
from emulator.clock import Clock


@dataclass
class Note:
    """What a surface call hands the journal: where it went, for whom, and what it did."""

    surface: str
    method: str
    path: str
    merchant_id: str | None = None
    skipped: list[JSON] = field(default_factory=list)
    summary: str | None = None
    # Messages not accepted: {index, reason, ...}; on a rejected call, what it would drop.
    drops: list[JSON] = field(default_factory=list)


class Journal:
    """Keep the last `capacity` entries and count the ones that fell off."""

    def __init__(self, capacity: int = 10_000, clock: Clock | None = None) -> None:
        self.capacity = capacity
        self.clock = clock or Clock()
        self._entries: deque[JSON] = deque(maxlen=capacity)
        self._ids = itertools.count(1)
        self._dropped = 0
        self._lock = threading.Lock()

    def record(self, note: Note, status: int, error: JSON | None = None) -> None:
        """Append the entry for one call, stamping it with an id and the time."""
        with self._lock:
            if len(self._entries) == self.capacity:
                self._dropped += 1
            self._entries.append(
                {
                    "id": next(self._ids),
                    "at": self.clock.now(),
                    "surface": note.surface,
                    "method": note.method,
                    "path": note.path,
                    "merchant_id": note.merchant_id,
                    "status": status,
                    "error": error,
                    "skipped": note.skipped,
                    "summary": note.summary,
                    "drops": note.drops,
                }
            )

    def clear(self) -> None:
        """Forget every entry and the dropped count."""
        with self._lock:
            self._entries.clear()
            self._dropped = 0

    def forget(self, merchant_id: str) -> None:
        """Forget one merchant's entries, as a reset of that merchant does; others stay."""
        with self._lock:
            kept = [e for e in self._entries if e.get("merchant_id") != merchant_id]
            if len(kept) != len(self._entries):
                self._entries = deque(kept, maxlen=self.capacity)

    def snapshot(
        self,
        surface: str | None = None,
        merchant_id: str | None = None,
        outcome: str | None = None,
        after_id: int = 0,
    ) -> JSON:
        """Return matching entries, oldest first, with the dropped count."""
        with self._lock:
            entries = [
                e
                for e in self._entries
                if e["id"] > after_id
                and (surface is None or e["surface"] == surface)
                and (merchant_id is None or e.get("merchant_id") == merchant_id)
                and (outcome is None or _outcome(e) == outcome)
            ]
            return {"requests": entries, "dropped": self._dropped, "capacity": self.capacity}


def _outcome(entry: JSON) -> str:
    if entry["status"] >= 400:
        return "rejected"
    if entry.get("drops"):
        return "dropped"
    return "skipped" if entry.get("skipped") else "accepted"
