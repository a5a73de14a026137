"""Explain why an assertion about a lead or an event failed, listing the nearest matches (pure)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.calls import JSON

MISSING = object()
SHOWN = 5


@dataclass
class Facts:
    """What the emulator holds around a missing lead, gathered by the client."""

    merchant_id: str
    leads: list[JSON]
    # Whether the id is an anonymous visitor that no identify has linked to a lead.
    unlinked_visitor: bool = False
    # Other merchants that hold a lead with this id.
    elsewhere: list[str] = field(default_factory=list)
    # Other merchants that hold any data, with their event counts.
    busy: list[tuple[str, int]] = field(default_factory=list)


def matches(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    """Return whether actual holds every expected key with an equal value."""
    return all(k in actual and _same(actual[k], v) for k, v in expected.items())


def _same(actual: Any, expected: Any) -> bool:
    # JSON has no bool/int distinction problem in Python equality, except True == 1.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual is expected
    return bool(actual == expected)


def differences(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """Return one line per expected key that actual lacks or holds another value for."""
    out = []
    for key, want in expected.items():
        got = actual.get(key, MISSING)
        if got is MISSING:
            out.append(f"{key}: expected {want!r}, but it is not set")
        elif not _same(got, want):
            out.append(f"{key}: expected {want!r}, got {got!r}")
    return out


def _pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())


def _wanted(values: Mapping[str, Any]) -> str:
    return f" with {_pairs(values)}" if values else ""


def _similar(word: str, candidates: Iterable[str]) -> list[str]:
    pool = sorted(set(candidates) - {word})
    folded = [c for c in pool if c.casefold() == word.casefold()]
    close = difflib.get_close_matches(word, pool, n=SHOWN, cutoff=0.6)
    return list(dict.fromkeys(folded + close))[:SHOWN]


def _no_lead_lines(lead_id: str, expected: Mapping[str, Any], facts: Facts) -> list[str]:
    ids = [lead["id"] for lead in facts.leads]
    lines = [f"lead {c!r} has a similar id" for c in _similar(lead_id, ids)]
    if expected:
        lines += [
            f"lead {lead['id']!r} has {_pairs(expected)}"
            for lead in facts.leads
            if matches(lead["attributes"], expected)
        ][:SHOWN]
    if facts.unlinked_visitor:
        lines.append(
            f"{lead_id!r} is an anonymous visitor id that no identify has linked to a lead yet"
        )
    lines += [
        f"merchant {other!r} has a lead {lead_id!r}: is the merchant id right?"
        for other in facts.elsewhere[:SHOWN]
    ]
    if not ids:
        lines.append(_empty(facts))
    elif not lines:
        lines.append(
            f"merchant {facts.merchant_id!r} has {len(ids)} lead(s): "
            f"{', '.join(map(repr, ids[:10]))}"
        )
    return lines


def no_lead_lines(lead_id: str, facts: Facts) -> list[str]:
    """Return the nearest matches around a lead id the merchant lacks."""
    return _no_lead_lines(lead_id, {}, facts)


def _empty(facts: Facts) -> str:
    busy = [f"{m!r} ({count} events)" for m, count in facts.busy[:SHOWN]]
    if len(facts.busy) > SHOWN:
        busy.append(f"{len(facts.busy) - SHOWN} more")
    others = f"; merchants with data: {', '.join(busy)}" if busy else "; the emulator holds no data"
    return f"merchant {facts.merchant_id!r} has no leads at all{others}"


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"  - {line}" for line in lines)


def describe_lead_miss(
    merchant_id: str,
    lead_id: str,
    expected: Mapping[str, Any],
    lead: JSON | None,
    waited: float,
    facts: Facts | None,
) -> str:
    """Explain a failed assert_lead; facts are gathered only when the lead does not exist."""
    where = f"merchant {merchant_id!r}"
    if lead is not None:
        return (
            f"lead {lead_id!r} of {where} exists, but its attributes differ "
            f"(waited {waited:g}s):\n{_bullets(differences(lead['attributes'], expected))}\n"
            f"its attributes are {lead['attributes']!r}"
        )
    assert facts is not None, "a missing lead is explained from the facts around it"
    return (
        f"{where} has no lead {lead_id!r}{_wanted(expected)} (waited {waited:g}s). "
        f"Nearest matches:\n{_bullets(_no_lead_lines(lead_id, expected, facts))}"
    )


def _event_line(ev: JSON) -> str:
    return f"seq {ev['seq']} {ev['type']} {ev['event']!r} with properties {ev['properties']!r}"


def describe_event_miss(
    merchant_id: str,
    lead_id: str,
    event: str,
    properties: Mapping[str, Any],
    found: list[JSON],
    titled: list[JSON],
    waited: float,
    facts: Facts | None,
) -> str:
    """Explain a failed assert_event.

    found is the lead's events, titled the merchant's events with this title, and facts is
    given only when the lead does not exist.
    """
    tracks = [e for e in found if e["type"] == "track"]
    lines = []
    for ev in tracks:
        if ev["event"] == event:
            diff = "; ".join(differences(ev["properties"] or {}, properties))
            lines.append(f"{_event_line(ev)}: same title, but {diff}")
    for title in _similar(event, [str(e["event"]) for e in tracks]):
        lines += [f"{_event_line(e)}: similar title" for e in tracks if e["event"] == title]
    for ev in titled:
        if ev["lead_id"] == lead_id or not matches(ev["properties"] or {}, properties):
            continue
        if ev["lead_id"] is None:
            lines.append(
                f"{_event_line(ev)} from anonymous visitor {ev['anonymous_id']!r}, "
                "not linked to any lead yet (identify with that anonymous id to attach it)"
            )
        else:
            lines.append(f"{_event_line(ev)} on another lead, {ev['lead_id']!r}")
    if facts is not None:
        lines += [
            f"there is no lead {lead_id!r}: {line}" for line in _no_lead_lines(lead_id, {}, facts)
        ]
    elif not lines:
        titles = sorted({repr(e["event"]) for e in tracks})
        lines.append(
            f"lead {lead_id!r} has {len(found)} event(s); its track titles are "
            + (", ".join(titles) if titles else "none")
        )
    return (
        f"lead {lead_id!r} of merchant {merchant_id!r} has no track event {event!r}"
        f"{_wanted(properties)} (waited {waited:g}s). Nearest matches:\n{_bullets(lines[:12])}"
    )
