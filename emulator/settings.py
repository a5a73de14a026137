"""Every setting of the emulator, in one frozen dataclass."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from emulator.errors import EmulatorError

# "." and ".." would be removed from any URL path that names them, so they are never ids.
ID_PATTERN = r"^(?!\.{1,2}$)[A-Za-z0-9._~-]{1,128}$"
_ID = re.compile(ID_PATTERN)
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$"
)
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
    # Worker threads for everything but long-polls, which park on threads of their own.
    threads: int = 32
    # Longest long-poll a client may ask for, in seconds.
    max_wait: float = 60.0
    quiet: bool = False
    # Host names the admin API and dashboard answer besides loopback ones; "*" allows any.
    allowed_hosts: tuple[str, ...] = ()
    journal_max_bytes: int = 64 * 1024 * 1024
    journal_body_bytes: int = 16 * 1024
    # How /v1 answers invalid messages: faithful drops them alone, as Segment does; strict
    # rejects the whole request.
    segment_responses: str = "faithful"
    # Tracking plan files: "FILE" applies to every merchant, "MERCHANT=FILE" to one.
    tracking_plans: tuple[str, ...] = ()
    # Seed of the fault rules' probability draws; None picks one (GET /_emulator/faults shows it).
    seed: int | None = None
    # A SQLite file holding the state durably; None keeps it in memory only.
    data_file: str | None = None
    # normal survives a crash of the process; full survives losing power too.
    data_sync: str = "normal"
    # What --import does to a data file that holds data already: replace or merge.
    import_mode: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracking_plans", tuple(self.tracking_plans))
        tracking_plan_files(self.tracking_plans)
        for name in (
            "max_events",
            "journal_size",
            "max_body_bytes",
            "threads",
            "journal_max_bytes",
        ):
            if getattr(self, name) < 1:
                raise EmulatorError("invalid_setting", f"{_flag(name)} must be at least 1.")
        if self.journal_body_bytes < 0:
            raise EmulatorError(
                "invalid_setting", "--journal-body-bytes must be 0 (keep no body) or more."
            )
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise EmulatorError(
                "invalid_setting", "--seed must be a whole number from 0 to 4294967295."
            )
        if self.max_wait < 0:
            raise EmulatorError(
                "invalid_setting", f"{_flag('max_wait')} must be 0 or more seconds."
            )
        if not 0 <= self.port <= 65535:
            raise EmulatorError(
                "invalid_setting",
                f"--port {self.port} is out of range; use a port from 1 to 65535 (0 picks a "
                "free one).",
            )
        if not valid_host(self.host):
            raise EmulatorError(
                "invalid_setting",
                f"--host {self.host!r} is not an IP address or host name; use 127.0.0.1 (this "
                "machine only) or 0.0.0.0 (every interface).",
            )
        if self.admin_token is not None and not self.admin_token.strip():
            raise EmulatorError(
                "invalid_setting",
                "--admin-token is empty, which would leave the admin API open; give a token, "
                "or leave the option out.",
            )
        for name in self.allowed_hosts:
            if name != "*" and not valid_host(name.strip("[]")):
                raise EmulatorError(
                    "invalid_setting",
                    f"--allowed-host {name!r} is not a host name; give a name like "
                    "emulator.test (no scheme, port or path), or * for any.",
                )
        if self.segment_responses not in SEGMENT_RESPONSES:
            raise EmulatorError(
                "invalid_setting",
                f"--segment-responses must be faithful or strict, got {self.segment_responses!r}.",
            )
        if self.data_file is not None and not self.data_file.strip():
            raise EmulatorError(
                "invalid_setting", "--data-file is empty; name a file, or leave the option out."
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


def split_list(values: list[str] | tuple[str, ...]) -> list[str]:
    """Return the items of repeated, possibly comma-separated values, blanks left out."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def parse_pairs(
    values: list[str] | tuple[str, ...], what: str, form: str = "ID:KEY", example: str = "m1:abc123"
) -> dict[str, str]:
    """Parse 'A:B' items (each possibly comma-separated) into a dict."""
    out: dict[str, str] = {}
    for item in split_list(values):
        left, sep, right = item.partition(":")
        if not sep or not left or not right:
            raise EmulatorError(
                "invalid_setting", f"{what} expects {form} pairs like {example!r}, got {item!r}."
            )
        out[left] = right
    return out


def tracking_plan_files(specs: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """Split --tracking-plan values into the plan for all merchants and those for one each.

    "MERCHANT=FILE" names a merchant when MERCHANT is a usable merchant id; anything else is a
    FILE for every merchant (write ./a=b.json for a file whose name looks like that).
    """
    every: str | None = None
    own: dict[str, str] = {}
    for spec in specs:
        left, sep, right = spec.partition("=")
        if sep and valid_id(left) and right:
            if left in own:
                raise EmulatorError(
                    "invalid_setting",
                    f"--tracking-plan names merchant {left!r} twice; give each merchant one plan.",
                )
            own[left] = right
        elif not spec:
            raise EmulatorError(
                "invalid_setting", "--tracking-plan expects FILE or MERCHANT=FILE, got ''."
            )
        elif every is not None:
            raise EmulatorError(
                "invalid_setting",
                f"--tracking-plan gives two plans for every merchant ({every!r} and {spec!r}); "
                "give one, and MERCHANT=FILE for a merchant's own.",
            )
        else:
            every = spec
    return every, own


def valid_id(value: str) -> bool:
    """Return whether a merchant or lead-path id is usable in URLs."""
    return bool(_ID.fullmatch(value))


def valid_host(value: str) -> bool:
    """Return whether value is an IP address or a well-formed host name."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    # All digits and dots is an IPv4 address or nothing: 999.1.1.1 is no name.
    return not re.fullmatch(r"[0-9.]+", value) and bool(_HOST_NAME.fullmatch(value))
