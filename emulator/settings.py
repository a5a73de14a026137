"""Every setting of the emulator, in one frozen dataclass."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from emulator.errors import EmulatorError

ID_PATTERN = r"^[A-Za-z0-9._~-]{1,128}$"
_ID = re.compile(ID_PATTERN)
SEGMENT_RESPONSES = ("faithful", "strict")
DATA_SYNC = ("normal", "full")
IMPORT_MODES = ("replace", "merge")


@dataclass(frozen=True)
class Settings:
    """How one emulator app behaves; built from CLI flags or WISHPOND_EMULATOR_* variables."""

    host: str = "127.0.0.1"
    port: int = 9474
    # merchant id -> write key; empty means open mode.
    merchants: dict[str, str] = field(default_factory=dict)
    # Segment source write key -> merchant id.
    sources: dict[str, str] = field(default_factory=dict)
    max_events: int = 1_000_000
    journal_size: int = 10_000
    max_body_bytes: int = 1024 * 1024
    admin_token: str | None = None
    import_path: str | None = None
    export_on_exit: str | None = None
    # Each long-poll holds a worker while it waits; leave plenty for the writes it waits for.
    threads: int = 32
    # Longest long-poll a client may ask for, in seconds.
    max_wait: float = 60.0
    quiet: bool = False
    # How /v1 answers invalid messages: faithful drops them alone, as Segment does; strict
    # rejects the whole request.
    segment_responses: str = "faithful"
    # A SQLite file holding the state durably; None keeps it in memory only.
    data_file: str | None = None
    # normal survives a crash of the process; full survives losing power too.
    data_sync: str = "normal"
    # What --import does to a data file that holds data already: replace or merge.
    import_mode: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_events", "journal_size", "max_body_bytes", "threads"):
            if getattr(self, name) < 1:
                raise EmulatorError("invalid_setting", f"{_flag(name)} must be at least 1.")
        if self.max_wait < 0:
            raise EmulatorError(
                "invalid_setting", f"{_flag('max_wait')} must be 0 or more seconds."
            )
        if self.segment_responses not in SEGMENT_RESPONSES:
            raise EmulatorError(
                "invalid_setting",
                f"--segment-responses must be faithful or strict, got {self.segment_responses!r}.",
            )
        if self.data_sync not in DATA_SYNC:
            raise EmulatorError(
                "invalid_setting",
                f"--data-sync must be normal or full, got {self.data_sync!r}.",
            )
        if self.import_mode is not None and self.import_mode not in IMPORT_MODES:
            raise EmulatorError(
                "invalid_setting",
                f"--import-mode must be replace or merge, got {self.import_mode!r}.",
            )
        if self.import_mode is not None and not self.import_path:
            raise EmulatorError(
                "invalid_setting", "--import-mode says what --import does; add --import FILE."
            )
        for merchant_id in [*self.merchants, *self.sources.values()]:
            if not valid_id(merchant_id):
                raise EmulatorError(
                    "invalid_setting",
                    f"{merchant_id!r} is not a usable merchant id; use 1-128 letters, digits, "
                    "'.', '_', '~' or '-'.",
                )
        for key, merchant_id in self.sources.items():
            if self.merchants and merchant_id not in self.merchants:
                raise EmulatorError(
                    "invalid_setting",
                    f"--source {key}:{merchant_id} routes to a merchant that is not configured; "
                    f"add --merchant {merchant_id}:KEY.",
                )

    @property
    def strict(self) -> bool:
        """Return whether merchants are configured, so credentials are checked."""
        return bool(self.merchants)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def parse_pairs(values: list[str] | tuple[str, ...], what: str) -> dict[str, str]:
    """Parse 'A:B' items (each possibly comma-separated) into a dict."""
    out: dict[str, str] = {}
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            left, sep, right = item.partition(":")
            if not sep or not left or not right:
                raise EmulatorError(
                    "invalid_setting",
                    f"{what} expects ID:KEY pairs like 'm1:abc123', got {item!r}.",
                )
            out[left] = right
    return out


def valid_id(value: str) -> bool:
    """Return whether a merchant or lead-path id is usable in URLs."""
    return bool(_ID.fullmatch(value))
