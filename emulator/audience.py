"""A computed audience as a merchant holds it: its rule, its cadence and its last sync (data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.calls import JSON
from emulator.clock import MAX_MS, format_duration, format_ms


@dataclass
class Rule:
    """Who is a member: min_count titled events within a window, or an attribute's value."""

    event: str | None = None
    within_ms: int = 0
    min_count: int = 1
    where: JSON = field(default_factory=dict)
    trait: str | None = None
    equals: Any = None

    def to_json(self) -> JSON:
        """Return the rule as it is written."""
        if self.trait is not None:
            return {"trait": self.trait, "equals": self.equals}
        out: JSON = {"event": self.event, "within": format_duration(self.within_ms)}
        out["min_count"] = self.min_count
        if self.where:
            out["where"] = dict(self.where)
        return out


@dataclass
class Audience:
    """One computed audience: its rule, cadence, and the members Wishpond got at the last sync."""

    key: str
    name: str
    rule: Rule
    first_ms: int
    every_ms: int
    next_ms: int
    last_ms: int | None = None
    members: list[str] = field(default_factory=list)

    def to_json(self) -> JSON:
        """Return the audience's wire form (and its state-file form)."""
        return {
            "key": self.key,
            "name": self.name,
            "rule": self.rule.to_json(),
            "first_sync_after": format_duration(self.first_ms),
            "sync_every": format_duration(self.every_ms),
            "members": list(self.members),
            "last_sync_at": None if self.last_ms is None else format_ms(self.last_ms),
            "next_sync_at": format_ms(self.next_ms) if self.next_ms <= MAX_MS else None,
        }


@dataclass(frozen=True)
class Membership:
    """What one sync needs from the store: who Wishpond has, who is a member at at_ms, emails."""

    merchant_id: str
    key: str
    at_ms: int
    previous: list[str]
    members: list[str]
    first: bool
    emails: dict[str, str]
