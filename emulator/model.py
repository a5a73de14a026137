"""One merchant's leads, visitors and event log, with their indexes (callers hold the lock)."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from sys import intern
from typing import Any

from emulator.audience import Audience
from emulator.calls import EVENT_TYPES, JSON, Call

# How many accepted message ids a merchant remembers to apply each message once.
MESSAGE_ID_WINDOW = 100_000


class Event:
    """One entry of a merchant's append-only event log."""

    __slots__ = (
        "anonymous_id",
        "attributes",
        "event",
        "lead_id",
        "message_id",
        "properties",
        "received_at",
        "seq",
        "source",
        "timestamp",
        "type",
        "violations",
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
        message_id: str | None = None,
        timestamp: str | None = None,
        violations: Sequence[JSON] | None = None,
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
        self.message_id = message_id
        # None when it is received_at, which most events' timestamps are.
        self.timestamp = timestamp
        # The tracking plan's verdict: () when it conforms, None when no plan checked it.
        self.violations = violations

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
            "timestamp": self.timestamp or self.received_at,
            "message_id": self.message_id,
            "violations": None if self.violations is None else list(self.violations),
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
class Touched:
    """What calls changed in a merchant, in order: for a durable record of them."""

    leads: dict[str, Lead] = field(default_factory=dict)
    visitors: dict[str, Visitor] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    # (seq, lead id) of each event a link moved onto a lead.
    moved: list[tuple[int, str]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


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
        self.computed: dict[str, Audience] = {}  # computed audiences by key, in definition order
        # The last MESSAGE_ID_WINDOW accepted message ids, oldest first.
        self.message_ids: OrderedDict[str, None] = OrderedDict()
        # Set by the store while it applies calls it records durably.
        self.touched: Touched | None = None

    # -- message ids --------------------------------------------------------

    def holds(self, message_id: str) -> bool:
        """Return whether a message with this id was accepted (within the window)."""
        return message_id in self.message_ids

    def hold(self, message_id: str) -> None:
        """Remember an accepted message's id, forgetting the oldest past the window."""
        self.message_ids[message_id] = None
        if self.touched is not None:
            self.touched.held.append(message_id)
        if len(self.message_ids) > MESSAGE_ID_WINDOW:
            self.message_ids.popitem(last=False)

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
                if self.touched is not None:
                    self.touched.leads[previous.id] = previous
        visitor.lead_id = lead.id
        lead.anonymous_ids.append(visitor.anonymous_id)
        if visitor.pending:
            for seq in visitor.pending:
                self.events[seq - 1].lead_id = lead.id
            if self.touched is not None:
                self.touched.moved += [(seq, lead.id) for seq in visitor.pending]
            lead.event_seqs = sorted(lead.event_seqs + visitor.pending)
            visitor.pending = []

    def index_email(self, lead: Lead, old: Any) -> None:
        """Move the lead in the email index from its old email to its current one."""
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

    def add_event(self, event: Event) -> None:
        """Append an event to the log and every index: its type, title, lead or visitor."""
        seq = event.seq
        self.events.append(event)
        self.by_type[event.type].append(seq)
        if event.event is not None:
            self.by_title.setdefault(event.event, []).append(seq)
        if event.lead_id is not None:
            self.leads[event.lead_id].event_seqs.append(seq)
        elif event.anonymous_id is not None:
            self.visitors[event.anonymous_id].pending.append(seq)

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
        attributes = call.attributes  # its keys shared across calls by limits.decode_json
        if call.type == "identify" and lead is not None:
            old_email = lead.attributes.get("email")
            lead.attributes.update(attributes or {})
            self.index_email(lead, old_email)
        if lead is not None:
            for key, value in (call.audiences or {}).items():
                lead.audiences[key] = value
                lead.attributes[key] = value
                lead.audience_history.append(
                    {"key": key, "value": value, "seq": seq, "received_at": now}
                )
            lead.updated_at = now
        event = Event(
            seq=seq,
            type=call.type,
            lead_id=lead.id if lead is not None else None,
            # Share the visitor's id string and intern the title: one copy, not one per event.
            anonymous_id=visitor.anonymous_id if visitor is not None else None,
            event=intern(call.event) if type(call.event) is str else call.event,
            properties=call.properties,
            attributes=attributes,
            source=call.source,
            received_at=now,
            message_id=call.message_id,
            timestamp=call.timestamp if call.timestamp != now else None,
            violations=call.violations,
        )
        self.add_event(event)
        if self.touched is not None:
            self.touched.events.append(event)
            if lead is not None:
                self.touched.leads[lead.id] = lead
            if visitor is not None:
                self.touched.visitors[visitor.anonymous_id] = visitor
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
