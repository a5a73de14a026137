"""Explain why an assertion about a lead or an event failed, listing the nearest matches."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.client import MerchantView

JSON = dict[str, Any]
MISSING = object()
SHOWN = 5


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


def _elsewhere(view: MerchantView, lead_id: str) -> list[str]:
    """Return lines naming other merchants that do hold this lead id."""
    out = []
    for row in view.client.merchants():
        if row["id"] == view.id or not row.get("lead_count"):
            continue
        if view.client.merchant(row["id"])._lead_or_none(lead_id) is not None:
            out.append(f"merchant {row['id']!r} has a lead {lead_id!r}: is the merchant id right?")
    return out[:SHOWN]


def _no_lead_lines(view: MerchantView, lead_id: str, expected: Mapping[str, Any]) -> list[str]:
    leads = view.leads()
    ids = [lead["id"] for lead in leads]
    lines = [f"lead {c!r} has a similar id" for c in _similar(lead_id, ids)]
    if expected:
        lines += [
            f"lead {lead['id']!r} has {_pairs(expected)}"
            for lead in leads
            if matches(lead["attributes"], expected)
        ][:SHOWN]
    visitors = view.client.state()["merchants"].get(view.id, {}).get("visitors", [])
    if any(v["anonymous_id"] == lead_id and v.get("lead_id") is None for v in visitors):
        lines.append(
            f"{lead_id!r} is an anonymous visitor id that no identify has linked to a lead yet"
        )
    lines += _elsewhere(view, lead_id)
    if not ids:
        lines.append(_empty(view))
    elif not lines:
        lines.append(
            f"merchant {view.id!r} has {len(ids)} lead(s): {', '.join(map(repr, ids[:10]))}"
        )
    return lines


def _empty(view: MerchantView) -> str:
    busy = [
        f"{m['id']!r} ({m['event_count']} events)"
        for m in view.client.merchants()
        if m["id"] != view.id and (m["event_count"] or m["lead_count"])
    ]
    others = f"; merchants with data: {', '.join(busy)}" if busy else "; the emulator holds no data"
    return f"merchant {view.id!r} has no leads at all{others}"


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"  - {line}" for line in lines)


def describe_lead_miss(
    view: MerchantView, lead_id: str, expected: Mapping[str, Any], lead: JSON | None, waited: float
) -> str:
    """Explain a failed assert_lead."""
    where = f"merchant {view.id!r}"
    if lead is not None:
        return (
            f"lead {lead_id!r} of {where} exists, but its attributes differ "
            f"(waited {waited:g}s):\n{_bullets(differences(lead['attributes'], expected))}\n"
            f"its attributes are {lead['attributes']!r}"
        )
    return (
        f"{where} has no lead {lead_id!r}{_wanted(expected)} (waited {waited:g}s). "
        f"Nearest matches:\n{_bullets(_no_lead_lines(view, lead_id, expected))}"
    )


def _event_line(ev: JSON) -> str:
    return f"seq {ev['seq']} {ev['type']} {ev['event']!r} with properties {ev['properties']!r}"


def describe_event_miss(
    view: MerchantView,
    lead_id: str,
    event: str,
    properties: Mapping[str, Any],
    found: list[JSON],
    waited: float,
) -> str:
    """Explain a failed assert_event, given the lead's events."""
    tracks = [e for e in found if e["type"] == "track"]
    lines = []
    for ev in tracks:
        if ev["event"] == event:
            diff = "; ".join(differences(ev["properties"] or {}, properties))
            lines.append(f"{_event_line(ev)}: same title, but {diff}")
    for title in _similar(event, [str(e["event"]) for e in tracks]):
        lines += [f"{_event_line(e)}: similar title" for e in tracks if e["event"] == title]
    for ev in view.events(event=event):
        if ev["lead_id"] == lead_id or not matches(ev["properties"] or {}, properties):
            continue
        if ev["lead_id"] is None:
            lines.append(
                f"{_event_line(ev)} from anonymous visitor {ev['anonymous_id']!r}, "
                "not linked to any lead yet (identify with that anonymous id to attach it)"
            )
        else:
            lines.append(f"{_event_line(ev)} on another lead, {ev['lead_id']!r}")
    if not found and view._lead_or_none(lead_id) is None:
        lines += [
            f"there is no lead {lead_id!r}: {line}" for line in _no_lead_lines(view, lead_id, {})
        ]
    elif not lines:
        titles = sorted({repr(e["event"]) for e in tracks})
        lines.append(
            f"lead {lead_id!r} has {len(found)} event(s); its track titles are "
            + (", ".join(titles) if titles else "none")
        )
    return (
        f"lead {lead_id!r} of merchant {view.id!r} has no track event {event!r}"
        f"{_wanted(properties)} (waited {waited:g}s). Nearest matches:\n{_bullets(lines[:12])}"
    )
