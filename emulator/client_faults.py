"""A fault rule added from a test: a context manager that removes it on exit, and shows hits."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol

from emulator.apierrors import EmulatorAPIError
from emulator.calls import JSON


class Client(Protocol):
    """What a fault rule needs of the client that added it."""

    def request(self, method: str, path: str, body: Any = None) -> Any: ...


def add_fault(
    client: Client,
    match: Mapping[str, Any] | None,
    action: Mapping[str, Any] | None,
    times: int | None,
    probability: float | None,
) -> FaultRule:
    """Add a rule (POST /_emulator/faults) and return it."""
    body: JSON = {"match": dict(match or {}), "action": dict(action or {})}
    if times is not None:
        body["times"] = times
    if probability is not None:
        body["probability"] = probability
    return FaultRule(client, client.request("POST", "/_emulator/faults", body)["fault"])


class FaultRule:
    """One rule on the emulator (POST /_emulator/faults); `with` removes it at the end.

    `hits` and `remaining` are read from the emulator while the rule is there, and are the
    final counts once it has been removed.
    """

    def __init__(self, client: Client, rule: JSON) -> None:
        self.client = client
        self.id: str = rule["id"]
        self.rule = rule
        self.removed = False

    def __repr__(self) -> str:
        return f"FaultRule({self.id!r}, hits={self.rule['hits']}, removed={self.removed})"

    def __enter__(self) -> FaultRule:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()

    def refresh(self) -> JSON:
        """Return the rule as the emulator has it now (as last seen, once removed)."""
        if not self.removed:
            found = self.client.request("GET", "/_emulator/faults")["faults"]
            current = next((r for r in found if r["id"] == self.id), None)
            if current is None:  # removed by someone else: a reset, DELETE /_emulator/faults
                self.removed = True
            else:
                self.rule = current
        return self.rule

    @property
    def hits(self) -> int:
        """Return how many calls the rule has answered."""
        return int(self.refresh()["hits"])

    @property
    def remaining(self) -> int | None:
        """Return how many more calls it will answer (None without times; 0 once removed)."""
        return 0 if self.removed else self.refresh()["remaining"]

    def remove(self) -> None:
        """Remove the rule now, keeping its final counts; removing it twice is harmless."""
        if self.removed:
            return
        path = "/_emulator/faults/" + urllib.parse.quote(self.id, safe="")
        try:
            self.rule = self.client.request("DELETE", path)["fault"]
        except EmulatorAPIError as exc:
            if exc.status != 404:
                raise
        self.removed = True
