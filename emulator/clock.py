"""The emulator's time: one forward-only clock per app, read as ISO-8601 UTC with milliseconds."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from emulator.errors import EmulatorError

SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000
UNITS = {"d": DAY, "h": HOUR, "m": MINUTE, "s": SECOND}
# The first and last instants an ISO-8601 year of four digits can name.
MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_SECONDS = 10**12  # a JSON number of seconds; duration.json says the same
DURATION_HELP = (
    "write up to four numbers with units s, m, h or d, like '6h', '90m' or '1h 30m', "
    "or a number of seconds"
)

# One part of a duration, exactly as contract/schemas/duration.json's pattern reads it.
_PART = re.compile(r" *([0-9]{1,12}(?:\.[0-9]{1,3})?) *([smhd]) *")
_second: tuple[int, str] = (0, "")


def real_ms() -> int:
    """Return the real UTC time in whole milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def format_ms(ms: int) -> str:
    """Return a time in milliseconds since the epoch as ISO-8601 UTC with milliseconds."""
    global _second
    whole, millis = divmod(ms, 1000)
    second, prefix = _second  # formatted once per second; every call reads one tuple
    if whole != second:
        # isoformat pads every year to four digits; strftime's %Y does not on every platform.
        prefix = datetime.fromtimestamp(whole, UTC).isoformat(timespec="seconds")[:19]
        _second = (whole, prefix)
    return f"{prefix}.{millis:03d}Z"


def utc_now() -> str:
    """Return the real current UTC time as ISO-8601 with milliseconds."""
    return format_ms(real_ms())


def parse_time(text: str) -> int | None:
    """Return an ISO-8601 time in milliseconds since the epoch (no offset means UTC), or None."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        ms = round(when.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        return None
    # An offset can carry a time of year 1 back past the first instant the clock can show.
    return ms if ms >= MIN_MS else None


def parse_duration(value: Any) -> int | None:
    """Return a duration ('6h', '1h 30m', '1.5d', or a number of seconds) in ms, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
            return None
        return round(value * 1000)
    if not isinstance(value, str) or len(value) > 64:
        return None
    total, end, count = 0, 0, 0
    for part in _PART.finditer(value):
        if part.start() != end:
            return None
        whole, _, fraction = part.group(1).partition(".")
        size = UNITS[part.group(2)]
        # Exact arithmetic: at most three decimals of a unit are whole milliseconds or less.
        total += int(whole) * size + int(fraction.ljust(3, "0")) * size // 1000
        end, count = part.end(), count + 1
    return total if count and end == len(value) and count <= 4 else None


def duration(value: Any, name: str, default: int, minimum: int = 0) -> int:
    """Return a duration field in ms (default when absent), or raise a 400 naming the field."""
    if value is None:
        return default
    ms = parse_duration(value)
    if ms is None:
        raise EmulatorError(
            "invalid_duration",
            f"{name} {value!r} is not a duration; {DURATION_HELP}.",
            field=name,
        )
    if ms < minimum:
        raise EmulatorError(
            "invalid_duration",
            f"{name} {value!r} is too short; it must be at least {format_duration(minimum)}.",
            field=name,
        )
    return ms


def format_duration(ms: int) -> str:
    """Return a duration in the form parse_duration reads: '6h', '1d 3h', '90s', '0.5s'."""
    parts = []
    for unit in ("d", "h", "m"):
        count, ms = divmod(ms, UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    if ms or not parts:
        parts.append(f"{seconds(ms)}s")
    return " ".join(parts)


def until(ms: int) -> str:
    """Return how far to advance to reach a time ms away: rounded up, to minutes past one."""
    step = MINUTE if ms > MINUTE else SECOND
    return format_duration(max(step, -(-ms // step) * step))


class Clock:
    """One app's clock: real time plus an offset that only grows; readings never go back."""

    def __init__(self, offset_ms: int = 0, real: Callable[[], int] = real_ms) -> None:
        self._offset = offset_ms
        self._real = real
        self._last = 0
        self._lock = threading.Lock()

    @property
    def offset_ms(self) -> int:
        """Return how far the clock is ahead of real time."""
        return self._offset

    def millis(self) -> int:
        """Return the clock's time in milliseconds since the epoch."""
        # No lock on the hot path: readings in other threads are unordered anyway, and
        # _last only keeps a machine clock that steps back from moving this one back.
        now = min(self._real() + self._offset, MAX_MS)  # it stops at the end of year 9999
        if now < self._last:
            return self._last
        self._last = now
        return now

    def now(self) -> str:
        """Return the clock's time as ISO-8601 UTC with milliseconds."""
        return format_ms(self.millis())

    def move_to(self, target_ms: int) -> None:
        """Move the clock forward to target_ms; a target already passed changes nothing."""
        with self._lock:
            now = max(self._last, self._real() + self._offset)
            if target_ms > now:
                self._offset += target_ms - now
                self._last = target_ms

    def advance(self, by_ms: int) -> None:
        """Move the clock forward by exactly by_ms: the offset grows by that much."""
        with self._lock:
            self._offset += max(0, min(by_ms, MAX_MS - self._real() - self._offset))
            self._last = max(self._last, min(self._real() + self._offset, MAX_MS))

    def catch_up(self, offset_ms: int) -> None:
        """Raise the offset to offset_ms if that is larger; never move back, nor past MAX_MS."""
        with self._lock:
            self._offset = max(self._offset, min(offset_ms, MAX_MS - self._real()))

    def to_json(self) -> dict[str, Any]:
        """Return GET /_emulator/clock's answer."""
        now = self.millis()
        return {"now": format_ms(now), "offset_seconds": seconds(self._offset)}


def seconds(ms: int) -> int | float:
    """Return milliseconds as seconds: an integer when whole."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000
