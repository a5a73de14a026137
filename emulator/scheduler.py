"""Engage, the outside system: it syncs audiences on the clock and sends Wishpond identifies.

It sits above the store, as a surface does: a sync reads plain data from the store, builds
Engage's messages, maps them as Segment's are (§4.3), and delivers the calls.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from emulator import engage, ingest
from emulator.audience import Membership
from emulator.calls import JSON, Call
from emulator.clock import MAX_MS, Clock, format_ms
from emulator.errors import EmulatorError
from emulator.planbook import PlanBook
from emulator.plans import Plan as TrackingPlan
from emulator.store import Store


def _engage_plan(
    messages: Sequence[JSON], at: str, tracking: TrackingPlan | None = None
) -> ingest.Plan:
    """Map Engage's identifies to calls at their time, each checked against the tracking plan."""
    out = ingest.Plan(len(messages))
    for index, message in enumerate(messages):
        call = ingest.to_call(message, at)
        if not isinstance(call, Call):
            continue
        if tracking is not None and out.check(index, message, tracking, call):
            continue
        out.entries.append(call)
        out.indexes.append(index)
    return out


# One POST /_emulator/clock runs at most this many syncs; advance in steps beyond it.
MAX_SYNCS = 10_000


class Scheduler:
    """Define computed audiences, run their syncs when they fall due, and move the clock."""

    def __init__(self, store: Store, clock: Clock, plans: PlanBook | None = None) -> None:
        self.store = store
        self.clock = clock
        # The merchants' tracking plans, which Engage's identifies are checked against.
        self.plans = plans or PlanBook()
        # One sync at a time, so that two never diff the same members.
        self._lock = threading.Lock()

    # -- definitions ----------------------------------------------------------

    def define(self, merchant_id: str, key: str, body: Mapping[str, Any]) -> JSON:
        """Define or redefine a merchant's computed audience; return it."""
        with self._lock:
            return self.store.define_audience(merchant_id, key, body)

    def audiences(self, merchant_id: str) -> list[JSON]:
        """Return a merchant's computed audiences in definition order."""
        return self.store.computed_audiences(merchant_id)

    def audience(self, merchant_id: str, key: str) -> JSON:
        """Return one computed audience, or raise a 404."""
        return self.store.computed_audience(merchant_id, key)

    def delete(self, merchant_id: str, key: str) -> JSON:
        """Remove a computed audience (its members keep what they were sent); return it."""
        with self._lock:
            return self.store.delete_audience(merchant_id, key)

    # -- syncs ----------------------------------------------------------------

    def sync(self, merchant_id: str, key: str) -> tuple[JSON, list[JSON]]:
        """Run one computed audience's sync now, off its schedule; return it and its calls."""
        with self._lock:
            return self._sync(self.store.membership(merchant_id, key, self.clock.millis()), False)

    def sync_members(self, merchant_id: str, key: str, members: Sequence[str]) -> engage.Sync:
        """Sync an audience to a given member list now, diffed against the leads' audiences."""
        with self._lock:
            given = self.store.given_membership(merchant_id, key, members, self.clock.millis())
            return self._send(given)

    def _send(self, sync: Membership) -> engage.Sync:
        """Send Engage's identifies for who entered and left, mapped, at the sync's time."""
        at = format_ms(sync.at_ms)
        result = engage.sync(sync.key, sync.previous, sync.members, sync.first, at, sync.emails)
        tracking = self.plans.plan_for(sync.merchant_id)
        plan = _engage_plan(result.messages, at, tracking)
        repeats = self.store.deliver(sync.merchant_id, plan.entries, now=at)
        if tracking is not None:
            result.skipped = plan.skipped
            result.violations, checked = plan.verdicts(repeats)
            self.plans.record(sync.merchant_id, tracking, checked)
        return result

    def _sync(self, sync: Membership, scheduled: bool) -> tuple[JSON, list[JSON]]:
        """Run a computed audience's sync and note its members (the lock is held)."""
        result = self._send(sync)
        self.store.record_sync(sync, result.members, scheduled)
        at = {"merchant_id": sync.merchant_id, "key": sync.key, "at": format_ms(sync.at_ms)}
        return {**at, "entered": result.joined, "exited": result.left}, result.messages

    def _run_due(self, until_ms: int, strict: bool) -> list[JSON]:
        """Run every sync due by until_ms, in time order, each at its own time (the lock is held).

        A sync the store has no room for stays due: strict raises the 507, otherwise the
        next request tries again. Without strict (real time caught up) one call runs at most
        MAX_SYNCS; the next request runs the rest.
        """
        ran: list[JSON] = []
        while strict or len(ran) < MAX_SYNCS:
            due = self.store.due_membership(until_ms)
            if due is None:
                break
            try:
                sync, _ = self._sync(due, scheduled=True)
            except EmulatorError:
                if strict:
                    raise
                break
            ran.append(sync)
        return ran

    def run_due(self) -> None:
        """Run the syncs that real time has made due (cheap when none is)."""
        due = self.store.next_due  # read without a lock: a stale value only defers the check
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
            count = self.store.due_count(target_ms)
            if count > MAX_SYNCS:
                raise EmulatorError(
                    "too_many_syncs",
                    f"{field}: moving the clock to {format_ms(target_ms)} would run {count} "
                    f"syncs, more than {MAX_SYNCS} at once; move it in smaller steps.",
                    field=field,
                )
            # An advance grows the offset by exactly its duration, however long this took.
            if by is not None:
                self.clock.advance(by)
            else:
                self.clock.move_to(target_ms)
            self.store.note_clock()
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
