"""The data file's rows back as a state document, refusing whatever does not decode."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from emulator.calls import JSON
from emulator.changes import AUDIENCES, CLOCK
from emulator.clock import seconds

_decode = json.JSONDecoder().decode
# Rows decoded at once: one decode shares their keys, and its text stays a few MB.
CHUNK = 10_000


class Damaged(Exception):
    """Rows that do not make a state: what is wrong, to name in one line."""


def _object(text: Any, where: str) -> JSON:
    """Decode one row's JSON object, or raise Damaged naming the row."""
    try:
        value = _decode(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise Damaged(f"{where} does not decode ({str(exc)[:80]})") from None
    if type(value) is not dict:
        raise Damaged(f"{where} is not a JSON object")
    return value


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


@dataclass
class Found:
    """What a data file holds, and what its writer goes on from."""

    doc: JSON  # the state, in the state-file form
    documents: dict[str, Any]
    numbers: dict[str, int]  # merchant id -> its number in the file
    held: dict[int, list[int]]  # merchant number -> [next message id n, oldest n kept]
    # The most brackets any row's JSON opens: no row nests deeper.
    brackets: int = 0


class _Reader:
    """Decode rows' JSON objects, keeping the most brackets any of them opens."""

    def __init__(self, has_json: bool) -> None:
        self.valid = "json_valid(body)" if has_json else "NULL"
        self.brackets = 0

    def chunks(self, cursor: Any) -> Iterator[list[Any]]:
        """Yield a query's rows CHUNK at a time: few row texts are held at once."""
        return iter(lambda: cursor.fetchmany(CHUNK), [])

    def objects(self, got: list[Any], table: str, found: _Merchants) -> list[JSON]:
        """Decode the bodies of rows (m, key, ..., body, json_valid(body)) of a table.

        Rows SQLite's json_valid passed are joined into one array and decoded at once, which
        is faster and shares their keys; a row json_valid did not pass (or, without SQLite's
        JSON functions, every row: valid is None) is decoded alone, to name it.
        """
        texts = [r[-2] for r in got]
        out: Any = None
        if all(r[-1] == 1 for r in got):
            try:
                out = _decode("[" + ",".join(texts) + "]")
            except (TypeError, ValueError, RecursionError):
                out = None
            if out is not None and (
                len(out) != len(texts) or any(type(v) is not dict for v in out)
            ):
                out = None
        if out is None:
            out = [_object(r[-2], found.where(table, r[0], r[1])) for r in got]
        self.brackets = max(self.brackets, _brackets(texts))
        return out  # type: ignore[no-any-return]


def _brackets(texts: list[str]) -> int:
    """Return the most brackets a text opens (decoded already, so each is a str)."""
    return max((t.count("{") + t.count("[") for t in texts), default=0)


def read(rows: Any, has_json: bool = True) -> Found:
    """Return what the rows hold; whatever does not decode raises Damaged.

    rows(sql) returns the query's result rows; has_json says whether SQLite has json_valid.
    """
    reader = _Reader(has_json)
    found = _Merchants(rows("SELECT m, id FROM merchants"))
    leads = rows(f"SELECT m, id, body, {reader.valid} FROM leads ORDER BY rowid")
    for got in reader.chunks(leads):
        for (m, lead_id, _, _), lead in zip(got, reader.objects(got, "leads", found), strict=True):
            lead["id"] = lead_id
            found.body(m, "leads")["leads"].append(lead)
    for m, anonymous_id, lead_id in rows(
        "SELECT m, anonymous_id, lead_id FROM visitors ORDER BY rowid"
    ):
        visitor = {"anonymous_id": anonymous_id, "lead_id": lead_id}
        found.body(m, "visitors")["visitors"].append(visitor)
    events = rows(f"SELECT m, seq, lead_id, body, {reader.valid} FROM events ORDER BY m, seq")
    for got in reader.chunks(events):
        _events(got, found, reader)
    held: dict[int, list[int]] = {}
    for m, n, message_id in rows("SELECT m, n, id FROM message_ids ORDER BY m, n"):
        found.body(m, "message_ids")["message_ids"].append(message_id)
        if type(n) is not int:
            raise Damaged(f"{found.where('message_ids', m, n)} has no whole number")
        held.setdefault(m, [n, n])[0] = n + 1
    texts = list(rows("SELECT name, body FROM documents"))
    documents = {name: _document(text, name) for name, text in texts}
    brackets = max(reader.brackets, _brackets([text for _, text in texts]))
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
    return Found(doc, documents, {v: k for k, v in found.names.items()}, held, brackets)


def _events(got: list[Any], found: _Merchants, reader: _Reader) -> None:
    """Append a chunk of each merchant's events, which must run 1, 2, 3... with no gap."""
    last_m: Any = None
    events: list[JSON] = []
    for (m, seq, lead_id, _, _), event in zip(
        got, reader.objects(got, "events", found), strict=True
    ):
        if m != last_m:
            last_m, events = m, found.body(m, "events")["events"]
        if seq != len(events) + 1:
            raise Damaged(
                f"events of merchant {found.name(m)} jump from seq {len(events)} to {seq!r}"
            )
        event["seq"] = seq
        event["lead_id"] = lead_id
        events.append(event)
