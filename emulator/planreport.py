"""Tracking plan reports of a test run: merged per plan, as text and as JUnit XML (pure)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.calls import JSON
from emulator.plans import KINDS

SHOWN_MERCHANTS = 5
SHOWN_EXAMPLES = 10


@dataclass
class Coverage:
    """One plan's coverage over every merchant of a run that used it."""

    plan: str | None
    planned: list[str]
    merchants: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    unplanned: set[str] = field(default_factory=set)
    violations: dict[tuple[str, str, str], int] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """Return how the plan is named: its name, or that it has none."""
        return f"tracking plan {self.plan!r}" if self.plan is not None else "unnamed tracking plan"

    @property
    def unseen(self) -> list[str]:
        """Return the planned events no merchant received."""
        return [name for name in self.planned if name not in self.seen]


def merge(reports: Iterable[Mapping[str, Any]]) -> list[Coverage]:
    """Merge per-merchant reports into one coverage per plan (its name and planned events)."""
    out: dict[tuple[str | None, tuple[str, ...]], Coverage] = {}
    for report in reports:
        planned = report.get("planned") or sorted(report["planned_seen"] + report["planned_unseen"])
        key = (report["plan"], tuple(sorted(planned)))
        found = out.get(key)
        if found is None:
            found = out[key] = Coverage(report["plan"], list(planned))
        merchant = report.get("merchant_id")
        if merchant is not None and merchant not in found.merchants:
            found.merchants.append(merchant)
        found.seen.update(report["planned_seen"])
        found.unplanned.update(report["unplanned_seen"])
        for v in report["violations"]:
            triple = (v["event"], v["kind"], v["field"])
            found.violations[triple] = found.violations.get(triple, 0) + v["count"]
    return sorted(out.values(), key=lambda c: (c.plan or "", sorted(c.planned)))


def _who(merchants: Sequence[str]) -> str:
    if len(merchants) == 1:
        return f"merchant {merchants[0]!r}"
    shown = ", ".join(merchants[:SHOWN_MERCHANTS])
    more = len(merchants) - SHOWN_MERCHANTS
    return f"{len(merchants)} merchants ({shown}{f', +{more} more' if more > 0 else ''})"


def violation_lines(violations: Mapping[tuple[str, str, str], int]) -> list[str]:
    """Return one line per (event, kind, field) with its count, kinds in their order."""
    order = {k: i for i, k in enumerate(KINDS)}
    ranked = sorted(
        violations.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99), kv[0][2])
    )
    return [
        f"{event!r}: {kind} {field_name} x{count}" for (event, kind, field_name), count in ranked
    ]


def text(coverages: Sequence[Coverage]) -> list[str]:
    """Return the terminal summary: per plan, what was seen, never seen, unplanned, broken."""
    lines = []
    for c in coverages:
        seen = len(c.planned) - len(c.unseen)
        lines.append(
            f"{c.title} over {_who(c.merchants)}: {seen} of {len(c.planned)} planned events seen"
        )
        if c.unseen:
            lines.append("  never seen: " + ", ".join(repr(n) for n in c.unseen))
        if c.unplanned:
            lines.append("  unplanned: " + ", ".join(repr(n) for n in sorted(c.unplanned)))
        if c.violations:
            total = sum(c.violations.values())
            lines.append(f"  violations ({total}):")
            lines += ["    " + line for line in violation_lines(c.violations)]
        else:
            lines.append("  no violations")
    return lines


def junit(coverages: Sequence[Coverage]) -> bytes:
    """Return JUnit XML: per plan a suite, a case per planned event and per violation kind."""
    root = ET.Element("testsuites", name="wishpond-emulator tracking plans")
    for c in coverages:
        suite = ET.SubElement(root, "testsuite", name=c.title)
        cases = failures = 0
        classname = "tracking-plan." + (c.plan or "unnamed")
        for name in c.planned:
            case = ET.SubElement(suite, "testcase", classname=classname, name=f"planned: {name}")
            cases += 1
            if name not in c.seen:
                failures += 1
                ET.SubElement(
                    case, "failure", message=f"{name!r} was never received"
                ).text = f"No merchant of the run ({', '.join(c.merchants)}) received {name!r}."
        for kind in KINDS:
            found = {k: n for k, n in c.violations.items() if k[1] == kind}
            case = ET.SubElement(suite, "testcase", classname=classname, name=f"violations: {kind}")
            cases += 1
            if found:
                failures += 1
                count = sum(found.values())
                ET.SubElement(
                    case, "failure", message=f"{count} {kind} violation(s)"
                ).text = "\n".join(violation_lines(found))
        suite.set("tests", str(cases))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def describe(merchant_id: str, report: Mapping[str, Any], events: Sequence[JSON]) -> str:
    """Explain a merchant's violations: the counts by event and field, then example events."""
    counts = {(v["event"], v["kind"], v["field"]): v["count"] for v in report["violations"]}
    total = sum(counts.values())
    plan = report["plan"]
    lines = [
        f"Merchant {merchant_id!r}: {total} violation(s) of "
        + (f"tracking plan {plan!r}" if plan is not None else "its tracking plan")
        + " since its last reset:"
    ]
    lines += ["  " + line for line in violation_lines(counts)]
    shown = [e for e in events if e.get("violations")][:SHOWN_EXAMPLES]
    if shown:
        lines.append("  in these events:")
    for e in shown:
        what = f"track {e['event']!r}" if e["type"] == "track" else e["type"]
        who = f"lead {e['lead_id']!r}" if e.get("lead_id") else f"visitor {e['anonymous_id']!r}"
        for v in e["violations"]:
            lines.append(
                f"    seq {e['seq']} {what} ({who}): {v['kind']} {v['field']}: {v['message']}"
            )
    applied = sum(len(e["violations"]) for e in events if e.get("violations"))
    if applied < total:
        lines.append(
            f"  {total - applied} more in calls that were not applied (blocked by the plan's "
            "settings.block): see the request journal"
        )
    return "\n".join(lines)
