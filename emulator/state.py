"""What one app holds: settings, store (and its data file), journal, clock, Engage's scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.clock import Clock
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
        return cls(settings, store, journal, clock, Scheduler(store, clock, plans), plans)

    def close(self) -> None:
        """Release every long-poll, of the store and the journal: the server is stopping."""
        self.store.close()
        self.journal.close()
