"""The app's fault rules, oldest first, behind one lock, with draws from one seeded generator."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable
from typing import Any

from emulator import faults
from emulator.calls import JSON
from emulator.clock import Clock
from emulator.errors import EmulatorError
from emulator.faults import Rule, Target, Verdict


class FaultBook:
    """Hold the fault rules; pick, for each surface call, the verdict of the rule that wins.

    Draws come from one generator seeded with `seed` (a random one when None), in the order
    calls consult the rules; a reset starts it again, so a run can be repeated.
    """

    def __init__(self, clock: Clock, seed: int | None = None) -> None:
        self.clock = clock
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self._random = random.Random(self.seed)
        self._rules: list[Rule] = []
        self._ids = itertools.count(1)  # never reused, not even after a reset
        self._lock = threading.Lock()
        # Called with export() after every change, under the lock (the data file keeps rules).
        self.on_change: Callable[[JSON], None] | None = None

    def add(self, doc: JSON) -> JSON:
        """Add a rule from a checked request; return it as the admin API shows it."""
        with self._lock:
            rule = faults.parse(doc, "", self.clock.now())
            rule.id = f"f{next(self._ids)}"  # numbered once it is known to be good
            self._rules.append(rule)
            self._changed()
            return rule.to_json()

    def rules(self) -> JSON:
        """Return every rule, oldest first, with the seed of the draws."""
        with self._lock:
            return {"faults": [r.to_json() for r in self._rules], "seed": self.seed}

    def remove(self, rule_id: str) -> JSON:
        """Remove one rule and return it, or raise a 404 naming the rules there are."""
        with self._lock:
            for i, rule in enumerate(self._rules):
                if rule.id == rule_id:
                    del self._rules[i]
                    self._changed()
                    return rule.to_json()
            held = ", ".join(r.id for r in self._rules) or "none"
        raise EmulatorError(
            "fault_not_found",
            f"There is no fault rule {rule_id[:100]!r} (rules now: {held}); list them with "
            "GET /_emulator/faults.",
            404,
        )

    def clear(self, reseed: bool = False) -> list[str]:
        """Remove every rule (reseed: start the draws again from the seed); return their ids."""
        with self._lock:
            removed = [r.id for r in self._rules]
            self._rules = []
            if reseed:
                self._random = random.Random(self.seed)
            self._changed()
            return removed

    @property
    def active(self) -> bool:
        """Return whether there are rules at all (read without the lock, on every call)."""
        return bool(self._rules)

    def pick(self, target: Target) -> Verdict | None:
        """Return what the rules do to one call: the first rule, oldest first, that faults it.

        A rule whose times are used up is passed over; one whose draw or rate-limit window
        lets the call through hands it to the next.
        """
        if not self._rules:  # the usual case, read without the lock
            return None
        now_ms = self.clock.millis()
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0 or not faults.covers(rule.match, target):
                    continue
                verdict, window = faults.decide(rule, target, now_ms, self._random.random)
                if window is not None:
                    rule.windows[target.merchant_id] = window
                if verdict is not None:
                    rule.hits += 1
                    self._changed()
                    return verdict
        return None

    def export(self) -> JSON:
        """Return the rules as a document the data file keeps (windows are not kept)."""
        rules = []
        for rule in self._rules:
            doc: dict[str, Any] = rule.to_json()
            del doc["remaining"]
            rules.append(doc)
        return {"rules": rules}

    def restore(self, doc: JSON) -> None:
        """Put back the rules of an export() document, as they were."""
        with self._lock:
            self._rules = [
                Rule(
                    r["id"],
                    r["match"],
                    r["action"],
                    r["times"],
                    r["probability"],
                    r["created_at"],
                    r["hits"],
                )
                for r in doc.get("rules", [])
            ]
            numbers = [int(r.id[1:]) for r in self._rules if r.id[1:].isdigit()]
            self._ids = itertools.count(max(numbers, default=0) + 1)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.export())
