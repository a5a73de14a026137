"""What one app holds: settings, store (and its data file), journal, clock, Engage's scheduler,
faults."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from emulator.clock import Clock
from emulator.faultbook import FaultBook
from emulator.journal import Journal
from emulator.planbook import PlanBook
from emulator.scheduler import Scheduler
from emulator.settings import Settings
from emulator.store import Store


@dataclass
class Emulator:
    """The per-app state kept in app.extensions['wishpond_emulator']: one clock read by all."""

    settings: Settings
    store: Store
    journal: Journal
    clock: Clock
    scheduler: Scheduler
    plans: PlanBook
    faults: FaultBook

    @classmethod
    def build(cls, settings: Settings) -> Emulator:
        """Make fresh, empty state for one app, its clock at real time."""
        clock = Clock()
        store = Store(settings.max_events, clock)
        if settings.data_file:
            from emulator import datafile  # sqlite3 only when a data file is asked for

            datafile.open_into(store, settings.data_file, settings.data_sync)
        journal = Journal(settings.journal_size, settings.journal_max_bytes, clock)
        plans = PlanBook.from_settings(settings)
        faults = FaultBook(clock, settings.seed)
        # Fault rules and the plans put over HTTP survive a restart in the data file.
        kept = store.documents()
        if "faults" in kept:
            faults.restore(kept["faults"])
        if "tracking_plans" in kept:
            plans.restore(kept["tracking_plans"])
        faults.on_change = functools.partial(store.put_document, "faults")
        plans.on_change = functools.partial(store.put_document, "tracking_plans")
        scheduler = Scheduler(store, clock, plans)
        return cls(settings, store, journal, clock, scheduler, plans, faults)

    def close(self) -> None:
        """Release every long-poll, of the store and the journal: the server is stopping."""
        self.store.close()
        self.journal.close()
