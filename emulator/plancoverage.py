"""The pytest plugin's tracking plan coverage: gathered from the emulator, printed, written.

The emulator counts each merchant's calls since it started, whatever the resets between tests,
so the in-process server's coverage is read once, before it stops; against a shared server
(--wishpond-url) the session's own merchants (wishpond_merchant) are read since their reset.
Under pytest-xdist each worker hands its reports to the controller, which merges them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.apierrors import EmulatorAPIError, EmulatorUnreachable
from emulator.calls import JSON
from emulator.client import EmulatorClient
from emulator.planreport import junit, merge, text

WORKER_KEY = "wishpond_plan_reports"
NAME = "wishpond-plan-coverage"


class PlanCoverage:
    """Collect the session's plan reports, then print them and write the JUnit file."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.reports: list[JSON] = []
        # The merchants the session made on a shared server, whose reports it owns.
        self.merchants: set[str] = set()

    def gather(self, client: EmulatorClient, owned: bool) -> None:
        """Read the reports of this session's merchants from the emulator before it goes."""
        since = "start" if owned else "reset"
        try:
            found = client.request(
                "GET", "/_emulator/tracking-plans/reports", query={"since": since}
            )
        except (EmulatorAPIError, EmulatorUnreachable):
            return  # an emulator without tracking plans, or gone: nothing to report
        reports = found.get("reports", [])
        if not owned:
            reports = [r for r in reports if r.get("merchant_id") in self.merchants]
        self.reports.extend(reports)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """Take the reports a pytest-xdist worker gathered."""
        raw = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if raw:
            self.reports.extend(json.loads(raw))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Hand the reports to the controller (a worker), or write the JUnit file."""
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKER_KEY] = json.dumps(self.reports)
            return
        path = self.config.getoption("wishpond_plan_report")
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(junit(merge(self.reports)))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print each plan's coverage over the session's merchants."""
        if getattr(self.config, "workeroutput", None) is not None or not self.reports:
            return
        terminalreporter.write_sep("=", "wishpond-emulator tracking plan coverage")
        for line in text(merge(self.reports)):
            terminalreporter.write_line(line)
        path = self.config.getoption("wishpond_plan_report")
        if path:
            terminalreporter.write_line(f"JUnit XML of the coverage: {path}")
