"""A merchant to and from the state-file form (GET/PUT /_emulator/state, fixtures)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.model import JSON, Event, Lead, Merchant, Visitor, utc_now


def dump(m: Merchant) -> JSON:
    """Return a merchant's state-file form."""
    return {
        "leads": [
            {**lead.to_json(), "audience_history": list(lead.audience_history)}
            for lead in m.leads.values()
        ],
        "visitors": [
            {"anonymous_id": v.anonymous_id, "lead_id": v.lead_id} for v in m.visitors.values()
        ],
        "events": [e.to_json() for e in m.events],
    }


def build(merchant_id: str, body: Mapping[str, Any]) -> Merchant:
    """Rebuild a merchant and its indexes from its exported form."""
    m = Merchant(merchant_id)
    for raw in body.get("leads", []):
        lead = Lead(
            id=raw["id"],
            created_at=raw.get("created_at") or utc_now(),
            updated_at=raw.get("updated_at") or raw.get("created_at") or utc_now(),
            attributes=dict(raw.get("attributes", {})),
            audiences=dict(raw.get("audiences", {})),
            anonymous_ids=list(raw.get("anonymous_ids", [])),
            audience_history=[dict(h) for h in raw.get("audience_history", [])],
        )
        m.leads[lead.id] = lead
        m._set_email(lead, None)
    # The visitor list (in its order) says who is linked; leads' anonymous_ids fill the gaps.
    for raw in body.get("visitors", []):
        m.visitors[raw["anonymous_id"]] = Visitor(raw["anonymous_id"], raw.get("lead_id"))
    for lead in m.leads.values():
        for anon in lead.anonymous_ids:
            known = m.visitors.setdefault(anon, Visitor(anon, lead.id))
            if known.lead_id is None:
                known.lead_id = lead.id
    for i, raw in enumerate(body.get("events", []), start=1):
        ev = Event(
            seq=i,
            type=raw["type"],
            lead_id=raw.get("lead_id"),
            anonymous_id=raw.get("anonymous_id"),
            event=raw.get("event"),
            properties=raw.get("properties"),
            attributes=raw.get("attributes"),
            source=raw.get("source", "import"),
            received_at=raw.get("received_at") or utc_now(),
        )
        anon_id = ev.anonymous_id
        if ev.lead_id is None and anon_id is not None and anon_id in m.visitors:
            # A linked visitor's history belongs to its lead, as re-attribution would have made it.
            ev.lead_id = m.visitors[anon_id].lead_id
        lead_id: str | None = ev.lead_id
        if lead_id is not None and lead_id not in m.leads:
            m.leads[lead_id] = Lead(lead_id, ev.received_at, ev.received_at)
        if anon_id is not None and anon_id not in m.visitors:
            m.visitors[anon_id] = Visitor(anon_id, None)
        m.events.append(ev)
        m.by_type[ev.type].append(i)
        if ev.event is not None:
            m.by_title.setdefault(ev.event, []).append(i)
        if lead_id is not None:
            m.leads[lead_id].event_seqs.append(i)
        elif anon_id is not None:
            m.visitors[anon_id].pending.append(i)
    for lead in m.leads.values():
        lead.anonymous_ids = [a for a in lead.anonymous_ids if m.visitors[a].lead_id == lead.id]
    for visitor in m.visitors.values():
        if visitor.lead_id is not None:
            if visitor.lead_id not in m.leads:
                m.leads[visitor.lead_id] = Lead(visitor.lead_id, utc_now(), utc_now())
            lead = m.leads[visitor.lead_id]
            if visitor.anonymous_id not in lead.anonymous_ids:
                lead.anonymous_ids.append(visitor.anonymous_id)
    return m
