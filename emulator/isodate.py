"""ISO-8601 date strings as Segment's facade reads them (`@segment/isodate`, its traversal).

analytics.js builds each message's facade with date traversal on: every string value that
`isodate.is(value, strict=true)` accepts becomes a JavaScript Date, which reaches Wishpond
as `Date.prototype.toISOString()`: UTC with milliseconds. The rules kept here:
- the lax pattern (year, then optional month, day, time, fraction and zone) must match the
  whole string, and strict mode also wants `YYYY-MM-DD` at its start;
- a missing or zero month or day is 1; the fraction is cut (not rounded) to milliseconds;
- fields past their range roll over, as `Date.UTC` does (month 13, day 32, hour 24...);
- years 0-99 are 1900-1999, as `Date.UTC` reads them;
- a space instead of `T` means the browser's local time, whatever zone follows; the
  emulator has no browser and takes UTC, what a browser in a UTC machine (CI, containers)
  gives.
Everything here is pure.
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard

# The package's matcher, with ASCII digits as JavaScript's \d has them.
_MATCHER = re.compile(
    r"([0-9]{4})(?:-?([0-9]{2})(?:-?([0-9]{2}))?)?"
    r"(?:([ T])([0-9]{2}):?([0-9]{2})(?::?([0-9]{2})(?:[,.]([0-9]+))?)?"
    r"(?:(Z)|([+\-])([0-9]{2})(?::?([0-9]{2}))?)?)?"
)
_STRICT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# toISOString writes years past 9999 with a sign and six digits.
_EXPANDED = re.compile(r"[+-][0-9]{6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
# Already a Date's wire form with every field in range (February 29th and years 0000-0099,
# which Date.UTC moves, aside): traversal leaves such a string as it is, without parsing it.
_CANONICAL = re.compile(
    r"(?!00)[0-9]{4}-"
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z"
)
_DAY_MS = 86_400_000


def is_date(value: Any, strict: bool = True) -> TypeGuard[str]:
    """Return whether value is a string isodate reads as a date (strict: it starts Y-M-D)."""
    if type(value) is not str:
        return False
    # YYYY-MM-DD has its first dash fifth: most strings are told apart without a regex.
    if strict and value[4:5] != "-":
        return False
    if _CANONICAL.fullmatch(value) is not None:  # the common case: a Date's own wire form
        return True
    if strict and _STRICT.match(value) is None:
        return False
    return _MATCHER.fullmatch(value) is not None


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Return the days from 1970-01-01 to a proleptic Gregorian date (month 1-12)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Return (year, month, day) for days since 1970-01-01."""
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month, day


def _utc(year: int, month0: int, day: int, hour: int, minute: int, second: int, ms: int) -> int:
    """Return Date.UTC(...): epoch milliseconds, every field free to roll over."""
    if 0 <= year <= 99:
        year += 1900
    year += month0 // 12
    days = _days_from_civil(year, month0 % 12 + 1, 1) + day - 1
    return days * _DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000 + ms


def parse(text: str) -> int:
    """Return the epoch milliseconds of a string is_date(text, strict=False) accepts."""
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not an ISO-8601 date")
    (year, month, day, sep, hour, minute, second, fraction, zulu, sign, zh, zm) = found.groups()
    offset = 0
    if sep != " " and zulu is None and sign is not None:
        offset = int(zh) * 60 + int(zm or 0)
        if sign == "+":
            offset = -offset
    return _utc(
        int(year),
        (int(month or 0) or 1) - 1,
        int(day or 0) or 1,
        int(hour or 0),
        int(minute or 0) + offset,
        int(second or 0),
        int((fraction + "00")[:3]) if fraction else 0,
    )


def to_iso(ms: int) -> str:
    """Return Date.prototype.toISOString() of epoch milliseconds."""
    days, rest = divmod(ms, _DAY_MS)
    year, month, day = _civil_from_days(days)
    seconds, millis = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    shown = f"{year:04d}" if 0 <= year <= 9999 else f"{'+' if year > 0 else '-'}{abs(year):06d}"
    return f"{shown}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def normalize(text: str) -> str:
    """Return the wire form of a date string: what its Date serialises to."""
    if _CANONICAL.fullmatch(text) is not None:
        return text
    return to_iso(parse(text))


def was_date(value: Any) -> bool:
    """Return whether a traversed value stands for a Date rather than a string."""
    return is_date(value) or (type(value) is str and _EXPANDED.fullmatch(value) is not None)


def traverse(value: Any) -> Any:
    """Return value with every strict ISO date string, however deep, in its wire form.

    What holds no date to change comes back as the very same object, never a copy.
    """
    kind = type(value)
    if kind is str:
        return normalize(value) if is_date(value) else value
    if kind is dict:
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            new = _changed(item)
            if new is not item:
                changed = changed if changed is not None else dict(value)
                changed[key] = new
        return value if changed is None else changed
    if kind is list:
        copy: list[Any] | None = None
        for i, item in enumerate(value):
            new = _changed(item)
            if new is not item:
                copy = copy if copy is not None else list(value)
                copy[i] = new
        return value if copy is None else copy
    return value


def _changed(item: Any) -> Any:
    """Return traverse(item), telling most scalars apart without a call deeper."""
    kind = type(item)
    if kind is str:
        return normalize(item) if item[4:5] == "-" and is_date(item) else item
    return traverse(item) if kind is dict or kind is list else item
