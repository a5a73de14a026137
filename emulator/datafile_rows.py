"""The data file's schema, and each change the store makes as the SQL that records it.

Leads, visitors and events are kept in their state-file form (a JSON object a row, keys that
are null left out), so a field added to that form is kept without a new schema version.
Leads and visitors are read back in the order they were made (rowid order), events by seq.
"""

from __future__ import annotations

import json
from typing import Any

from emulator import snapshot
from emulator.changes import Calls, Change, Replace, Reset
from emulator.model import Event, Lead, Merchant

SCHEMA_VERSION = 1
SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE merchants (m INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE)",
    "CREATE TABLE leads (m INTEGER NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (m, id))",
    "CREATE TABLE visitors (m INTEGER NOT NULL, anonymous_id TEXT NOT NULL, lead_id TEXT,"
    " UNIQUE (m, anonymous_id))",
    "CREATE TABLE events (m INTEGER NOT NULL, seq INTEGER NOT NULL, lead_id TEXT,"
    " body TEXT NOT NULL, PRIMARY KEY (m, seq)) WITHOUT ROWID",
    "CREATE TABLE message_ids (m INTEGER NOT NULL, n INTEGER NOT NULL, id TEXT NOT NULL,"
    " PRIMARY KEY (m, n)) WITHOUT ROWID",
    "CREATE TABLE documents (name TEXT PRIMARY KEY, body TEXT NOT NULL)",
    f"INSERT INTO schema_version VALUES ({SCHEMA_VERSION})",
)
MERCHANT_TABLES = ("events", "leads", "visitors", "message_ids", "merchants")

INSERT_MERCHANT = "INSERT INTO merchants (m, id) VALUES (?, ?)"
UPSERT_LEAD = (
    "INSERT INTO leads (m, id, body) VALUES (?, ?, ?) "
    "ON CONFLICT (m, id) DO UPDATE SET body = excluded.body"
)
UPSERT_VISITOR = (
    "INSERT INTO visitors (m, anonymous_id, lead_id) VALUES (?, ?, ?) "
    "ON CONFLICT (m, anonymous_id) DO UPDATE SET lead_id = excluded.lead_id"
)
INSERT_EVENT = "INSERT INTO events (m, seq, lead_id, body) VALUES (?, ?, ?, ?)"
MOVE_EVENT = "UPDATE events SET lead_id = ? WHERE m = ? AND seq = ?"
INSERT_ID = "INSERT INTO message_ids (m, n, id) VALUES (?, ?, ?)"
FORGET_IDS = "DELETE FROM message_ids WHERE m = ? AND n < ?"
PUT_DOCUMENT = "INSERT OR REPLACE INTO documents (name, body) VALUES (?, ?)"
DELETE_DOCUMENT = "DELETE FROM documents WHERE name = ?"

# One SQL statement and the parameter rows it runs with.
Op = tuple[str, list[tuple[Any, ...]]]
# ASCII only: any text, even one Python holds that UTF-8 cannot, is written safely.
_encode = json.JSONEncoder(separators=(",", ":")).encode


def event_body(event: Event) -> str:
    """Return an event's row body: its state-file form without seq, lead_id and nulls."""
    form = event.to_json()
    if form["timestamp"] == form["received_at"]:
        del form["timestamp"]
    return _encode({k: v for k, v in form.items() if v is not None and k not in _EVENT_KEYS})


def lead_body(lead: Lead) -> str:
    """Return a lead's row body: its state-file form without its id and event count."""
    form = snapshot.lead_form(lead)
    return _encode({k: v for k, v in form.items() if v is not None and k not in _LEAD_KEYS})


def _event_row(m: int, event: Event) -> tuple[Any, ...]:
    return (m, event.seq, event.lead_id, event_body(event))


_EVENT_KEYS = frozenset(("seq", "lead_id"))
_LEAD_KEYS = frozenset(("id", "event_count"))


class Rows:
    """Turn the store's changes into SQL, keeping the file's merchant numbers and id counters."""

    def __init__(self, numbers: dict[str, int], held: dict[int, list[int]]) -> None:
        self._numbers = numbers  # merchant id -> its number in the file
        self._next = max(numbers.values(), default=0) + 1
        # merchant number -> [the n the next held message id gets, the oldest n kept]
        self._held = held

    def ops(self, change: Change) -> list[Op]:
        """Return the SQL that records a change."""
        if isinstance(change, Calls):
            return self._calls(change)
        if isinstance(change, Reset):
            return self._reset(change.merchant_id)
        if isinstance(change, Replace):
            ops = self._reset(None) if change.everything else []
            for merchant_id, merchant in change.merchants.items():
                if not change.everything:
                    ops += self._reset(merchant_id)
                ops += self._whole(merchant)
            return ops
        if change.body is None:
            return [(DELETE_DOCUMENT, [(change.name,)])]
        return [(PUT_DOCUMENT, [(change.name, _encode(change.body))])]

    def _number(self, merchant_id: str, ops: list[Op]) -> int:
        number = self._numbers.get(merchant_id)
        if number is None:
            number = self._numbers[merchant_id] = self._next
            self._next += 1
            ops.append((INSERT_MERCHANT, [(number, merchant_id)]))
        return number

    def _calls(self, change: Calls) -> list[Op]:
        ops: list[Op] = []
        merchant, touched = change.merchant, change.touched
        m = self._number(merchant.id, ops)
        if touched.leads:
            ops.append((UPSERT_LEAD, [(m, x.id, lead_body(x)) for x in touched.leads.values()]))
        if touched.visitors:
            rows = [(m, v.anonymous_id, v.lead_id) for v in touched.visitors.values()]
            ops.append((UPSERT_VISITOR, rows))
        if touched.events:
            ops.append((INSERT_EVENT, [_event_row(m, e) for e in touched.events]))
        if touched.moved:
            ops.append((MOVE_EVENT, [(lead_id, m, seq) for seq, lead_id in touched.moved]))
        if touched.held:
            ops += self._hold(m, touched.held, len(merchant.message_ids))
        return ops

    def _hold(self, m: int, ids: list[str], window: int) -> list[Op]:
        """Insert newly held message ids; forget the rows the window no longer holds."""
        counter = self._held.setdefault(m, [1, 1])
        start = counter[0]
        counter[0] += len(ids)
        ops: list[Op] = [(INSERT_ID, [(m, start + i, mid) for i, mid in enumerate(ids)])]
        oldest = counter[0] - window
        if oldest > counter[1]:
            counter[1] = oldest
            ops.append((FORGET_IDS, [(m, oldest)]))
        return ops

    def _reset(self, merchant_id: str | None) -> list[Op]:
        if merchant_id is None:
            self._numbers.clear()
            self._held.clear()
            return [(f"DELETE FROM {table}", [()]) for table in MERCHANT_TABLES]
        m = self._numbers.pop(merchant_id, None)
        if m is None:
            return []
        self._held.pop(m, None)
        return [(f"DELETE FROM {table} WHERE m = ?", [(m,)]) for table in MERCHANT_TABLES]

    def _whole(self, merchant: Merchant) -> list[Op]:
        """Return the SQL that writes a whole merchant."""
        ops: list[Op] = []
        m = self._number(merchant.id, ops)
        ops.append((UPSERT_LEAD, [(m, x.id, lead_body(x)) for x in merchant.leads.values()]))
        rows = [(m, v.anonymous_id, v.lead_id) for v in merchant.visitors.values()]
        ops.append((UPSERT_VISITOR, rows))
        ops.append((INSERT_EVENT, [_event_row(m, e) for e in merchant.events]))
        ops += self._hold(m, list(merchant.message_ids), len(merchant.message_ids))
        return ops
