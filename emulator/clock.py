"""The emulator's time: ISO-8601 UTC strings with milliseconds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_second: tuple[int, str] = (0, "")


def utc_now() -> str:
    """Return the current UTC time as ISO-8601 with milliseconds."""
    global _second
    now = time.time()
    whole = int(now)
    second, prefix = _second  # formatted once per second; every call reads one tuple
    if whole != second:
        prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (whole, prefix)
    return f"{prefix}.{int((now - whole) * 1000):03d}Z"
