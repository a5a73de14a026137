"""Wishpond emulator: a local, stateful fake of Wishpond's marketing tracker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__version__ = "0.1.0"


def create_app(settings: Any = None) -> Flask:
    """Build one isolated emulator app with its own store."""
    # Imported here so `wishpond-emulator ready` (a container health check) never loads Flask.
    from emulator.app import build

    return build(settings)
