"""Tracking plans: a Segment Protocols plan read and compiled once, and calls checked (pure).

The plan is the JSON of Segment's Public API: rules `{type, key, version, jsonSchema}`, a
`name` and `settings.block`, or the API's answer `{"data": {"rules": [...]}}`. A TRACK rule's
schema describes the whole Segment message (its `properties.properties` are the event's
properties), the IDENTIFY rule's `properties.traits` the traits, and COMMON applies to both.
A call is checked as the Segment message the app sent, before the destination's mapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import contract
from emulator.calls import JSON
from emulator.errors import EmulatorError
from emulator.planschema import NO_VIOLATIONS, RuleSchema, Violation, schema_problem

RULE_TYPES = ("TRACK", "IDENTIFY", "COMMON", "PAGE", "SCREEN", "GROUP")  # Segment's RuleV1
KINDS = contract.enum("violation_kind")
IDENTIFY = "identify"  # how the IDENTIFY rule and identify calls are named in reports
UNPLANNED = "unplanned_event"
MAX_RULES = 2_000
# What a surface hands the plan book for each call it checked: its (type, name), violations.
Checked = tuple[tuple[str, str], Sequence[Violation]]
__all__ = ["KINDS", "NO_VIOLATIONS", "Checked", "Plan", "Violation", "parse"]


def _refuse(field_name: str, problem: str, rule: str = "") -> EmulatorError:
    """Return the 400 for a plan that is not valid: the rule, the field, what to change."""
    where = f"{rule} at {field_name}" if rule else field_name
    return EmulatorError(
        "invalid_tracking_plan",
        f"The tracking plan is not valid: {where}: {problem}.",
        field=field_name,
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


@dataclass(frozen=True)
class Rule:
    """One compiled rule of a plan."""

    type: str
    key: str | None
    version: int
    schema: RuleSchema


@dataclass(frozen=True)
class Plan:
    """A parsed and compiled plan: its rules by event, what it blocks, its document."""

    name: str | None
    document: JSON
    track: Mapping[str, Mapping[int, Rule]]
    identify: Rule | None
    common: Rule | None
    block: frozenset[str]
    # (type, name) of every planned call in rule order: ("track", key) and ("identify", IDENTIFY).
    planned: tuple[tuple[str, str], ...] = field(default=())
    # The rule of each event that has one version: most events, found with one look-up.
    only: Mapping[str, Rule] = field(default_factory=dict)

    def check(self, message: Mapping[str, Any]) -> tuple[Violation, ...]:
        """Return the violations of one identify or track message (Segment's shape)."""
        if message.get("type") == "identify":
            own = self.identify.schema.violations(message) if self.identify else NO_VIOLATIONS
        else:
            event = message.get("event")
            rule = self.only.get(event)  # type: ignore[arg-type]
            if rule is None:
                versions = self.track.get(event)  # type: ignore[arg-type]
                if versions is None:
                    said = f"{_shown(event)} is not in the tracking plan"
                    unplanned = {"kind": UNPLANNED, "field": "event", "message": said}
                    return (unplanned, *self._common(message, ()))
                rule = _pick(versions, message)
            own = rule.schema.violations(message)
        return self._common(message, own) if self.common else own

    def _common(
        self, message: Mapping[str, Any], own: tuple[Violation, ...]
    ) -> tuple[Violation, ...]:
        """Add the COMMON rule's violations that the call's own rule did not find."""
        if self.common is None:
            return own
        common = self.common.schema.violations(message)
        return own + tuple(v for v in common if v not in own) if common else own

    def blocked(self, violations: Iterable[Violation]) -> list[str]:
        """Return the kinds among violations that the plan's settings block."""
        kinds = {v["kind"] for v in violations}
        return [k for k in KINDS if k in kinds and k in self.block]

    def label(self, message: Mapping[str, Any]) -> tuple[str, str]:
        """Return the (type, name) a call goes by in the report: its event, or `identify`."""
        if message.get("type") == "identify":
            return ("identify", IDENTIFY)
        return ("track", str(message.get("event")))


def _pick(versions: Mapping[int, Rule], message: Mapping[str, Any]) -> Rule:
    """Return the version context.protocols.event_version asks for (default 1), else the latest."""
    context = message.get("context")
    protocols = context.get("protocols") if isinstance(context, Mapping) else None
    wanted = protocols.get("event_version", 1) if isinstance(protocols, Mapping) else 1
    if isinstance(wanted, int) and not isinstance(wanted, bool) and wanted in versions:
        return versions[wanted]
    return versions[max(versions)]


def _rules(document: Mapping[str, Any]) -> Any:
    if "rules" in document and "data" in document:
        raise _refuse("data", "give the rules as rules or as data.rules, not both")
    if "rules" in document:
        return document["rules"]
    data = document.get("data")
    if isinstance(data, Mapping) and "rules" in data:
        return data["rules"]
    raise _refuse(
        "rules",
        'send the rules as {"rules": [...]} or as Segment\'s Public API answers them, '
        '{"data": {"rules": [...]}}',
    )


def _rule(index: int, raw: Any) -> tuple[JSON, Rule]:
    """Check and compile one rule; return its normalised form and the rule."""
    at = f"rules.{index}"
    if not isinstance(raw, Mapping):
        raise _refuse(at, "each rule must be an object with type, key, version and jsonSchema")
    kind, key = raw.get("type"), raw.get("key")
    rule = f"rule {index}" + (f" ({kind} {_shown(key)})" if isinstance(key, str) else "")
    if kind not in RULE_TYPES:
        raise _refuse(
            f"{at}.type",
            f"{_shown(kind)} is not a rule type; use one of {', '.join(RULE_TYPES)}",
            rule,
        )
    if kind == "TRACK" and not (isinstance(key, str) and key):
        raise _refuse(f"{at}.key", "a TRACK rule needs its event name as a non-empty string", rule)
    if key is not None and not isinstance(key, str):
        raise _refuse(f"{at}.key", f"must be a string, got {_shown(key)}", rule)
    version = raw.get("version", 1)
    if isinstance(version, float) and version.is_integer():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _refuse(
            f"{at}.version", f"must be a whole number from 1, got {_shown(version)}", rule
        )
    if "jsonSchema" not in raw:
        raise _refuse(
            f"{at}.jsonSchema", "is required (the rule's JSON Schema; {} allows all)", rule
        )
    schema = {} if raw["jsonSchema"] is None else raw["jsonSchema"]
    problem = schema_problem(schema)
    if problem is not None:
        inner, text = problem
        raise _refuse(f"{at}.jsonSchema" + (f".{inner}" if inner else ""), text, rule)
    normal: JSON = {"type": kind, **({"key": key} if key is not None else {})}
    normal.update(version=version, jsonSchema=schema)
    return normal, Rule(kind, key, version, RuleSchema(schema))


def _block(settings: Any) -> frozenset[str]:
    if not isinstance(settings, Mapping):
        raise _refuse("settings", 'must be an object such as {"block": ["unplanned_event"]}')
    block = settings.get("block", [])
    if not isinstance(block, list):
        raise _refuse("settings.block", "must be a list of violation kinds")
    for i, kind in enumerate(block):
        if kind not in KINDS:
            raise _refuse(
                f"settings.block.{i}",
                f"{_shown(kind)} is not a violation kind; use any of {', '.join(KINDS)}",
            )
    return frozenset(block)


def parse(document: Any, default_name: str | None = None) -> Plan:
    """Check and compile a plan document, raising a 400 that names the rule and field."""
    if not isinstance(document, Mapping):
        raise _refuse("(plan)", "a tracking plan is a JSON object with rules")
    rules = _rules(document)
    if not isinstance(rules, list):
        raise _refuse("rules", "must be a list of rules")
    if len(rules) > MAX_RULES:
        raise _refuse("rules", f"holds {len(rules)} rules; the emulator takes at most {MAX_RULES}")
    name = document.get("name", default_name)
    if name is not None and not isinstance(name, str):
        raise _refuse("name", f"must be a string, got {_shown(name)}")
    block = _block(document["settings"]) if "settings" in document else frozenset()
    normal: list[JSON] = []
    track: dict[str, dict[int, Rule]] = {}
    singles: dict[str, Rule] = {}
    planned: list[tuple[str, str]] = []
    for index, raw in enumerate(rules):
        entry, rule = _rule(index, raw)
        normal.append(entry)
        if rule.type == "TRACK":
            assert rule.key is not None
            versions = track.setdefault(rule.key, {})
            if rule.version in versions:
                raise _refuse(
                    f"rules.{index}.version",
                    f"version {rule.version} of {_shown(rule.key)} is already rule "
                    f"{_index_of(normal, rule)}; give each version its own number",
                    f"rule {index} (TRACK {_shown(rule.key)})",
                )
            versions[rule.version] = rule
            if ("track", rule.key) not in planned:
                planned.append(("track", rule.key))
        elif rule.type in ("IDENTIFY", "COMMON"):
            known = singles.get(rule.type)
            if known is None or rule.version > known.version:
                singles[rule.type] = rule
            if rule.type == "IDENTIFY" and ("identify", IDENTIFY) not in planned:
                planned.append(("identify", IDENTIFY))
    out = {"name": name, "rules": normal, "settings": {"block": [k for k in KINDS if k in block]}}
    only = {key: next(iter(v.values())) for key, v in track.items() if len(v) == 1}
    return Plan(
        name,
        out,
        track,
        singles.get("IDENTIFY"),
        singles.get("COMMON"),
        block,
        tuple(planned),
        only,
    )


def _index_of(normal: Sequence[JSON], rule: Rule) -> int:
    return next(
        i
        for i, r in enumerate(normal)
        if r["type"] == "TRACK" and r.get("key") == rule.key and r["version"] == rule.version
    )


def tracker_message(kind: str, body: Mapping[str, Any]) -> JSON:
    """Return the Segment message a tracker identify or track call stands for.

    The tracker sends no context: a plan that requires some flags tracker calls.
    """
    out: JSON = {"type": kind}
    if body.get("id") is not None:
        out["userId"] = body["id"]
    if body.get("anonymous_id") is not None:
        out["anonymousId"] = body["anonymous_id"]
    if kind == "identify":
        out["traits"] = body.get("attributes", {})
    else:
        out["event"] = body.get("event")
        out["properties"] = body.get("properties", {})
    return out
