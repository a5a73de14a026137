"""What one app holds: its settings, store and request journal."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.journal import Journal
from emulator.planbook import PlanBook
from emulator.settings import Settings
from emulator.store import Store


@dataclass
class Emulator:
    """The per-app state kept in app.extensions['wishpond_emulator']."""

    settings: Settings
    store: Store
    journal: Journal
    plans: PlanBook

    @classmethod
    def build(cls, settings: Settings) -> Emulator:
        """Make fresh, empty state for one app."""
        return cls(
            settings,
            Store(settings.max_events),
            Journal(settings.journal_size),
            PlanBook.from_settings(settings),
        )
