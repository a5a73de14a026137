"""The bounded request journal: a ring buffer of recent calls, bounded in entries and in bytes."""

from __future__ import annotations

import itertools
import json
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

from emulator.calls import JSON
from emulator.clock import Clock

# Characters kept of any text in an entry (the captured body has its own limit).
TEXT_MAX = 2048
# Items kept of any list or object in an entry.
ITEMS_MAX = 100
# Below this an entry's values are summarised, never walked.
DEPTH_MAX = 12
UNCLIPPED = frozenset(("body",))
# Lists kept whole, item by item (their texts are still cut): every dropped message is in the
# journal with its index and reason (PRODUCT 4.2); the byte bound keeps them in check.
WHOLE = frozenset(("drops",))
# An entry whose JSON is longer is held deflated (fast, level 1): a list of every dropped
# message repeats itself and shrinks many times over.
PACK_OVER = 8 * 1024
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
    # Messages not accepted: {index, reason, ...}; on a rejected call, what it would drop.
    drops: list[JSON] = field(default_factory=list)
    # Calls that break the merchant's tracking plan: {index, type, event, blocked, violations}.
    violations: list[JSON] = field(default_factory=list)
    # The request as received: headers without credentials, and the start of the body.
    headers: dict[str, str] | None = None
    body: str | None = None
    body_bytes: int = 0
    body_truncated: bool = False
    # The fault rule that answered the call (outcome faulted), if one did.
    fault_id: str | None = None


def clip(value: Any, path: str, cut: dict[str, int], depth: int = 0) -> Any:
    """Return value with long texts, lists and objects cut, noting each cut (path -> length)."""
    kind = type(value)
    if kind is str:
        if len(value) > TEXT_MAX:
            cut[path] = len(value)
            return value[:TEXT_MAX]
        return value
    if kind is not dict and kind is not list:
        return value
    if depth >= DEPTH_MAX:
        cut[path] = len(value)
        return "…"
    if len(value) > ITEMS_MAX:
        cut[path] = len(value)
    if kind is dict:
        if len(value) <= ITEMS_MAX and all(
            type(v) is str and len(v) <= TEXT_MAX and len(k) <= TEXT_MAX for k, v in value.items()
        ):
            return value  # the usual headers or skip reason: nothing to cut
        return {
            clip(k, f"{path}.{k}", cut, depth + 1): clip(v, f"{path}.{k}", cut, depth + 1)
            for k, v in list(value.items())[:ITEMS_MAX]
        }
    return [clip(v, f"{path}[]", cut, depth + 1) for v in value[:ITEMS_MAX]]


class Journal:
    """Keep the last `capacity` entries within `max_bytes`, and count the ones that fell off.

    Each entry is held as its JSON text, one bytes object: its weight is its length, and it
    pins no memory around it (an entry of many small objects, made amid a large request's
    temporaries, held several times its size).
    """

    def __init__(
        self, capacity: int = 10_000, max_bytes: int = 64 * 1024 * 1024, clock: Clock | None = None
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.clock = clock or Clock()
        # Oldest first, in step: each entry's JSON, and what the filters read, shared.
        self._texts: deque[bytes] = deque()
        self._facts: deque[tuple[str, str | None, str]] = deque()
        self._shared: dict[tuple[str, str | None, str], tuple[str, str | None, str]] = {}
        self._bytes = 0
        self._ids = itertools.count(1)
        self._dropped = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False

    @property
    def held_bytes(self) -> int:
        """Return the size of the entries held, in bytes of JSON."""
        return self._bytes

    def record(self, note: Note, status: int, error: JSON | None = None) -> None:
        """Append the entry for one call, stamping it with an id and the time."""
        # Every field of the Note is journaled (fields added to it later too), clipped alike.
        entry: JSON = {**_HEAD, "status": status, "error": error, **vars(note)}
        cut: dict[str, int] = {}
        for name, value in entry.items():
            if not value or name in UNCLIPPED or type(value) not in (str, list, dict):
                continue
            if name in WHOLE and type(value) is list:
                entry[name] = [clip(item, f"{name}[]", cut, 1) for item in value]
            else:
                entry[name] = clip(value, name, cut)
        if cut:
            entry["clipped"] = cut
        facts = (note.surface, note.merchant_id, _outcome(entry))
        # Encoded (and a large one packed) before the lock; the id and time are put in front.
        rest = _ENCODE(entry).encode()[1:]
        packed = len(rest) > PACK_OVER
        if packed:
            rest = zlib.compress(rest, 1)
        with self._lock:
            head = b'%s{"id":%d,"at":"%s",' % (
                b"Z" if packed else b"",
                next(self._ids),
                self.clock.now().encode(),
            )
            text = head + rest
            # One shared tuple per distinct (surface, merchant, outcome): nothing new per entry.
            self._facts.append(self._shared.setdefault(facts, facts))
            self._texts.append(text)
            self._bytes += len(text)
            while len(self._texts) > 1 and (
                len(self._texts) > self.capacity or self._bytes > self.max_bytes
            ):
                self._facts.popleft()
                self._bytes -= len(self._texts.popleft())
                self._dropped += 1
            self._changed.notify_all()

    def clear(self) -> None:
        """Forget every entry and the dropped count."""
        with self._lock:
            self._texts.clear()
            self._facts.clear()
            self._shared.clear()
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
            kept = [
                (t, f) for t, f in zip(self._texts, self._facts, strict=True) if f[1] != merchant_id
            ]
            if len(kept) != len(self._texts):
                self._texts = deque(t for t, _ in kept)
                self._facts = deque(f for _, f in kept)
                self._bytes = sum(len(t) for t in self._texts)
                self._changed.notify_all()

    def render(
        self,
        surface: str | None = None,
        merchant_id: str | None = None,
        outcome: str | None = None,
        after_id: int = 0,
        min_count: int = 0,
        wait: float = 0.0,
    ) -> bytes:
        """Return the journal document of matching entries, oldest first, as JSON.

        With wait, block until min_count entries match or the wait ends.
        """
        deadline = time.monotonic() + wait
        with self._lock:
            while True:
                texts = [
                    t
                    for t, (s, m, o) in self._after(after_id)
                    if (surface is None or s == surface)
                    and (merchant_id is None or m == merchant_id)
                    and (outcome is None or o == outcome)
                ]
                remaining = deadline - time.monotonic()
                if len(texts) >= min_count or remaining <= 0 or self._closed:
                    break
                self._changed.wait(remaining)
            tail = _ENCODE(
                {
                    "dropped": self._dropped,
                    "capacity": self.capacity,
                    "max_bytes": self.max_bytes,
                    "bytes": self._bytes,
                }
            )
        return b'{"requests":[' + b",".join(map(_unpack, texts)) + b"]," + tail[1:].encode()

    def snapshot(self, *args: Any, **kwargs: Any) -> JSON:
        """Return render()'s document decoded (the same arguments)."""
        return cast(JSON, json.loads(self.render(*args, **kwargs)))

    def _after(self, after_id: int) -> list[tuple[bytes, tuple[str, str | None, str]]]:
        """Return the entries newer than after_id, oldest first (the caller holds the lock)."""
        newer = []
        for text, facts in zip(reversed(self._texts), reversed(self._facts), strict=True):
            # Ids increase, and each text starts [Z]{"id":N,...: stop at the first old one.
            start = 7 if text[:1] == b"Z" else 6
            if int(text[start : text.index(b",", start)]) <= after_id:
                break
            newer.append((text, facts))
        newer.reverse()
        return newer


def _unpack(text: bytes) -> bytes:
    """Return an entry's JSON: a packed one is Z, its id and time, then the rest deflated."""
    if text[:1] != b"Z":
        return text
    end = text.index(b'",', 1) + 2  # the time holds no quote
    return text[1:end] + zlib.decompress(text[end:])


# Compact, and ASCII-only so any text is safe to splice into one document.
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode


def _outcome(entry: JSON) -> str:
    if entry.get("fault_id"):
        return "faulted"
    if entry["status"] >= 400:
        return "rejected"
    if entry.get("drops"):
        return "dropped"
    return "skipped" if entry.get("skipped") else "accepted"
