"""Segment Engage: audience keys, sync diffs, and recognising Engage payloads (pure)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.calls import JSON

ENTERED, EXITED = "Audience Entered", "Audience Exited"
MAX_KEY = 128
SPACE_ID = "spa_wishpond_emulator"

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")  # HTMLParser -> HTML_Parser
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")  # orderCompleted -> order_Completed, 30Days -> 30_Days
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


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


def toggles(message: Mapping[str, Any], marker: JSON | None) -> dict[str, bool] | None:
    """Return the audience memberships a validated message sets, or None.

    marker is the message's context.personas (personas(message)), read once by the caller.
    """
    kind = message.get("type")
    if kind == "track" and message.get("event") in (ENTERED, EXITED):
        key = (message.get("properties") or {})["audience_key"]
        return {key: message["event"] == ENTERED}
    if kind != "identify" or marker is None or marker.get("computation_class") != "audience":
        return None
    key = marker["computation_key"]
    value = (message.get("traits") or {}).get(key)
    # Segment forwards whatever it is sent: a non-boolean trait is stored, membership unchanged.
    return {key: value} if isinstance(value, bool) else None


def ignored_toggle(message: Mapping[str, Any], marker: JSON | None) -> str | None:
    """Say why an Engage audience identify changes no membership, or None if it does."""
    if message.get("type") != "identify" or marker is None:
        return None
    if marker.get("computation_class") != "audience" or toggles(message, marker) is not None:
        return None
    key = marker["computation_key"]
    return (
        f"audience not toggled: traits.{key} must be true or false (the identify was applied, "
        f"membership of {key!r} unchanged)"
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
    # Against the merchant's tracking plan: the identifies it blocked, and every one breaking it.
    skipped: list[JSON] = field(default_factory=list)
    violations: list[JSON] = field(default_factory=list)


def computation_id(key: str) -> str:
    """Return a stable Engage-style audience id for a key."""
    return "aud_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def audience_message(
    key: str, user_id: str, value: bool, at: str | None = None, email: str | None = None
) -> JSON:
    """Return the identify message Engage sends when user_id enters (True) or exits.

    Shaped like a real Engage payload: a `personas_` message id, `sentAt: null`, an unknown
    library, and integrations that send it to Wishpond alone; at is its timestamp, and the
    user's email, when known, rides in traits as Engage sends it.
    """
    traits: JSON = {key: value}
    if email is not None:
        traits["email"] = email
    message: JSON = {
        "type": "identify",
        "messageId": f"personas_{uuid.uuid4().hex}",
        "userId": user_id,
        "traits": traits,
        "context": {
            "library": {"name": "unknown", "version": "unknown"},
            "integrations": {"personas": False},
            "personas": {
                "computation_class": "audience",
                "computation_id": computation_id(key),
                "computation_key": key,
                "namespace": SPACE_ID,
                "space_id": SPACE_ID,
            },
        },
        "integrations": {"All": False, "Wishpond": True, "Warehouses": {"all": False}},
        "sentAt": None,
    }
    if at is not None:
        message["timestamp"] = at
    return message


def sync(
    key: str,
    previous: Iterable[str],
    members: Iterable[str],
    first: bool,
    at: str | None = None,
    emails: Mapping[str, str] | None = None,
) -> Sync:
    """Diff an audience's members against the previous sync, Engage style.

    The first sync sends true to every member; later syncs send true to users who joined
    and false to users who left, and nothing to users whose membership did not change.
    Each user gets one call: the emulator's profiles have one identifier, the user id.
    """
    now = list(dict.fromkeys(members))
    before = set(previous)
    current = set(now)
    joined = now if first else [m for m in now if m not in before]
    left = [] if first else sorted(before - current)
    emails = emails or {}
    messages = [audience_message(key, m, True, at, emails.get(m)) for m in joined]
    messages += [audience_message(key, m, False, at, emails.get(m)) for m in left]
    return Sync(key, first, now, joined, left, messages)
