"""The store's computed audiences and their Engage syncs on its clock (Store mixes it in)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from emulator import computed, engage
from emulator.calls import JSON, Call
from emulator.clock import MAX_MS, Clock, format_ms
from emulator.errors import EmulatorError
from emulator.model import Event, Lead, Merchant

# One POST /_emulator/clock runs at most this many syncs; advance in steps beyond it.
MAX_SYNCS = 10_000


class Syncs:
    """Define computed audiences, run their syncs when they fall due, and move the clock."""

    clock: Clock
    _lock: threading.Lock
    _merchants: dict[str, Merchant]
    _due: int | None

    def _commit(
        self, merchant_id: str, entries: Sequence[Call | str], now: str
    ) -> tuple[list[tuple[Call, tuple[Lead | None, Event]]], list[int]]:
        raise NotImplementedError  # the Store's

    # -- definitions ----------------------------------------------------------

    def define_audience(self, merchant_id: str, key: str, body: Mapping[str, Any]) -> JSON:
        """Define or redefine a merchant's computed audience; return it."""
        with self._lock:
            merchant = self._merchants.get(merchant_id)
            previous = merchant.computed.get(key) if merchant is not None else None
            audience = computed.define(key, body, self.clock.millis(), previous)
            if merchant is None:
                merchant = self._merchants[merchant_id] = Merchant(merchant_id)
            merchant.computed[key] = audience
            self._reschedule()
            return audience.to_json()

    def computed_audiences(self, merchant_id: str) -> list[JSON]:
        """Return a merchant's computed audiences in definition order."""
        with self._lock:
            merchant = self._merchants.get(merchant_id)
            return [a.to_json() for a in (merchant.computed.values() if merchant else ())]

    def computed_audience(self, merchant_id: str, key: str) -> JSON:
        """Return one computed audience, or raise a 404."""
        with self._lock:
            return self._audience(merchant_id, key).to_json()

    def delete_audience(self, merchant_id: str, key: str) -> JSON:
        """Remove a computed audience (its members keep what they were sent); return it."""
        with self._lock:
            audience = self._audience(merchant_id, key)
            del self._merchants[merchant_id].computed[key]
            self._reschedule()
            return audience.to_json()

    def _audience(self, merchant_id: str, key: str) -> computed.Audience:
        merchant = self._merchants.get(merchant_id)
        audience = merchant.computed.get(key) if merchant is not None else None
        if audience is None:
            known = sorted(merchant.computed) if merchant is not None else []
            raise EmulatorError(
                "audience_not_found",
                f"Merchant {merchant_id!r} has no computed audience {key!r} "
                f"(it has {', '.join(known) or 'none'}); define it with "
                f"PUT /_emulator/merchants/{merchant_id}/computed-audiences/{key}.",
                404,
            )
        return audience

    # -- syncs ----------------------------------------------------------------

    def sync_audience(self, merchant_id: str, key: str) -> tuple[JSON, list[JSON]]:
        """Run one computed audience's sync now, off its schedule; return it and its calls."""
        with self._lock:
            audience = self._audience(merchant_id, key)
            return self._sync(merchant_id, audience, self.clock.millis(), scheduled=False)

    def sync_members(self, merchant_id: str, key: str, members: Sequence[str]) -> engage.Sync:
        """Sync an audience to a given member list now, diffed against the leads' audiences."""
        with self._lock:
            now = format_ms(self.clock.millis())
            merchant = self._merchants.get(merchant_id)
            leads = list(merchant.leads.values()) if merchant is not None else []
            previous = [lead.id for lead in leads if lead.audiences.get(key) is True]
            first = not any(key in lead.audiences for lead in leads)
            addresses = computed.emails(merchant, [*previous, *members]) if merchant else {}
            result, calls = computed.emit(key, previous, members, first, now, addresses)
            self._commit(merchant_id, calls, now)
            return result

    def _sync(
        self, merchant_id: str, audience: computed.Audience, at_ms: int, scheduled: bool
    ) -> tuple[JSON, list[JSON]]:
        """Evaluate the rule at at_ms and send Engage's identifies for who entered and left."""
        merchant = self._merchants[merchant_id]
        at = format_ms(at_ms)
        now = computed.members(audience.rule, merchant, at_ms)
        addresses = computed.emails(merchant, [*audience.members, *now])
        first = audience.last_ms is None
        result, calls = computed.emit(audience.key, audience.members, now, first, at, addresses)
        self._commit(merchant_id, calls, at)
        audience.members, audience.last_ms = result.members, at_ms
        if scheduled:
            audience.next_ms += audience.every_ms
            self._reschedule()
        sync = {"merchant_id": merchant_id, "key": audience.key, "at": at}
        return {**sync, "entered": result.joined, "exited": result.left}, result.messages

    def _received(self, now: str | None) -> str:
        """Run the syncs due before this write; return its receive time (the lock is held)."""
        ms = self.clock.millis()
        if self._due is not None and self._due <= ms:
            self._run_due(ms, strict=False)
        return now or format_ms(ms)

    def _reschedule(self) -> None:
        """Note when the next sync of any merchant falls due."""
        self._due = min(
            (a.next_ms for m in self._merchants.values() for a in m.computed.values()),
            default=None,
        )

    def _run_due(self, until_ms: int, strict: bool) -> list[JSON]:
        """Run every sync due by until_ms, in time order, each at its own time.

        A sync the store has no room for stays due: strict raises the 507, otherwise the
        next write (which the full store refuses anyway) tries again. Without strict (real time
        caught up) one call runs at most MAX_SYNCS; the next request runs the rest.
        """
        ran: list[JSON] = []
        while self._due is not None and self._due <= until_ms:
            if not strict and len(ran) >= MAX_SYNCS:
                break
            at, merchant_id, key = min(
                (a.next_ms, mid, k)
                for mid, m in self._merchants.items()
                for k, a in m.computed.items()
            )
            audience = self._merchants[merchant_id].computed[key]
            try:
                sync, _ = self._sync(merchant_id, audience, at, scheduled=True)
            except EmulatorError:
                if strict:
                    raise
                break
            ran.append(sync)
        return ran

    def run_due(self) -> None:
        """Run the syncs that real time has made due (cheap when none is)."""
        due = self._due  # read without the lock: a stale value only defers the check
        if due is not None and due <= self.clock.millis():
            with self._lock:
                self._run_due(self.clock.millis(), strict=False)

    def move_clock(
        self, field: str, *, by: int | None = None, to: int | None = None
    ) -> tuple[JSON, list[JSON]]:
        """Move the clock forward by ms or to a time, and run every sync due by then, in order."""
        with self._lock:
            now = self.clock.millis()
            target_ms = now + by if by is not None else to
            assert target_ms is not None, "move the clock by a duration or to a time"
            if target_ms < now:
                raise EmulatorError(
                    "clock_backwards",
                    f"{field}: the clock is at {format_ms(now)} and only moves forward, so "
                    f"{format_ms(target_ms)} is refused; send a later time or a duration >= 0.",
                    field=field,
                )
            if target_ms > MAX_MS:
                raise EmulatorError(
                    "clock_out_of_range",
                    f"{field}: the clock cannot pass {format_ms(MAX_MS)}; move it less far.",
                    field=field,
                )
            count = sum(
                computed.due_count(a, target_ms)
                for m in self._merchants.values()
                for a in m.computed.values()
            )
            if count > MAX_SYNCS:
                raise EmulatorError(
                    "too_many_syncs",
                    f"{field}: moving the clock to {format_ms(target_ms)} would run {count} "
                    f"syncs, more than {MAX_SYNCS} at once; move it in smaller steps.",
                    field=field,
                )
            self.clock.move_to(target_ms)
            try:
                syncs = self._run_due(target_ms, strict=True)
            except EmulatorError as exc:
                raise EmulatorError(
                    exc.code,
                    f"The clock moved to {format_ms(target_ms)}, but a sync that fell due could "
                    f"not run and stays due: {exc.message}",
                    exc.status,
                ) from None
            return self.clock.to_json(), syncs
