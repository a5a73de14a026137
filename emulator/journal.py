"""The bounded request journal: a ring buffer of recent calls, bounded in entries and in bytes."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from emulator.calls import JSON
from emulator.clock import utc_now

# Characters kept of any text in an entry (the captured body has its own limit).
TEXT_MAX = 2048
# Items kept of any list or object in an entry.
ITEMS_MAX = 100
# Below this an entry's values are summarised, never walked.
DEPTH_MAX = 12
UNCLIPPED = frozenset(("body",))
# The order of an entry's first fields; the Note's own fields follow.
_HEAD = {"surface": None, "method": None, "path": None, "merchant_id": None}


@dataclass
class Note:
    """What a surface call hands the journal: where it went, for whom, and what it did."""

    surface: str
    method: str
    path: str
    merchant_id: str | None = None
    skipped: list[JSON] = field(default_factory=list)
    summary: str | None = None
    # The request as received: headers without credentials, and the start of the body.
    headers: dict[str, str] | None = None
    body: str | None = None
    body_bytes: int = 0
    body_truncated: bool = False


def clip(value: Any, path: str, cut: dict[str, int], depth: int = 0) -> tuple[Any, int]:
    """Return value with long texts and lists cut (noted in cut by path) and its weight in bytes.

    The weight approximates the memory the value holds in CPython, so the journal's byte
    bound tracks its real footprint.
    """
    kind = type(value)
    if kind is dict and all(type(v) is str for v in value.values()):
        return _clip_texts(value, path, cut)
    if kind is str:
        if len(value) > TEXT_MAX:
            cut[path] = len(value)
            value = value[:TEXT_MAX]
        return value, 49 + len(value)
    if kind is dict or kind is list:
        if depth >= DEPTH_MAX:
            cut[path] = len(value)
            return "…", 52
        items = list(value.items()) if kind is dict else list(enumerate(value))
        if len(items) > ITEMS_MAX:
            cut[path] = len(items)
            items = items[:ITEMS_MAX]
        weight = 64 + 40 * len(items)
        out: Any = {} if kind is dict else []
        for key, sub in items:
            inner = f"{path}.{key}" if kind is dict else f"{path}[]"
            clipped, w = clip(sub, inner, cut, depth + 1)
            weight += w
            if kind is dict:
                out[key] = clipped
            else:
                out.append(clipped)
        return out, weight
    return value, 0 if value is None or kind is bool else 32


def _clip_texts(value: dict[str, str], path: str, cut: dict[str, int]) -> tuple[Any, int]:
    """Return clip() of an object whose values are all texts (headers, most skip reasons)."""
    weight = 64 + 40 * len(value) + 98 * len(value)
    if len(value) > ITEMS_MAX or any(
        len(k) > TEXT_MAX or len(v) > TEXT_MAX for k, v in value.items()
    ):
        out = {}
        for key, text in list(value.items())[:ITEMS_MAX]:
            if len(text) > TEXT_MAX:
                cut[f"{path}.{key}"] = len(text)
                text = text[:TEXT_MAX]
            out[key[:TEXT_MAX]] = text
        if len(value) > ITEMS_MAX:
            cut[path] = len(value)
        value = out
    return value, weight + sum(len(k) + len(v) for k, v in value.items())


class Journal:
    """Keep the last `capacity` entries within `max_bytes`, and count the ones that fell off."""

    def __init__(self, capacity: int = 10_000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._entries: deque[tuple[JSON, int]] = deque()
        self._bytes = 0
        self._ids = itertools.count(1)
        self._dropped = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False

    @property
    def bytes(self) -> int:
        """Return the weight of the entries held, in bytes."""
        return self._bytes

    def record(self, note: Note, status: int, error: JSON | None = None) -> None:
        """Append the entry for one call, stamping it with an id and the time."""
        # Every field of the Note is journaled (fields added to it later too), clipped alike.
        entry: JSON = {"id": 0, "at": "", **_HEAD, "status": status, "error": error, **vars(note)}
        cut: dict[str, int] = {}
        weight = 64 + 40 * len(entry)
        for name, value in entry.items():
            kind = type(value)
            if kind is str:
                if len(value) > TEXT_MAX and name not in UNCLIPPED:
                    value, w = clip(value, name, cut)
                    entry[name] = value
                weight += 49 + len(value)
            elif (kind is list or kind is dict) and value:
                entry[name], w = clip(value, name, cut)
                weight += w
            else:
                weight += 32
        if cut:
            entry["clipped"] = cut
            weight += 64 + 90 * len(cut)
        with self._lock:
            entry["id"], entry["at"] = next(self._ids), utc_now()
            self._entries.append((entry, weight))
            self._bytes += weight
            while len(self._entries) > 1 and (
                len(self._entries) > self.capacity or self._bytes > self.max_bytes
            ):
                self._bytes -= self._entries.popleft()[1]
                self._dropped += 1
            self._changed.notify_all()

    def clear(self) -> None:
        """Forget every entry and the dropped count."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._dropped = 0
            self._changed.notify_all()

    def close(self) -> None:
        """Release every long-poll now; the server is shutting down."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()

    def forget(self, merchant_id: str) -> None:
        """Forget one merchant's entries, as a reset of that merchant does; others stay."""
        with self._lock:
            kept = [(e, w) for e, w in self._entries if e.get("merchant_id") != merchant_id]
            if len(kept) != len(self._entries):
                self._entries = deque(kept)
                self._bytes = sum(w for _, w in kept)
                self._changed.notify_all()

    def snapshot(
        self,
        surface: str | None = None,
        merchant_id: str | None = None,
        outcome: str | None = None,
        after_id: int = 0,
        min_count: int = 0,
        wait: float = 0.0,
    ) -> JSON:
        """Return matching entries, oldest first, with the dropped count.

        With wait, block until min_count entries match or the wait ends.
        """
        deadline = time.monotonic() + wait
        with self._lock:
            while True:
                entries = [
                    e
                    for e in self._after(after_id)
                    if (surface is None or e["surface"] == surface)
                    and (merchant_id is None or e.get("merchant_id") == merchant_id)
                    and (outcome is None or _outcome(e) == outcome)
                ]
                remaining = deadline - time.monotonic()
                if len(entries) >= min_count or remaining <= 0 or self._closed:
                    break
                self._changed.wait(remaining)
            return {
                "requests": entries,
                "dropped": self._dropped,
                "capacity": self.capacity,
                "max_bytes": self.max_bytes,
                "bytes": self._bytes,
            }

    def _after(self, after_id: int) -> list[JSON]:
        """Return the entries newer than after_id, oldest first (the caller holds the lock)."""
        newer = []
        for entry, _ in reversed(self._entries):  # ids increase: stop at the first old one
            if entry["id"] <= after_id:
                break
            newer.append(entry)
        newer.reverse()
        return newer


def _outcome(entry: JSON) -> str:
    if entry["status"] >= 400:
        return "rejected"
    return "skipped" if entry.get("skipped") else "accepted"
