"""What one app holds: its settings, store and request journal."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.journal import Journal
from emulator.settings import Settings
from emulator.store import Store


@dataclass
class Emulator:
    """The per-app state kept in app.extensions['wishpond_emulator']."""

    settings: Settings
    store: Store
    journal: Journal

    @classmethod
    def build(cls, settings: Settings) -> Emulator:
        """Make fresh, empty state for one app."""
        journal = Journal(settings.journal_size, settings.journal_max_bytes)
        return cls(settings, Store(settings.max_events), journal)

    def close(self) -> None:
        """Release every long-poll, of the store and the journal: the server is stopping."""
        self.store.close()
        self.journal.close()
