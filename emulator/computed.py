"""Computed audiences: their rules, membership over a merchant, and the sync schedule (pure).

A rule counts a lead's track events with a title (and properties) in a window ending at the
sync, or compares one of its attributes. Callers hold the store lock while reading a merchant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from emulator.audience import Audience, Membership, Rule
from emulator.clock import HOUR, MAX_MS, SECOND, duration, format_ms, parse_time
from emulator.model import Event, Merchant

# Segment's documented cadence: the first sync six hours or more after the audience is made,
# then every two to three hours.
FIRST_SYNC_AFTER = 6 * HOUR
SYNC_EVERY = 3 * HOUR


def check_durations(body: Mapping[str, Any]) -> None:
    """Raise a 400 naming the first duration field of a PUT body that is not a duration."""
    for name in ("first_sync_after", "sync_every"):
        duration(body.get(name), name, 0, minimum=SECOND if name == "sync_every" else 0)
    rule = body.get("rule")
    if isinstance(rule, Mapping) and "trait" not in rule and "within" in rule:
        duration(rule["within"], "rule.within", 0)


def parse_rule(raw: Mapping[str, Any]) -> Rule:
    """Return the Rule a schema-checked rule object describes."""
    if "trait" in raw:
        return Rule(trait=raw["trait"], equals=raw["equals"])
    within = duration(raw["within"], "rule.within", 0)
    return Rule(raw["event"], within, raw.get("min_count", 1), dict(raw.get("where") or {}))


def define(key: str, body: Mapping[str, Any], now_ms: int, previous: Audience | None) -> Audience:
    """Return an audience defined (or redefined) now from a checked PUT body.

    A redefinition keeps the members Wishpond already has, so its next sync sends only changes;
    an audience never synced waits first_sync_after again, one synced waits sync_every.
    sync_every is at least 1s (a state file's shorter one counts as 1s).
    """
    rule = parse_rule(body["rule"])
    first = duration(body.get("first_sync_after"), "first_sync_after", FIRST_SYNC_AFTER)
    every = max(SECOND, duration(body.get("sync_every"), "sync_every", SYNC_EVERY))
    name = body.get("name") or key
    if previous is None or previous.last_ms is None:
        return Audience(key, name, rule, first, every, now_ms + first)
    members = list(previous.members)
    return Audience(key, name, rule, first, every, now_ms + every, previous.last_ms, members)


def due_count(audience: Audience, until_ms: int) -> int:
    """Return how many scheduled syncs of the audience fall due by until_ms."""
    if audience.next_ms > until_ms:
        return 0
    return (until_ms - audience.next_ms) // audience.every_ms + 1


def event_time(event: Event | Mapping[str, Any]) -> str:
    """Return when an event (stored, or its wire form) happened: the one place that decides.

    Its timestamp (Segment's corrected time) when it has one, otherwise its received_at.
    """
    if isinstance(event, Event):
        return event.timestamp or event.received_at
    return str(event.get("timestamp") or event["received_at"])


class Window:
    """The times t with start < t <= end that a rule counts events in, tested on ISO strings."""

    def __init__(self, start_ms: int, end_ms: int) -> None:
        self.start_ms, self.end_ms = start_ms, end_ms
        # The emulator's own times have one fixed width, so they compare as strings.
        self._start = format_ms(start_ms) if start_ms >= 0 else None
        self._end = format_ms(end_ms)

    def __contains__(self, when: str) -> bool:
        if self._start is not None and len(when) == 24 and when[19] == "." and when[23] == "Z":
            return self._start < when <= self._end
        ms = parse_time(when)
        return ms is not None and self.start_ms < ms <= self.end_ms


def window(rule: Rule, at_ms: int) -> Window:
    """Return the rule's window ending at at_ms."""
    return Window(at_ms - rule.within_ms, at_ms)


def same(actual: Any, expected: Any) -> bool:
    """Return whether two JSON values are equal, true never equal to 1."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    return bool(actual == expected)


def counts(rule: Rule, title: str | None, properties: Mapping[str, Any] | None) -> bool:
    """Return whether a track event with this title and these properties counts for the rule."""
    props = properties or {}
    return title == rule.event and all(
        k in props and same(props[k], v) for k, v in rule.where.items()
    )


def members(rule: Rule, merchant: Merchant, at_ms: int) -> list[str]:
    """Return the merchant's leads that meet the rule at at_ms, in the order they were made.

    Events of a visitor never identified belong to no lead; once an identify links the
    visitor they count from the time they happened, at the next sync.
    """
    if rule.trait is not None:
        trait = rule.trait
        return [
            lead.id
            for lead in merchant.leads.values()
            if trait in lead.attributes and same(lead.attributes[trait], rule.equals)
        ]
    span = window(rule, at_ms)
    found: dict[str, int] = {}
    for seq in merchant.by_title.get(rule.event or "", ()):
        ev = merchant.events[seq - 1]
        if ev.lead_id is None or not counts(rule, ev.event, ev.properties):
            continue
        if event_time(ev) in span:
            found[ev.lead_id] = found.get(ev.lead_id, 0) + 1
    return [lead_id for lead_id in merchant.leads if found.get(lead_id, 0) >= rule.min_count]


def emails(merchant: Merchant, lead_ids: Iterable[str]) -> dict[str, str]:
    """Return the email of each lead that has one, for the Engage calls about it."""
    out = {}
    for lead_id in lead_ids:
        lead = merchant.leads.get(lead_id)
        email = lead.attributes.get("email") if lead is not None else None
        if isinstance(email, str):
            out[lead_id] = email
    return out


def membership(merchant: Merchant, audience: Audience, at_ms: int) -> Membership:
    """Return what the audience's sync at at_ms diffs: its last members and the rule's now."""
    now = members(audience.rule, merchant, at_ms)
    addresses = emails(merchant, [*audience.members, *now])
    first = audience.last_ms is None
    previous = list(audience.members)
    return Membership(merchant.id, audience.key, at_ms, previous, now, first, addresses)


def given(
    merchant_id: str, merchant: Merchant | None, key: str, names: Sequence[str], at_ms: int
) -> Membership:
    """Return what a sync to a given member list diffs: who the leads' audiences say is in."""
    leads = list(merchant.leads.values()) if merchant is not None else []
    previous = [lead.id for lead in leads if lead.audiences.get(key) is True]
    first = not any(key in lead.audiences for lead in leads)
    addresses = emails(merchant, [*previous, *names]) if merchant is not None else {}
    return Membership(merchant_id, key, at_ms, previous, list(names), first, addresses)


def build(raw: Mapping[str, Any]) -> Audience:
    """Rebuild an audience from its state-file form."""
    body = {k: raw.get(k) for k in ("name", "rule", "first_sync_after", "sync_every")}
    audience = define(raw["key"], body, 0, None)
    next_ms = parse_time(raw["next_sync_at"]) if raw.get("next_sync_at") else None
    audience.next_ms = MAX_MS + 1 if next_ms is None else next_ms
    last = raw.get("last_sync_at")
    audience.last_ms = parse_time(last) if last else None
    audience.members = list(raw.get("members") or [])
    return audience
