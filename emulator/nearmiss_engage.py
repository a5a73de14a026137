"""Explain why a lead's audience membership is not what a test expected, on the clock (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator import computed
from emulator.audience import Rule
from emulator.calls import JSON
from emulator.clock import format_ms, parse_duration, parse_time, until


@dataclass
class AudienceFacts:
    """What the emulator holds around one lead and one audience key, gathered by the client."""

    merchant_id: str
    lead_id: str
    key: str
    expected: bool
    now: str  # the emulator's clock
    lead: JSON | None  # the lead with its events and audience history, if it exists
    audience: JSON | None  # the computed audience with this key, if one is defined
    missing: list[str] = field(default_factory=list)  # nearest matches when there is no lead
    waited: float = 0.0


def _ms(iso: str | None) -> int:
    found = parse_time(iso) if iso else None
    return 0 if found is None else found


def _times(rule: Rule, events: list[JSON]) -> list[int]:
    """Return the times of the lead's events that count for the rule, oldest first."""
    return sorted(
        _ms(computed.event_time(e))
        for e in events
        if e.get("type") == "track" and computed.counts(rule, e.get("event"), e.get("properties"))
    )


def _in_window(rule: Rule, times: list[int], now: int) -> list[int]:
    span = computed.window(rule, now)
    return [t for t in times if span.start_ms < t <= span.end_ms]


def _rule_text(rule: Rule) -> str:
    if rule.trait is not None:
        return f"{rule.trait} = {rule.equals!r}"
    where = f" with {rule.where!r}" if rule.where else ""
    return f"at least {rule.min_count} {rule.event!r}{where} in the last {rule.to_json()['within']}"


def _meets(rule: Rule, lead: JSON, now: int) -> tuple[bool, str]:
    """Return whether the lead meets the rule at now, and a sentence saying why."""
    if rule.trait is not None:
        attrs, name = lead.get("attributes") or {}, rule.trait
        has = f"its {name} is {attrs[name]!r}" if name in attrs else f"it has no {name}"
        ok = name in attrs and computed.same(attrs[name], rule.equals)
        return ok, f"{has}; the rule wants {rule.equals!r}"
    times = _times(rule, lead.get("events") or [])
    inside = _in_window(rule, times, now)
    said = f"it has {len(inside)} such event(s) in the window ending now"
    if not inside and times:
        left = times[-1] + rule.within_ms
        said += f"; its newest, at {format_ms(times[-1])}, left the window at "
        said += format_ms(left)
    elif not times:
        titles = sorted({str(e.get("event")) for e in lead.get("events") or [] if e.get("event")})
        said += f"; its track titles are {', '.join(map(repr, titles)) or 'none'}"
    return len(inside) >= rule.min_count, said


def _stops(rule: Rule, lead: JSON, now: int) -> int | None:
    """Return when the lead stops meeting an event rule if nothing new arrives (None: trait)."""
    if rule.trait is not None:
        return None
    inside = _in_window(rule, _times(rule, lead.get("events") or []), now)
    return inside[len(inside) - rule.min_count] + rule.within_ms


def _sync_after(audience: JSON, when: int) -> int:
    """Return the first scheduled sync at or after a time."""
    nxt, every = _ms(audience["next_sync_at"]), parse_duration(audience["sync_every"])
    if nxt >= when or not every:
        return nxt
    return nxt + -(-(when - nxt) // every) * every


def _due(audience: JSON, now: int, when: int | None = None) -> str:
    at = _sync_after(audience, when if when is not None else now)
    return f"{format_ms(at)}, advance {until(at - now)}"


def describe_audience_miss(f: AudienceFacts) -> str:
    """Explain a failed assert_audience from the facts around the lead and the audience."""
    want = f"{f.key}={str(f.expected).lower()}"
    if f.lead is None:
        lines = "\n".join(f"  - {line}" for line in f.missing)
        return f"merchant {f.merchant_id!r} has no lead {f.lead_id!r} (expected {want}):\n{lines}"
    actual = (f.lead.get("audiences") or {}).get(f.key)
    has = "never got the key" if actual is None else f"has {f.key}={str(actual).lower()}"
    head = f"lead {f.lead_id} of merchant {f.merchant_id!r} {has}, expected {want}"
    if f.audience is None:
        others = ", ".join(sorted(f.lead.get("audiences") or {})) or "none"
        return (
            f"{head} (waited {f.waited:g}s). No computed audience {f.key!r} is defined: define "
            "one with merchant.define_audience(key, rule), or send members with "
            f"merchant.sync_audience(key, members). The lead's audiences: {others}."
        )
    audience, now = f.audience, _ms(f.now)
    rule = computed.parse_rule(audience["rule"])
    meets, why = _meets(rule, f.lead, now)
    clock = f"the clock is at {f.now}; the rule is {_rule_text(rule)}"
    if f.expected:
        if audience["last_sync_at"] is None:
            first = f"the first sync is due at {_due(audience, now)}"
            state = "it meets the rule now" if meets else f"it does not meet the rule now: {why}"
            return f"lead {f.lead_id} is not a member yet: {first}; {state} ({clock})"
        if meets:
            return (
                f"lead {f.lead_id} is not a member yet: it meets the rule now, but the last sync "
                f"ran at {audience['last_sync_at']}; the next sync is due at {_due(audience, now)} "
                f"({clock})"
            )
        return f"lead {f.lead_id} is not a member: {why} ({clock})"
    if actual is None:
        later = (
            f"; it meets the rule now, so the next sync ({_due(audience, now)}) makes it a member"
            if meets
            else ""
        )
        return (
            f"{head}: Engage sends false only to members that leave, and it was never one"
            f"{later} ({clock})"
        )
    if meets:
        stop = _stops(rule, f.lead, now)
        if stop is None:
            return f"lead {f.lead_id} is still a member: {why} ({clock})"
        return (
            f"lead {f.lead_id} is still a member: {why}; it stops meeting the rule at "
            f"{format_ms(stop)}, and the first sync after that is due at "
            f"{_due(audience, now, stop)} ({clock})"
        )
    return (
        f"lead {f.lead_id} is still a member: it no longer meets the rule ({why}), but the last "
        f"sync ran at {audience['last_sync_at']}; the next sync sends false, and it is due at "
        f"{_due(audience, now)} ({clock})"
    )
