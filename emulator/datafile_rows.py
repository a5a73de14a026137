"""The data file's rows: each change the store makes as SQL, and the rows back as a state document.

Leads, visitors and events are kept in their state-file form (a JSON object a row, keys that
are null left out), so a field added to that form is kept without a new schema version.
Leads and visitors come back in the order they were made (rowid order), events by seq.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from emulator import snapshot
from emulator.calls import JSON
from emulator.changes import AUDIENCES, CLOCK, Calls, Change, Replace, Reset
from emulator.clock import seconds
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
_decode = json.JSONDecoder().decode
# Rows decoded at once: one decode shares their keys, and its text stays a few MB.
CHUNK = 10_000


class Damaged(Exception):
    """Rows that do not make a state: what is wrong, to name in one line."""


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


def _object(text: Any, where: str) -> JSON:
    """Decode one row's JSON object, or raise Damaged naming the row."""
    try:
        value = _decode(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise Damaged(f"{where} does not decode ({str(exc)[:80]})") from None
    if type(value) is not dict:
        raise Damaged(f"{where} is not a JSON object")
    return value


def _objects(texts: list[Any], valid: list[Any], where: Callable[[int], str]) -> list[JSON]:
    """Decode rows' JSON objects, or raise Damaged naming the first row that is not one.

    Rows SQLite's json_valid passed are joined into arrays of CHUNK and decoded at once, which
    is faster and shares their keys; a row json_valid did not pass (or, without SQLite's JSON
    functions, every row: valid holds None) is decoded alone.
    """
    if all(v == 1 for v in valid):
        out: list[JSON] = []
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            try:
                values = _decode("[" + ",".join(chunk) + "]")
            except (TypeError, ValueError, RecursionError):
                break
            if len(values) != len(chunk) or any(type(v) is not dict for v in values):
                break
            out += values
        else:
            return out
    return [_object(text, where(i)) for i, text in enumerate(texts)]


def _document(text: Any, name: str) -> Any:
    try:
        return _decode(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise Damaged(f"document {name!r} does not decode ({str(exc)[:80]})") from None


class _Merchants:
    """The merchants table, and each merchant's state-file body as its rows fill it in."""

    def __init__(self, found: Iterable[Any]) -> None:
        self.names: dict[int, str] = {}
        self.bodies: dict[int, JSON] = {}
        for m, merchant_id in found:
            self.names[m] = merchant_id
            self.bodies[m] = {"leads": [], "visitors": [], "events": [], "message_ids": []}

    def body(self, m: Any, table: str) -> JSON:
        """Return the body of merchant number m, which a row of table names."""
        body = self.bodies.get(m)
        if body is None:
            raise Damaged(f"a row of {table} belongs to merchant number {m!r}, which has no row")
        return body

    def name(self, m: Any) -> str:
        """Name merchant number m in a message."""
        return repr(self.names[m]) if m in self.names else f"number {m!r}"

    def where(self, table: str, m: Any, key: Any) -> str:
        """Name a row in a message: its table, merchant and key."""
        return f"{table} row {key!r} of merchant {self.name(m)}"


def read(
    rows: Any, has_json: bool = True
) -> tuple[JSON, dict[str, Any], dict[str, int], dict[int, list[int]]]:
    """Return the state document the rows hold, the documents, and the numbering for Rows.

    rows(sql) returns the query's result rows; has_json says whether SQLite has json_valid.
    Whatever does not decode raises Damaged.
    """
    found = _Merchants(rows("SELECT m, id FROM merchants"))
    valid = "json_valid(body)" if has_json else "NULL"
    got = list(rows(f"SELECT m, id, body, {valid} FROM leads ORDER BY rowid"))
    where = lambda i: found.where("leads", got[i][0], got[i][1])  # noqa: E731
    for (m, lead_id, _, _), lead in zip(got, _objects(*_texts(got), where), strict=True):
        lead["id"] = lead_id
        found.body(m, "leads")["leads"].append(lead)
    for m, anonymous_id, lead_id in rows(
        "SELECT m, anonymous_id, lead_id FROM visitors ORDER BY rowid"
    ):
        visitor = {"anonymous_id": anonymous_id, "lead_id": lead_id}
        found.body(m, "visitors")["visitors"].append(visitor)
    _events(list(rows(f"SELECT m, seq, lead_id, body, {valid} FROM events ORDER BY m, seq")), found)
    held: dict[int, list[int]] = {}
    for m, n, message_id in rows("SELECT m, n, id FROM message_ids ORDER BY m, n"):
        found.body(m, "message_ids")["message_ids"].append(message_id)
        if type(n) is not int:
            raise Damaged(f"{found.where('message_ids', m, n)} has no whole number")
        held.setdefault(m, [n, n])[0] = n + 1
    documents = {
        name: _document(text, name) for name, text in rows("SELECT name, body FROM documents")
    }
    merchants = {found.names[m]: body for m, body in found.bodies.items()}
    for name, body in documents.items():
        if name.startswith(AUDIENCES):
            merchants.setdefault(name[len(AUDIENCES) :], {})["computed_audiences"] = body
    doc: JSON = {"version": 1, "merchants": merchants}
    clock = documents.get(CLOCK)
    if clock is not None:
        offset = clock.get("offset_ms") if isinstance(clock, dict) else None
        if type(offset) is not int:
            raise Damaged(f"document {CLOCK!r} holds no whole offset_ms")
        doc["clock"] = {"offset_seconds": seconds(offset)}
    return doc, documents, {v: k for k, v in found.names.items()}, held


def _texts(got: list[Any]) -> tuple[list[Any], list[Any]]:
    """Return the rows' bodies and json_valid flags: their last two columns."""
    return [r[-2] for r in got], [r[-1] for r in got]


def _events(got: list[Any], found: _Merchants) -> None:
    """Append each merchant's events, which must run 1, 2, 3... with no gap."""
    where = lambda i: found.where("events", got[i][0], got[i][1])  # noqa: E731
    last_m, events = None, []
    for (m, seq, lead_id, _, _), event in zip(got, _objects(*_texts(got), where), strict=True):
        if m != last_m:
            last_m, events = m, found.body(m, "events")["events"]
        if seq != len(events) + 1:
            raise Damaged(
                f"events of merchant {found.name(m)} jump from seq {len(events)} to {seq!r}"
            )
        event["seq"] = seq
        event["lead_id"] = lead_id
        events.append(event)
