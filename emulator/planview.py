"""A merchant view's tracking plan: load it, read its coverage, assert the calls conform."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emulator.apierrors import EmulatorAPIError
from emulator.calls import JSON
from emulator.planreport import describe


class PlanChecks:
    """The tracking plan methods of a merchant view (which sets client, id and _path)."""

    id: str
    _path: str

    def _plan_call(self, method: str, rest: str = "", body: Any = None) -> Any:
        return getattr(self, "client").request(method, f"{self._path}{rest}", body)  # noqa: B009

    def set_tracking_plan(self, plan: str | os.PathLike[str] | Mapping[str, Any]) -> JSON:
        """Give this merchant its own tracking plan (a plan document, or a JSON file's path)."""
        if isinstance(plan, Mapping):
            document: Any = dict(plan)
        else:
            document = json.loads(Path(plan).read_text(encoding="utf-8"))
        return self._plan_call("PUT", "/tracking-plan", document)  # type: ignore[no-any-return]

    def remove_tracking_plan(self) -> JSON:
        """Drop this merchant's own plan; the plan for every merchant, if any, applies again."""
        return self._plan_call("DELETE", "/tracking-plan")  # type: ignore[no-any-return]

    def tracking_plan_report(self) -> JSON | None:
        """Return the coverage report since this merchant's last reset, or None without a plan."""
        try:
            return self._plan_call("GET", "/tracking-plan/report")  # type: ignore[no-any-return]
        except EmulatorAPIError as exc:
            if exc.code == "tracking_plan_not_found":
                return None
            raise

    def assert_no_violations(self) -> JSON:
        """Fail, listing every violation by event and field, if a call broke the plan.

        Returns the report when there is none. Fails too when no plan applies to the merchant,
        since then nothing was checked.
        """
        __tracebackhide__ = True
        report = self.tracking_plan_report()
        if report is None:
            raise AssertionError(
                f"Merchant {self.id!r} has no tracking plan, so nothing was checked: start the "
                "emulator with --tracking-plan FILE (or --wishpond-tracking-plan FILE in "
                "pytest), or call set_tracking_plan() first."
            )
        if report["violations"]:
            events = self._plan_call("GET", "/events")["events"]
            raise AssertionError(describe(self.id, report, events))
        return report
