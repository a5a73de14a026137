"""Segment messages -> Calls and per-message verdicts: size, schema, Engage, mapping (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import contract
from emulator import destination, engage, limits
from emulator.calls import JSON, Call
from emulator.errors import EmulatorError

MAX_MESSAGE = 32 * 1024  # Segment: 32 KB per message
SHOWN_ERRORS = 10
ADDED_BYTES = 64  # room for what a surface adds to a message: its "type" from the path


def _size(message: Any) -> int:
    return len(
        json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    )


def to_call(message: Mapping[str, Any]) -> Call | destination.Skip:
    """Map a validated Segment message to a store call (mapping plus Engage), or a skip."""
    return _call(message, engage.personas(message))


def _call(message: Mapping[str, Any], marker: JSON | None) -> Call | destination.Skip:
    """Map a message whose Engage marker (context.personas, or None) was read once."""
    mapped = destination.map_message(message)
    if isinstance(mapped, destination.Skip):
        return mapped
    source = "engage" if marker is not None else "segment"
    audiences = engage.toggles(message, marker)
    if mapped.method == "identify":
        return Call(
            "identify",
            mapped.user_id,
            mapped.anonymous_id,
            attributes=mapped.traits,
            audiences=audiences,
            source=source,
        )
    return Call(
        "track",
        mapped.user_id,
        mapped.anonymous_id,
        event=mapped.event,
        properties=mapped.properties,
        audiences=audiences,
        source=source,
    )


@dataclass
class Plan:
    """What a list of Segment messages becomes: the calls to apply and each message's verdict."""

    total: int
    calls: list[Call] = field(default_factory=list)
    skipped: list[JSON] = field(default_factory=list)
    errors: list[JSON] = field(default_factory=list)

    def refusal(self) -> EmulatorError | None:
        """Return the 400 that lists every invalid message, or None when all are valid."""
        if not self.errors:
            return None
        shown = self.errors[:SHOWN_ERRORS]
        detail = "; ".join(f"message {e['index']}: {e['message'].rstrip('.')}" for e in shown)
        more = len(self.errors) - len(shown)
        return EmulatorError(
            "invalid_batch",
            f"{len(self.errors)} of {self.total} messages are invalid, so nothing was applied: "
            f"{detail}{f' (and {more} more)' if more else ''}.",
            errors=self.errors,
        )

    def summary(self) -> str:
        """Return the journal's one-line summary of what was applied and skipped."""
        parts = [
            f"{c.type} {c.event!r}" if c.event else f"{c.type} {c.lead_id}" for c in self.calls[:3]
        ]
        if len(self.calls) > 3:
            parts.append(f"+{len(self.calls) - 3} more")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts) or "nothing applied"


def plan(messages: Sequence[Any], body_bytes: int | None = None) -> Plan:
    """Check every message and map it, noting each skip and each invalid message by index.

    A message is never larger than the body it came in (plus the few bytes of a `type` the
    single-message endpoints add), so a body well under the per-message limit is not measured
    message by message.
    """
    out = Plan(len(messages))
    measure = body_bytes is None or body_bytes + ADDED_BYTES > MAX_MESSAGE
    for index, message in enumerate(messages):
        if measure and (size := _size(message)) > MAX_MESSAGE:
            out.errors.append(
                {
                    "index": index,
                    "field": "(message)",
                    "message": f"message is {size} bytes; Segment accepts at most "
                    f"{MAX_MESSAGE} bytes (32 KB) per message.",
                }
            )
            continue
        try:
            contract.validate("segment-message", message)
        except contract.ContractError as exc:
            field_name = "(message)" if exc.field == "(body)" else exc.field
            out.errors.append({"index": index, "field": field_name, "message": str(exc)})
            continue
        marker = engage.personas(message)
        mapped = _call(message, marker)
        if isinstance(mapped, destination.Skip):
            out.skipped.append({"index": index, "type": mapped.type, "reason": mapped.reason})
            continue
        problem = _id_problem(mapped)
        if problem is not None:
            out.errors.append({"index": index, "field": problem[0], "message": problem[1]})
            continue
        out.calls.append(mapped)
        note = None if mapped.audiences else engage.ignored_toggle(message, marker)
        if note is not None:
            out.skipped.append({"index": index, "type": "identify", "reason": note})
    return out


def _id_problem(call: Call) -> tuple[str, str] | None:
    """Return (field, problem) for an id that is unusable once made a string, or None."""
    for field_name, value in (("userId", call.lead_id), ("anonymousId", call.anonymous_id)):
        if value is not None:
            problem = limits.id_problem(value, field_name)
            # Any anonymous id a URL never names is fine; a lead id must be named in paths.
            if problem is not None and (field_name == "userId" or len(value) > limits.MAX_ID):
                return field_name, problem
    return None


def _merges(message: Any) -> bool:
    """Return whether a batch-level context merges into message: an object, absent or null."""
    return isinstance(message, dict) and (
        message.get("context") is None or isinstance(message["context"], dict)
    )


def batch_messages(body: Mapping[str, Any]) -> list[Any]:
    """Return a batch's messages with the batch-level context merged into each."""
    shared = body.get("context") or {}
    return [
        {**m, "context": {**shared, **(m.get("context") or {})}}
        if shared and _merges(m)
        else m  # a context that is not an object is left for the message schema to report
        for m in body["batch"]
    ]
