"""The in-memory leads database and event log, one namespace per merchant."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from sys import intern
from typing import Any

from emulator.errors import EmulatorError

JSON = dict[str, Any]

EVENT_TYPES = ("identify", "track", "page")
SOURCES = ("tracker", "segment", "engage", "import")


_second: tuple[int, str] = (0, "")


def utc_now() -> str:
    """Return the current UTC time as ISO-8601 with milliseconds."""
    global _second
    now = time.time()
    whole = int(now)
    second, prefix = _second  # formatted once per second; every call reads one tuple
    if whole != second:
        prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (whole, prefix)
    return f"{prefix}.{int((now - whole) * 1000):03d}Z"


def _shared_keys(value: JSON | None) -> JSON | None:
    """Return a dict whose keys are interned: millions of events repeat the same few keys."""
    if type(value) is not dict:
        return value
    return {(intern(k) if type(k) is str else k): v for k, v in value.items()}


class Event:
    """One entry of a merchant's append-only event log."""

    __slots__ = (
        "anonymous_id",
        "attributes",
        "event",
        "lead_id",
        "properties",
        "received_at",
        "seq",
        "source",
        "type",
    )

    def __init__(
        self,
        seq: int,
        type: str,
        lead_id: str | None,
        anonymous_id: str | None,
        event: str | None,
        properties: JSON | None,
        attributes: JSON | None,
        source: str,
        received_at: str,
    ) -> None:
        self.seq = seq
        self.type = type
        self.lead_id = lead_id
        self.anonymous_id = anonymous_id
        self.event = event
        self.properties = properties
        self.attributes = attributes
        self.source = source
        self.received_at = received_at

    def to_json(self) -> JSON:
        """Return the wire form of the event."""
        return {
            "seq": self.seq,
            "type": self.type,
            "lead_id": self.lead_id,
            "anonymous_id": self.anonymous_id,
            "event": self.event,
            "properties": self.properties,
            "attributes": self.attributes,
            "source": self.source,
            "received_at": self.received_at,
        }


@dataclass
class Lead:
    """A person in the leads database."""

    id: str
    created_at: str
    updated_at: str
    attributes: JSON = field(default_factory=dict)
    audiences: dict[str, bool] = field(default_factory=dict)
    anonymous_ids: list[str] = field(default_factory=list)
    event_seqs: list[int] = field(default_factory=list)
    audience_history: list[JSON] = field(default_factory=list)

    def to_json(self) -> JSON:
        """Return the wire form of the lead, without its events."""
        return {
            "id": self.id,
            "attributes": dict(self.attributes),
            "audiences": dict(self.audiences),
            "anonymous_ids": list(self.anonymous_ids),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "event_count": len(self.event_seqs),
        }


@dataclass
class Visitor:
    """An anonymous browser or session, linked to at most one lead."""

    anonymous_id: str
    lead_id: str | None = None
    # Seqs of events still unattributed (lead_id null); emptied when linked.
    pending: list[int] = field(default_factory=list)


@dataclass
class Call:
    """One write to apply to a merchant: identify, track or page."""

    type: str
    lead_id: str | None = None
    anonymous_id: str | None = None
    event: str | None = None
    properties: JSON | None = None
    attributes: JSON | None = None
    audiences: Mapping[str, bool] | None = None
    source: str = "tracker"


def _email_key(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


class Merchant:
    """One merchant's namespace. Callers hold the store lock."""

    def __init__(self, merchant_id: str) -> None:
        self.id = merchant_id
        self.leads: dict[str, Lead] = {}
        self.visitors: dict[str, Visitor] = {}
        self.events: list[Event] = []  # events[seq - 1]
        self.by_email: dict[str, set[str]] = {}
        self.by_title: dict[str, list[int]] = {}
        self.by_type: dict[str, list[int]] = {t: [] for t in EVENT_TYPES}

    # -- writes -------------------------------------------------------------

    def _lead(self, lead_id: str, now: str) -> Lead:
        lead = self.leads.get(lead_id)
        if lead is None:
            lead = self.leads[lead_id] = Lead(id=lead_id, created_at=now, updated_at=now)
        return lead

    def _link(self, visitor: Visitor, lead: Lead) -> None:
        if visitor.lead_id == lead.id:
            return
        if visitor.lead_id is not None:
            previous = self.leads.get(visitor.lead_id)
            if previous is not None and visitor.anonymous_id in previous.anonymous_ids:
                previous.anonymous_ids.remove(visitor.anonymous_id)
        visitor.lead_id = lead.id
        lead.anonymous_ids.append(visitor.anonymous_id)
        if visitor.pending:
            for seq in visitor.pending:
                self.events[seq - 1].lead_id = lead.id
            lead.event_seqs = sorted(lead.event_seqs + visitor.pending)
            visitor.pending = []

    def _set_email(self, lead: Lead, old: Any) -> None:
        old_key, new_key = _email_key(old), _email_key(lead.attributes.get("email"))
        if old_key == new_key:
            return
        if old_key is not None:
            ids = self.by_email.get(old_key)
            if ids is not None:
                ids.discard(lead.id)
                if not ids:
                    del self.by_email[old_key]
        if new_key is not None:
            self.by_email.setdefault(new_key, set()).add(lead.id)

    def apply(self, call: Call, now: str) -> tuple[Lead | None, Event]:
        """Apply one call and return the lead it touched and the logged event."""
        lead: Lead | None = None
        if call.lead_id is not None:
            lead = self._lead(call.lead_id, now)
        visitor: Visitor | None = None
        if call.anonymous_id is not None:
            visitor = self.visitors.get(call.anonymous_id)
            if visitor is None:
                visitor = self.visitors[call.anonymous_id] = Visitor(call.anonymous_id)
            if lead is not None:
                self._link(visitor, lead)
            elif visitor.lead_id is not None:
                lead = self.leads[visitor.lead_id]
        seq = len(self.events) + 1
        attributes = _shared_keys(call.attributes)
        if call.type == "identify" and lead is not None:
            old_email = lead.attributes.get("email")
            lead.attributes.update(attributes or {})
            self._set_email(lead, old_email)
        if lead is not None:
            for key, value in (call.audiences or {}).items():
                lead.audiences[key] = value
                lead.attributes[key] = value
                lead.audience_history.append(
                    {"key": key, "value": value, "seq": seq, "received_at": now}
                )
            lead.updated_at = now
            lead.event_seqs.append(seq)
        elif visitor is not None:
            visitor.pending.append(seq)
        event = Event(
            seq=seq,
            type=call.type,
            lead_id=lead.id if lead is not None else None,
            # Share the visitor's id string and intern the title: one copy, not one per event.
            anonymous_id=visitor.anonymous_id if visitor is not None else None,
            event=intern(call.event) if type(call.event) is str else call.event,
            properties=_shared_keys(call.properties),
            attributes=attributes,
            source=call.source,
            received_at=now,
        )
        self.events.append(event)
        self.by_type[call.type].append(seq)
        if call.event is not None:
            self.by_title.setdefault(call.event, []).append(seq)
        return lead, event

    # -- reads --------------------------------------------------------------

    def select(
        self,
        lead_id: str | None = None,
        type: str | None = None,
        event: str | None = None,
        after_seq: int = 0,
    ) -> list[Event]:
        """Return matching events in seq order, starting from the narrowest index."""
        candidates: list[list[int]] = []
        if lead_id is not None:
            lead = self.leads.get(lead_id)
            candidates.append(lead.event_seqs if lead is not None else [])
        if type is not None:
            candidates.append(self.by_type.get(type, []))
        if event is not None:
            candidates.append(self.by_title.get(event, []))
        if not candidates:
            return self.events[after_seq:]
        seqs = min(candidates, key=len)
        start = bisect.bisect_right(seqs, after_seq)
        out = []
        for seq in seqs[start:]:
            ev = self.events[seq - 1]
            if (
                (lead_id is None or ev.lead_id == lead_id)
                and (type is None or ev.type == type)
                and (event is None or ev.event == event)
            ):
                out.append(ev)
        return out

    def counts(self) -> JSON:
        """Return the merchant's summary row."""
        return {
            "id": self.id,
            "lead_count": len(self.leads),
            "visitor_count": len(self.visitors),
            "event_count": len(self.events),
        }


def _match(value: Any, wanted: str) -> bool:
    """Compare a stored value with a query-string value."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value] == wanted.lower()
    if isinstance(value, (int, float, str)):
        return str(value) == wanted
    return False


class Store:
    """Every merchant's state behind one lock, bounded by max_events."""

    def __init__(self, max_events: int = 1_000_000) -> None:
        self.max_events = max_events
        self._merchants: dict[str, Merchant] = {}
        self._total = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False

    # -- writes -------------------------------------------------------------

    def apply(
        self, merchant_id: str, calls: Iterable[Call], *, answer: bool = True
    ) -> list[tuple[JSON | None, JSON]]:
        """Apply calls atomically (all, or none if the store is full); return (lead, event).

        With answer=False nothing is copied out and the list is empty (batches answer nothing).
        """
        calls = list(calls)
        now = utc_now()
        with self._lock:
            if self._total + len(calls) > self.max_events:
                raise EmulatorError(
                    "storage_full",
                    f"The emulator holds {self._total} events and its cap is {self.max_events}; "
                    "reset a merchant (DELETE /_emulator/merchants/{id}) or start it with a "
                    "larger --max-events.",
                    507,
                )
            merchant = self._merchants.get(merchant_id)
            if merchant is None:
                merchant = self._merchants[merchant_id] = Merchant(merchant_id)
            results = [merchant.apply(call, now) for call in calls]
            self._total += len(calls)
            self._changed.notify_all()
            if not answer:
                return []
            # Only identify answers with the lead; track and page skip the copy.
            return [
                (
                    lead.to_json() if lead is not None and c.type == "identify" else None,
                    ev.to_json(),
                )
                for c, (lead, ev) in zip(calls, results, strict=True)
            ]

    def identify(
        self,
        merchant_id: str,
        lead_id: str,
        attributes: JSON,
        anonymous_id: str | None = None,
        source: str = "tracker",
    ) -> JSON:
        """Create or merge a lead and return it."""
        call = Call("identify", lead_id, anonymous_id, attributes=attributes, source=source)
        lead, _ = self.apply(merchant_id, [call])[0]
        assert lead is not None
        return lead

    def track(
        self,
        merchant_id: str,
        event: str,
        properties: JSON,
        anonymous_id: str | None = None,
        lead_id: str | None = None,
        source: str = "tracker",
    ) -> JSON:
        """Log a titled event on the session's lead, or on the visitor."""
        call = Call("track", lead_id, anonymous_id, event, properties, source=source)
        return self.apply(merchant_id, [call])[0][1]

    def page(
        self,
        merchant_id: str,
        properties: JSON,
        anonymous_id: str | None = None,
        lead_id: str | None = None,
        source: str = "tracker",
    ) -> JSON:
        """Log a page view."""
        call = Call("page", lead_id, anonymous_id, None, properties, source=source)
        return self.apply(merchant_id, [call])[0][1]

    def reset(self, merchant_id: str | None = None) -> None:
        """Forget one merchant, or every merchant."""
        with self._lock:
            if merchant_id is None:
                self._merchants.clear()
                self._total = 0
            else:
                merchant = self._merchants.pop(merchant_id, None)
                if merchant is not None:
                    self._total -= len(merchant.events)
            self._changed.notify_all()

    def close(self) -> None:
        """Release every long-poll now; the server is shutting down."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()

    # -- reads --------------------------------------------------------------

    @property
    def total_events(self) -> int:
        """Return the number of events across merchants."""
        return self._total

    def merchants(self) -> list[JSON]:
        """Return every merchant's counts, sorted by id."""
        with self._lock:
            return [self._merchants[m].counts() for m in sorted(self._merchants)]

    def leads(
        self,
        merchant_id: str,
        email: str | None = None,
        attributes: Mapping[str, str] | None = None,
        audiences: Mapping[str, bool] | None = None,
    ) -> list[JSON]:
        """Return the merchant's leads matching every filter, oldest first."""
        with self._lock:
            merchant = self._merchants.get(merchant_id)
            if merchant is None:
                return []
            if email is not None:
                ids = merchant.by_email.get(email.strip().lower(), set())
                pool = sorted((merchant.leads[i] for i in ids), key=lambda x: (x.created_at, x.id))
            else:
                pool = list(merchant.leads.values())
            out = []
            for lead in pool:
                if attributes and not all(
                    k in lead.attributes and _match(lead.attributes[k], v)
                    for k, v in attributes.items()
                ):
                    continue
                if audiences and not all(lead.audiences.get(k) is v for k, v in audiences.items()):
                    continue
                out.append(lead.to_json())
            return out

    def lead(self, merchant_id: str, lead_id: str) -> JSON:
        """Return one lead with its events and audience history."""
        with self._lock:
            merchant = self._merchants.get(merchant_id)
            lead = merchant.leads.get(lead_id) if merchant is not None else None
            if merchant is None or lead is None:
                raise EmulatorError(
                    "lead_not_found",
                    f"Merchant {merchant_id!r} has no lead with id {lead_id!r}; "
                    f"list its leads with GET /_emulator/merchants/{merchant_id}/leads.",
                    404,
                )
            out = lead.to_json()
            out["events"] = [merchant.events[s - 1].to_json() for s in lead.event_seqs]
            out["audience_history"] = [dict(h) for h in lead.audience_history]
            return out

    def events(
        self,
        merchant_id: str,
        lead_id: str | None = None,
        type: str | None = None,
        event: str | None = None,
        after_seq: int = 0,
        min_count: int = 0,
        wait: float = 0.0,
    ) -> list[JSON]:
        """Return matching events; with wait, block until min_count match or time runs out."""
        deadline = time.monotonic() + wait
        with self._lock:
            while True:
                merchant = self._merchants.get(merchant_id)
                found = merchant.select(lead_id, type, event, after_seq) if merchant else []
                remaining = deadline - time.monotonic()
                if len(found) >= max(min_count, 1) or remaining <= 0 or self._closed:
                    return [e.to_json() for e in found]
                self._changed.wait(remaining)

    # -- whole state --------------------------------------------------------

    def export(self) -> JSON:
        """Return the whole state as a JSON document."""
        with self._lock:
            return {
                "version": 1,
                "merchants": {
                    m.id: {
                        "leads": [
                            {**lead.to_json(), "audience_history": list(lead.audience_history)}
                            for lead in m.leads.values()
                        ],
                        "visitors": [
                            {"anonymous_id": v.anonymous_id, "lead_id": v.lead_id}
                            for v in m.visitors.values()
                        ],
                        "events": [e.to_json() for e in m.events],
                    }
                    for m in (self._merchants[k] for k in sorted(self._merchants))
                },
            }

    def load(self, state: Mapping[str, Any], replace: bool = True) -> None:
        """Replace (or add to) the state from an export document, all or nothing."""
        built = {mid: _build_merchant(mid, body) for mid, body in state["merchants"].items()}
        with self._lock:
            merchants = {} if replace else dict(self._merchants)
            merchants.update(built)
            total = sum(len(m.events) for m in merchants.values())
            if total > self.max_events:
                raise EmulatorError(
                    "storage_full",
                    f"The state holds {total} events, more than --max-events {self.max_events}.",
                    507,
                )
            self._merchants = merchants
            self._total = total
            self._changed.notify_all()


def _build_merchant(merchant_id: str, body: Mapping[str, Any]) -> Merchant:
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
        lead_id: str | None = ev.lead_id
        if lead_id is not None and lead_id not in m.leads:
            m.leads[lead_id] = Lead(lead_id, ev.received_at, ev.received_at)
        anon_id = ev.anonymous_id
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
