"""The in-memory leads database and event log: every merchant behind one lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from emulator import snapshot
from emulator.calls import JSON, Call
from emulator.clock import Clock, seconds
from emulator.errors import EmulatorError
from emulator.model import Event, Lead, Merchant
from emulator.store_audiences import AudienceRecords
from emulator.store_repeats import Repeats


def _match(value: Any, wanted: str) -> bool:
    """Compare a stored value with a query-string value."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value] == wanted.lower()
    if isinstance(value, (int, float, str)):
        return str(value) == wanted
    return False


class _Parked:
    """The long-polls waiting on one merchant: a condition on the store's lock, and a count."""

    def __init__(self, lock: threading.Lock) -> None:
        self.cond = threading.Condition(lock)
        self.count = 0


class Store(AudienceRecords, Repeats):
    """Every merchant's state behind one lock, bounded by max_events, on the app's clock."""

    def __init__(self, max_events: int = 1_000_000, clock: Clock | None = None) -> None:
        self.max_events = max_events
        self.clock = clock or Clock()
        self._merchants: dict[str, Merchant] = {}
        self._total = 0
        self._lock = threading.Lock()
        # One condition per merchant with long-polls parked: a write wakes only its merchant's.
        self._parked: dict[str, _Parked] = {}
        self._closed = False

    # -- writes -------------------------------------------------------------

    def apply(
        self,
        merchant_id: str,
        calls: Iterable[Call],
        *,
        answer: bool = True,
        now: str | None = None,
    ) -> list[tuple[JSON | None, JSON]]:
        """Apply calls atomically (all, or none if the store is full); return (lead, event).

        `now` is the receive time (read once by the surface); None reads the clock. A call
        whose message_id the merchant already holds is not applied again and has no result.
        With answer=False nothing is copied out and the list is empty (batches answer nothing).
        """
        calls = list(calls)
        with self._writing():
            applied, _ = self._commit(merchant_id, calls, now or self.clock.now())
            if not answer:
                return []
            # Only identify answers with the lead; track and page skip the copy.
            return [
                (
                    lead.to_json() if lead is not None and c.type == "identify" else None,
                    ev.to_json(),
                )
                for c, (lead, ev) in applied
            ]

    def deliver(
        self, merchant_id: str, entries: Sequence[Call | str], *, now: str | None = None
    ) -> list[int]:
        """Accept messages in order, each once by message id; return the positions of repeats.

        Each entry is a Call to apply or, for a message accepted but not forwarded, its message
        id, which the merchant holds all the same. A repeat is an entry whose id the merchant
        holds or an earlier entry carries. All or nothing, as apply.
        """
        with self._writing():
            return self._commit(merchant_id, entries, now or self.clock.now())[1]

    def _commit(
        self, merchant_id: str, entries: Sequence[Call | str], now: str
    ) -> tuple[list[tuple[Call, tuple[Lead | None, Event]]], list[int]]:
        """Apply entries under the lock; return [(call, (lead, event))] and repeat positions."""
        merchant = self._merchants.get(merchant_id)
        held = merchant.message_ids if merchant is not None else {}
        seen: set[str] = set()
        repeats: list[int] = []
        calls = 0
        for pos, entry in enumerate(entries):
            mid = entry if isinstance(entry, str) else entry.message_id
            if mid is not None:
                if mid in held or mid in seen:
                    repeats.append(pos)
                    continue
                seen.add(mid)
            calls += not isinstance(entry, str)
        if self._total + calls > self.max_events:
            raise EmulatorError(
                "storage_full",
                f"The emulator holds {self._total} events and its cap is {self.max_events}; "
                "reset a merchant (DELETE /_emulator/merchants/{id}) or start it with a "
                "larger --max-events.",
                507,
            )
        if merchant is None:
            merchant = self._merchants[merchant_id] = Merchant(merchant_id)
        skip = set(repeats)
        applied = []
        touched = self._touch(merchant)
        for pos, entry in enumerate(entries):
            if pos in skip:
                continue
            if isinstance(entry, str):
                merchant.hold(entry)
                continue
            if entry.message_id is not None:
                merchant.hold(entry.message_id)
            applied.append((entry, merchant.apply(entry, now)))
        self._record_calls(merchant, touched)
        self._total += calls
        self._wake(merchant_id)
        return applied, repeats

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
        with self._writing():
            gone = self._merchants
            if merchant_id is None:
                self._merchants = {}
                self._total = 0
            else:
                merchant = self._merchants.pop(merchant_id, None)
                gone = {merchant_id: merchant} if merchant is not None else {}
                if merchant is not None:
                    self._total -= len(merchant.events)
            self._record_reset(merchant_id, gone.values())
            self._reschedule()
            self._wake(merchant_id)

    def close(self) -> None:
        """Release every long-poll now; the server is shutting down."""
        with self._lock:
            self._closed = True
            self._wake()

    def _wake(self, merchant_id: str | None = None) -> None:
        """Wake the long-polls of one merchant, or of all (the caller holds the lock)."""
        if merchant_id is None:
            for parked in self._parked.values():
                parked.cond.notify_all()
        elif merchant_id in self._parked:
            self._parked[merchant_id].cond.notify_all()

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
            parked: _Parked | None = None
            try:
                while True:
                    merchant = self._merchants.get(merchant_id)
                    found = merchant.select(lead_id, type, event, after_seq) if merchant else []
                    remaining = deadline - time.monotonic()
                    if len(found) >= min_count or remaining <= 0 or self._closed:
                        return [e.to_json() for e in found]
                    if parked is None:
                        parked = self._parked.get(merchant_id) or _Parked(self._lock)
                        self._parked[merchant_id] = parked
                        parked.count += 1
                    parked.cond.wait(remaining)
            finally:
                if parked is not None:
                    parked.count -= 1
                    if not parked.count:
                        del self._parked[merchant_id]

    # -- whole state --------------------------------------------------------

    def export(self) -> JSON:
        """Return the whole state as a JSON document."""
        with self._lock:
            merchants = {k: snapshot.dump(self._merchants[k]) for k in sorted(self._merchants)}
            clock = {"offset_seconds": seconds(self.clock.offset_ms)}
            return {"version": 1, "clock": clock, "merchants": merchants}

    def load(self, state: Mapping[str, Any], replace: bool = True) -> None:
        """Replace (or add to) the state from an export document, all or nothing.

        The clock moves to the document's offset if that is ahead, never back.
        """
        now = self.clock.now()
        built = {mid: snapshot.build(mid, body, now) for mid, body in state["merchants"].items()}
        offset = round(float((state.get("clock") or {}).get("offset_seconds", 0)) * 1000)
        with self._writing():
            before = self._merchants
            merchants = {} if replace else dict(before)
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
            self.clock.catch_up(offset)
            self._record_load(built, replace, before)
            self._reschedule()
            self._wake()
