"""Every merchant's tracking plan and its coverage counters, behind one lock.

A merchant's own plan replaces the plan for every merchant; resets keep plans, as they keep
merchants and sources. Coverage is counted per merchant twice: since the merchant's last reset
(what GET .../tracking-plan/report shows) and since the emulator started (for a test session
that resets between tests). The counters hold one entry per event name and per (event, kind,
field), so a report costs the size of the plan and of what was seen, never a scan of events.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emulator import plans
from emulator.calls import JSON
from emulator.errors import EmulatorError
from emulator.plans import Checked, Plan
from emulator.settings import Settings, tracking_plan_files

SINCE = ("reset", "start")


@dataclass
class Tally:
    """What one merchant's calls did against its plan: names seen, violations found."""

    plan: Plan | None = None  # the plan they were last checked against
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    violations: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def add(self, plan: Plan, checked: Iterable[Checked]) -> None:
        """Count checked calls and their violations."""
        self.plan = plan
        seen, found = self.seen, self.violations
        for label, violations in checked:
            seen[label] = seen.get(label, 0) + 1
            for v in violations:
                key = (label[1], v["kind"], v["field"])
                found[key] = found.get(key, 0) + 1


def report(plan: Plan, tally: Tally | None) -> JSON:
    """Return a plan's coverage by a tally: planned events seen and unseen, unplanned, counts."""
    tally = tally or Tally()
    planned = set(plan.planned)
    order = {k: i for i, k in enumerate(plans.KINDS)}
    return {
        "plan": plan.name,
        "planned_seen": [name for (kind, name) in plan.planned if (kind, name) in tally.seen],
        "planned_unseen": [name for (kind, name) in plan.planned if (kind, name) not in tally.seen],
        "unplanned_seen": sorted(
            name for (kind, name) in tally.seen if kind == "track" and (kind, name) not in planned
        ),
        "violations": [
            {"event": event, "kind": kind, "field": field_name, "count": count}
            for (event, kind, field_name), count in sorted(
                tally.violations.items(), key=lambda kv: (kv[0][0], order[kv[0][1]], kv[0][2])
            )
        ],
    }


def load_file(path: str, merchant_id: str | None = None) -> Plan:
    """Read and compile a plan file; its name defaults to the file's stem."""
    flag = f"--tracking-plan {merchant_id + '=' if merchant_id else ''}{path}"
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise EmulatorError(
            "invalid_setting",
            f"{flag}: cannot read it: {exc.strerror}; name a readable plan file.",
        ) from None
    except ValueError as exc:
        raise EmulatorError(
            "invalid_setting",
            f"{flag}: not valid JSON: {exc}; fix the file so it holds the plan as JSON.",
        ) from None
    try:
        return plans.parse(document, default_name=Path(path).stem)
    except EmulatorError as exc:
        raise EmulatorError("invalid_setting", f"{flag}: {exc.message}") from None


class PlanBook:
    """The plans of one app and the coverage counters of every merchant."""

    def __init__(self, every: Plan | None = None, own: dict[str, Plan] | None = None) -> None:
        self._lock = threading.Lock()
        self._every = every
        self._own = dict(own or {})
        self._tallies: dict[str, dict[str, Tally]] = {since: {} for since in SINCE}
        # What the admin API did to merchants' own plans: a plan's document, or None when
        # removed. The data file keeps it, so those plans survive a restart.
        self._changes: dict[str, JSON | None] = {}
        # Called with changes() after every put or remove (outside the lock).
        self.on_change: Callable[[JSON], None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PlanBook:
        """Load the plan files the settings name (--tracking-plan)."""
        every, own = tracking_plan_files(settings.tracking_plans)
        return cls(
            load_file(every) if every else None,
            {m: load_file(path, m) for m, path in own.items()},
        )

    # -- plans -----------------------------------------------------------------

    def plan_for(self, merchant_id: str) -> Plan | None:
        """Return the plan that applies to a merchant: its own, else the one for all, or None."""
        with self._lock:
            return self._own.get(merchant_id, self._every)

    def scope(self, merchant_id: str) -> tuple[str | None, Plan | None]:
        """Return where the merchant's plan comes from ("merchant" or "all") and the plan."""
        with self._lock:
            if merchant_id in self._own:
                return "merchant", self._own[merchant_id]
            return ("all", self._every) if self._every is not None else (None, None)

    def put(self, merchant_id: str, plan: Plan) -> None:
        """Give a merchant its own plan, replacing any other for it."""
        with self._lock:
            self._own[merchant_id] = plan
            self._changes[merchant_id] = plan.document
        self._changed()

    def remove(self, merchant_id: str) -> bool:
        """Drop a merchant's own plan (the plan for all applies again); say if it had one."""
        with self._lock:
            had = self._own.pop(merchant_id, None) is not None
            self._changes[merchant_id] = None
        self._changed()
        return had

    def changes(self) -> JSON:
        """Return what the admin API did to merchants' own plans, as the data file keeps it."""
        with self._lock:
            return dict(self._changes)

    def restore(self, changes: JSON) -> None:
        """Redo the admin API's puts and removes of a changes() document, after the files'."""
        parsed = {m: None if doc is None else plans.parse(doc) for m, doc in changes.items()}
        with self._lock:
            for merchant_id, plan in parsed.items():
                if plan is None:
                    self._own.pop(merchant_id, None)
                else:
                    self._own[merchant_id] = plan
            self._changes = dict(changes)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.changes())

    # -- coverage ----------------------------------------------------------------

    def record(self, merchant_id: str, plan: Plan, checked: Sequence[Checked]) -> None:
        """Count the calls a surface checked against the merchant's plan."""
        if not checked:
            return
        with self._lock:
            for tallies in self._tallies.values():
                tally = tallies.get(merchant_id)
                if tally is None:
                    tally = tallies[merchant_id] = Tally()
                tally.add(plan, checked)

    def forget(self, merchant_id: str) -> None:
        """Start a merchant's since-reset counts again, as a reset of that merchant does."""
        with self._lock:
            self._tallies["reset"].pop(merchant_id, None)

    def clear(self) -> None:
        """Start every merchant's since-reset counts again, as a full reset does."""
        with self._lock:
            self._tallies["reset"].clear()

    def report(self, merchant_id: str, since: str = "reset") -> JSON | None:
        """Return a merchant's coverage report, or None when no plan applies or applied."""
        with self._lock:
            tally = self._tallies[since].get(merchant_id)
            plan = self._own.get(merchant_id, self._every) or (tally.plan if tally else None)
            return None if plan is None else report(plan, tally)

    def reports(self, since: str = "reset") -> list[JSON]:
        """Return the report of every merchant whose calls were checked, by merchant id."""
        with self._lock:
            tallies = self._tallies[since]
            out = []
            for merchant_id in sorted(tallies):
                tally = tallies[merchant_id]
                plan = self._own.get(merchant_id, self._every) or tally.plan
                assert plan is not None
                planned = [name for _, name in plan.planned]
                out.append({"merchant_id": merchant_id, "planned": planned, **report(plan, tally)})
            return out
