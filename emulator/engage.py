"""Segment Engage: audience keys, sync diffs, and recognising Engage payloads (pure)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator import destination
from emulator.model import Call

JSON = dict[str, Any]

ENTERED, EXITED = "Audience Entered", "Audience Exited"
MAX_KEY = 128
SPACE_ID = "spa_wishpond_emulator"

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")  # HTMLParser -> HTML_Parser
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")  # orderCompleted -> order_Completed, 30Days -> 30_Days
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


class MessageError(ValueError):
    """A Segment message the schema allows but Engage semantics cannot apply."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def audience_key(name: str) -> str:
    """Return Engage's default key for an audience name: its snake_cased form.

    Lower case; every run of non-alphanumerics becomes `_`; camelCase boundaries split;
    digits stay joined to the letters after them ('Last 30days' -> 'last_30days').
    Accents are dropped ('Café' -> 'cafe'); keys longer than 128 characters are cut.
    Returns '' when nothing alphanumeric is left.
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _CAMEL.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", text))
    # Keys are at most 128 characters (engage-audience-key); a longer name is cut there.
    return _NON_ALNUM.sub("_", text.lower()).strip("_")[:MAX_KEY].rstrip("_")


def personas(message: Mapping[str, Any]) -> JSON | None:
    """Return the message's context.personas object, the Engage marker, if any."""
    context = message.get("context")
    found = context.get("personas") if isinstance(context, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else None


def source(message: Mapping[str, Any]) -> str:
    """Return the store source: engage for messages carrying context.personas."""
    return "engage" if personas(message) is not None else "segment"


def toggles(message: Mapping[str, Any]) -> dict[str, bool] | None:
    """Return the audience memberships a validated message sets, or None."""
    kind = message.get("type")
    if kind == "track" and message.get("event") in (ENTERED, EXITED):
        key = (message.get("properties") or {})["audience_key"]
        return {key: message["event"] == ENTERED}
    marker = personas(message)
    if kind != "identify" or marker is None or marker.get("computation_class") != "audience":
        return None
    key = marker["computation_key"]
    value = (message.get("traits") or {}).get(key)
    # Segment forwards whatever it is sent: a non-boolean trait is stored, membership unchanged.
    return {key: value} if isinstance(value, bool) else None


def ignored_toggle(message: Mapping[str, Any]) -> str | None:
    """Say why an Engage audience identify changes no membership, or None if it does."""
    marker = personas(message)
    if message.get("type") != "identify" or marker is None:
        return None
    if marker.get("computation_class") != "audience" or toggles(message) is not None:
        return None
    key = marker["computation_key"]
    return (
        f"audience not toggled: traits.{key} must be true or false (the identify was applied, "
        f"membership of {key!r} unchanged)"
    )


def to_call(message: Mapping[str, Any]) -> Call | destination.Skip:
    """Map a validated Segment message to a store call (mapping plus Engage), or a skip."""
    mapped = destination.map_message(message)
    if isinstance(mapped, destination.Skip):
        return mapped
    audiences = toggles(message)
    if mapped.method == "identify":
        return Call(
            "identify",
            mapped.user_id,
            mapped.anonymous_id,
            attributes=mapped.traits,
            audiences=audiences,
            source=source(message),
        )
    return Call(
        "track",
        mapped.user_id,
        mapped.anonymous_id,
        event=mapped.event,
        properties=mapped.properties,
        audiences=audiences,
        source=source(message),
    )


@dataclass
class Sync:
    """One audience sync: who joined, who left, and the identify messages Engage sends."""

    key: str
    first: bool
    members: list[str]
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    messages: list[JSON] = field(default_factory=list)


def computation_id(key: str) -> str:
    """Return a stable Engage-style audience id for a key."""
    return "aud_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def audience_message(key: str, user_id: str, value: bool) -> JSON:
    """Return the identify message Engage sends when user_id enters (True) or exits."""
    return {
        "type": "identify",
        "userId": user_id,
        "traits": {key: value},
        "context": {
            "personas": {
                "computation_class": "audience",
                "computation_id": computation_id(key),
                "computation_key": key,
                "namespace": SPACE_ID,
                "space_id": SPACE_ID,
            }
        },
    }


def sync(key: str, previous: Iterable[str], members: Iterable[str], first: bool) -> Sync:
    """Diff an audience's members against the previous sync, Engage style.

    The first sync sends true to every member; later syncs send true to users who joined
    and false to users who left, and nothing to users whose membership did not change.
    """
    now = list(dict.fromkeys(members))
    before = set(previous)
    current = set(now)
    joined = now if first else [m for m in now if m not in before]
    left = [] if first else sorted(before - current)
    messages = [audience_message(key, m, True) for m in joined]
    messages += [audience_message(key, m, False) for m in left]
    return Sync(key, first, now, joined, left, messages)
