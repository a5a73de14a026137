"""The store's records of computed audiences: definitions and sync results (Store mixes it in).

Plain data behind the store's lock: what Engage syncs and when is decided above the store.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from emulator import computed
from emulator.audience import Audience, Membership
from emulator.calls import JSON
from emulator.clock import Clock
from emulator.errors import EmulatorError
from emulator.model import Merchant
from emulator.store_durable import DurableRecords


class AudienceRecords(DurableRecords):
    """Keep each merchant's computed audiences, and when the next sync of any falls due."""

    clock: Clock
    _lock: threading.Lock
    _merchants: dict[str, Merchant]
    # When the next sync of any merchant falls due; read without the lock by who runs syncs.
    next_due: int | None = None

    def define_audience(self, merchant_id: str, key: str, body: Mapping[str, Any]) -> JSON:
        """Define or redefine a merchant's computed audience now; return it."""
        with self._writing():
            merchant = self._merchants.get(merchant_id)
            previous = merchant.computed.get(key) if merchant is not None else None
            audience = computed.define(key, body, self.clock.millis(), previous)
            if merchant is None:
                merchant = self._merchants[merchant_id] = Merchant(merchant_id)
            merchant.computed[key] = audience
            self._record_audiences(merchant_id)
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
        with self._writing():
            audience = self._audience(merchant_id, key)
            del self._merchants[merchant_id].computed[key]
            self._record_audiences(merchant_id)
            self._reschedule()
            return audience.to_json()

    def membership(self, merchant_id: str, key: str, at_ms: int) -> Membership:
        """Return what a sync of the computed audience at at_ms diffs, or raise a 404."""
        with self._lock:
            audience = self._audience(merchant_id, key)
            return computed.membership(self._merchants[merchant_id], audience, at_ms)

    def due_membership(self, until_ms: int) -> Membership | None:
        """Return what the earliest sync due by until_ms diffs, at its own time, or None."""
        with self._lock:
            if self.next_due is None or self.next_due > until_ms:
                return None
            at_ms, merchant_id, key = min(
                (a.next_ms, mid, k)
                for mid, m in self._merchants.items()
                for k, a in m.computed.items()
            )
            merchant = self._merchants[merchant_id]
            return computed.membership(merchant, merchant.computed[key], at_ms)

    def given_membership(
        self, merchant_id: str, key: str, members: Sequence[str], at_ms: int
    ) -> Membership:
        """Return what a sync of an audience to these members diffs: the leads' audiences."""
        with self._lock:
            merchant = self._merchants.get(merchant_id)
            return computed.given(merchant_id, merchant, key, members, at_ms)

    def record_sync(self, sync: Membership, members: Sequence[str], scheduled: bool) -> None:
        """Note a computed audience's sync: its members then, and (if scheduled) the next one.

        An audience gone since (its merchant reset) records nothing.
        """
        with self._writing():
            merchant = self._merchants.get(sync.merchant_id)
            audience = merchant.computed.get(sync.key) if merchant is not None else None
            if audience is None:
                return
            audience.members, audience.last_ms = list(members), sync.at_ms
            if scheduled:
                audience.next_ms += audience.every_ms
                self._reschedule()
            self._record_audiences(sync.merchant_id)

    def due_count(self, until_ms: int) -> int:
        """Return how many scheduled syncs of every merchant fall due by until_ms."""
        with self._lock:
            return sum(
                computed.due_count(a, until_ms)
                for m in self._merchants.values()
                for a in m.computed.values()
            )

    def _audience(self, merchant_id: str, key: str) -> Audience:
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

    def _reschedule(self) -> None:
        """Note when the next sync of any merchant falls due (the lock is held)."""
        self.next_due = min(
            (a.next_ms for m in self._merchants.values() for a in m.computed.values()),
            default=None,
        )
