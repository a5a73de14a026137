"""Segment message -> Wishpond tracker call: a port of the analytics.js Wishpond integration.

The integration calls `Wishpond.Tracker.identify(userId, identify.traits(ALIASES))` and
`Wishpond.Tracker.track(event, properties)`; `identify.traits` comes from Segment's facade
library, whose lookups ignore case and separators, and which reads every ISO date string
of the traits and properties as a Date (emulator/isodate.py). Everything here is pure.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from emulator import isodate
from emulator.calls import JSON

# The integration's aliases, in its order: facade reads the camelCase trait, writes the
# snake_case key and deletes the camelCase key.
ALIASES = {
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "firstName": "first_name",
    "lastName": "last_name",
    "phoneNumber": "phone_number",
    "leadScore": "lead_score",
}
FORWARDED = ("identify", "track")
USER_ID_REQUIRED = "user id required"
NOT_SUPPORTED = "not supported by the Wishpond destination"

_SEPARATORS = re.compile(r"[^a-zA-Z0-9.]+")
# JavaScript's String.prototype.trim whitespace (ES5 WhiteSpace and LineTerminator).
_JS_SPACE = " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"  # noqa: E501


@dataclass(frozen=True)
class TrackerCall:
    """A call the Wishpond tracker receives, with the session it arrived in."""

    method: str  # identify or track
    user_id: str | None
    anonymous_id: str | None
    traits: JSON | None = None
    event: str | None = None
    properties: JSON | None = None


@dataclass(frozen=True)
class Skip:
    """A message the destination does not forward, and why."""

    type: str
    reason: str


def segment_id(value: Any) -> str | None:
    """Return a Segment id as a string (integers stringified); empty or null is None."""
    if type(value) is str:
        return value or None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value if isinstance(value, str) else str(value)
    return text or None


@functools.lru_cache(maxsize=4096)  # messages repeat the same few keys
def _normalize(key: str) -> str:
    """Return obj-case's form of a key: only letters, digits and dots, lower case."""
    return _SEPARATORS.sub("", key).lower()


def _index(traits: Mapping[str, Any]) -> Callable[[str], Any]:
    """Return lookup(name): the first trait whose key matches name ignoring case and separators."""
    first: dict[str, Any] = {}
    for key, value in traits.items():
        first.setdefault(_normalize(key), value)
    return lambda name: first.get(_normalize(name))


def _trim(text: str) -> str:
    return text.strip(_JS_SPACE)


def _text(value: Any) -> bool:
    """Return whether a traversed value is a string in JavaScript (a date there is a Date)."""
    return isinstance(value, str) and not isodate.was_date(value)


def first_name(traits: Mapping[str, Any]) -> str | None:
    """Return facade's firstName(): the trait, else the first word of a string name."""
    return _first_name(_index(traits))


def last_name(traits: Mapping[str, Any]) -> str | None:
    """Return facade's lastName(): the trait, else what follows the first space of name."""
    return _last_name(_index(traits))


def _first_name(lookup: Callable[[str], Any]) -> str | None:
    value = lookup("firstName")
    if _text(value):
        return _trim(value)
    name = lookup("name")
    if _text(name):
        return _trim(name).split(" ")[0]
    return None


def _last_name(lookup: Callable[[str], Any]) -> str | None:
    value = lookup("lastName")
    if _text(value):
        return _trim(value)
    name = lookup("name")
    if not _text(name):
        return None
    space = _trim(name).find(" ")
    if space == -1:
        return None
    # facade finds the space in the trimmed name but cuts the untrimmed one; kept as is.
    return _trim(name[space + 1 :])


_GETTERS = {"firstName": _first_name, "lastName": _last_name}


def identify_traits(user_id: str | None, traits: Mapping[str, Any] | None) -> JSON:
    """Return facade's identify.traits(ALIASES): the traits Wishpond's identify receives.

    The traits are those of the traversed message: dates already in their wire form.
    """
    out: JSON = dict(traits or {})
    if user_id:
        out["id"] = user_id
    # facade reads every alias from the traits as sent, not as rewritten
    lookup = _index(out)
    for alias, target in ALIASES.items():
        getter = _GETTERS.get(alias)
        value = getter(lookup) if getter is not None else lookup(alias)
        if value is None:
            continue
        out[target] = value
        out.pop(alias, None)
    return out


def _dated(value: str | None) -> str | None:
    """Return a field facade traversed: a date string in its wire form, anything else as is."""
    return isodate.normalize(value) if isodate.is_date(value) else value


# (method, user_id, anonymous_id, traits, event, properties): a TrackerCall's fields in order.
Fields = tuple[str, str | None, str | None, JSON | None, str | None, JSON | None]


def map_message(message: Mapping[str, Any]) -> TrackerCall | Skip:
    """Return the tracker call the destination makes for a validated Segment message."""
    mapped = fields(message)
    return mapped if isinstance(mapped, Skip) else TrackerCall(*mapped)


def fields(message: Mapping[str, Any]) -> Fields | Skip:
    """Return map_message()'s call as a plain tuple of its fields (no object in between)."""
    kind = message["type"]
    user_id = _dated(segment_id(message.get("userId")))
    anonymous_id = segment_id(message.get("anonymousId"))
    if kind == "identify":
        if user_id is None:
            return Skip(kind, USER_ID_REQUIRED)
        traits = identify_traits(user_id, isodate.traverse(message.get("traits")))
        return "identify", user_id, anonymous_id, traits, None, None
    if kind == "track":
        properties = dict(isodate.traverse(message.get("properties") or {}))
        return "track", user_id, anonymous_id, None, _dated(message["event"]), properties
    return Skip(kind, NOT_SUPPORTED)
