"""Segment messages -> Calls and per-message verdicts: size, schema, forwarding, mapping (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

import contract
from emulator import destination, engage, forwarding, limits
from emulator.calls import JSON, Call
from emulator.errors import EmulatorError
from emulator.plans import Checked
from emulator.plans import Plan as TrackingPlan

MAX_MESSAGE = 32 * 1024  # Segment: 32 KB per message
MAX_BATCH = 2_500  # Segment: messages per batch; past it every one is dropped
SHOWN_ERRORS = 10
ADDED_BYTES = 64  # room for what a surface adds to a message: its "type" from the path
BRIEF_FIELDS = ("type", "userId", "anonymousId", "event", "messageId")
BRIEF_CHARS = 200


def _size(message: Any) -> int:
    """Return the bytes of a message as compact UTF-8 JSON (Python's json writes it)."""
    return len(
        json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    )


def _oversized(message: Any) -> int | None:
    """Return the size of a message over MAX_MESSAGE, or None when it is within it.

    orjson writes the same compact UTF-8 JSON as _size() except that a float's exponent may be
    a byte shorter ("1e-7" for "1e-07"), and a float takes at least 4 bytes and a separator:
    so the exact size is at most 5/4 of orjson's, and only a message near the limit is
    measured exactly. What orjson cannot write (an integer past 64 bits, a lone surrogate)
    is measured exactly too.
    """
    try:
        if len(orjson.dumps(message)) * 5 // 4 <= MAX_MESSAGE:
            return None
    except (TypeError, orjson.JSONEncodeError):
        pass
    size = _size(message)
    return size if size > MAX_MESSAGE else None


def brief(message: Any) -> JSON:
    """Return the identifying fields of a message, for the journal and assertion messages."""
    if not isinstance(message, dict):
        shown = json.dumps(message)
        return {"(value)": shown if len(shown) <= BRIEF_CHARS else shown[:BRIEF_CHARS] + "..."}
    out: JSON = {}
    for name in BRIEF_FIELDS:
        value = message.get(name)
        if isinstance(value, str) and len(value) > BRIEF_CHARS:
            value = value[:BRIEF_CHARS] + "..."
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            value = f"({type(value).__name__})"
        if value is not None:
            out[name] = value
    return out


def drop(index: int, message: Any, reason: str, field_name: str | None = None) -> JSON:
    """Return the journal's record of one dropped message."""
    out: JSON = {"index": index, "reason": reason}
    if field_name is not None:
        out["field"] = field_name
    out["message"] = brief(message)
    return out


def to_call(
    message: Mapping[str, Any], now: str | None = None, sent_at: Any = None
) -> Call | destination.Skip:
    """Map a validated Segment message to a store call (mapping plus Engage), or a skip."""
    return _call(message, engage.personas(message), now, sent_at)


def _call(
    message: Mapping[str, Any], marker: JSON | None, now: str | None, sent_at: Any
) -> Call | destination.Skip:
    """Map a message whose Engage marker (context.personas, or None) was read once."""
    mapped = destination.fields(message)
    if isinstance(mapped, destination.Skip):
        return mapped
    method, user_id, anonymous_id, traits, event, properties = mapped
    return Call(
        method,
        user_id,
        anonymous_id,
        event,
        properties,
        traits,
        engage.toggles(message, marker),
        "engage" if marker is not None else "segment",
        forwarding.message_id(message),
        forwarding.timestamp(message, sent_at, now),
    )


@dataclass
class Plan:
    """What a list of Segment messages becomes: the entries to deliver and each verdict.

    `entries` are in message order, each a Call or (accepted, not forwarded) its message id,
    for Store.deliver; `indexes[i]` is the message index of `entries[i]`.
    """

    total: int
    entries: list[Call | str] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    skipped: list[JSON] = field(default_factory=list)
    errors: list[JSON] = field(default_factory=list)
    drops: list[JSON] = field(default_factory=list)
    oversized: bool = False
    # Against a tracking plan: the journal's record of each call that breaks it, and each
    # checked call with the position of its entry (None: blocked, with no message id).
    violations: list[JSON] = field(default_factory=list)
    checked: list[tuple[int | None, Checked]] = field(default_factory=list)

    def _invalid(self, index: int, message: Any, field_name: str, text: str) -> None:
        self.errors.append({"index": index, "field": field_name, "message": text})
        self.drops.append(drop(index, message, text, field_name))

    def refusal(self, strict: bool) -> EmulatorError | None:
        """Return the 400 listing every invalid message, or None when the request goes ahead.

        Strict refuses any invalid message; faithful, as Segment, only a message over 32 KB.
        """
        if not self.errors or not (strict or self.oversized):
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

    def settle(self, repeats: Sequence[int]) -> tuple[list[JSON], str]:
        """Return the journal's skips and summary, given the entries the store found repeated."""
        calls = [e for e in self.entries if isinstance(e, Call)]
        if not repeats:
            return self.skipped, self._summary(calls, self.skipped)
        kinds = {s["index"]: s["type"] for s in self.skipped}
        repeated = {self.indexes[p]: self.entries[p] for p in repeats}
        skipped = [s for s in self.skipped if s["index"] not in repeated]
        for index, entry in repeated.items():
            kind = entry.type if isinstance(entry, Call) else kinds[index]
            skipped.append({"index": index, "type": kind, "reason": forwarding.DUPLICATE})
        skipped.sort(key=lambda s: s["index"])
        gone = {id(e) for e in repeated.values()}
        applied = [c for c in calls if id(c) not in gone]
        return skipped, self._summary(applied, skipped)

    def verdicts(self, repeats: Sequence[int]) -> tuple[list[JSON], list[Checked]]:
        """Return the journal's violations and the checked calls, repeats left out."""
        if not repeats:
            return self.violations, [c for _, c in self.checked]
        again = set(repeats)
        indexes = {self.indexes[p] for p in again}
        return (
            [v for v in self.violations if v["index"] not in indexes],
            [c for pos, c in self.checked if pos is None or pos not in again],
        )

    def check(
        self, index: int, message: Mapping[str, Any], tracking: TrackingPlan, call: Call
    ) -> bool:
        """Check a forwarded message against the plan; return whether the plan blocks it."""
        found = tracking.check(message)
        blocked = tracking.blocked(found) if found else []
        if found:
            self.violations.append(
                {
                    "index": index,
                    "type": call.type,
                    "event": message.get("event") if call.type == "track" else None,
                    "blocked": bool(blocked),
                    "violations": list(found),
                }
            )
        position: int | None = len(self.entries)
        if blocked:
            reason = f"blocked by the tracking plan ({', '.join(blocked)})"
            self.skipped.append({"index": index, "type": call.type, "reason": reason})
            if call.message_id is None:
                position = None
            else:
                self.entries.append(call.message_id)
                self.indexes.append(index)
        else:
            call.violations = found
        self.checked.append((position, (tracking.label(message), found)))
        return bool(blocked)

    def _summary(self, calls: list[Call], skipped: list[JSON]) -> str:
        parts = [f"{c.type} {c.event!r}" if c.event else f"{c.type} {c.lead_id}" for c in calls[:3]]
        if len(calls) > 3:
            parts.append(f"+{len(calls) - 3} more")
        if skipped:
            parts.append(f"{len(skipped)} skipped")
        if self.drops:
            parts.append(f"{len(self.drops)} dropped")
        return ", ".join(parts) or "nothing applied"


def plan(
    messages: Sequence[Any],
    body_bytes: int | None = None,
    *,
    now: str | None = None,
    sent_at: Any = None,
    schema: str = "segment-message",
    tracking: TrackingPlan | None = None,
) -> Plan:
    """Check every message and map it, noting each skip and each invalid message by index.

    `now` is the receive time and `sent_at` the batch's sentAt, for Segment's timestamps.
    With a tracking plan, each forwarded message is checked as it was received (before the
    mapping); a message the plan's settings block is skipped, as rules 2-5 skip.
    A message is never larger than the body it came in (plus the few bytes of a `type` the
    single-message endpoints add), so a body well under the per-message limit is not measured
    message by message.
    """
    out = Plan(len(messages))
    measure = body_bytes is None or body_bytes + ADDED_BYTES > MAX_MESSAGE
    # One compiled check over the whole list; only when it fails is each message judged alone.
    valid = contract.accepts_all(schema)(messages)
    for index, message in enumerate(messages):
        if measure and (size := _oversized(message)) is not None:
            out.oversized = True
            out._invalid(
                index,
                message,
                "(message)",
                f"message is {size} bytes; Segment accepts at most {MAX_MESSAGE} bytes (32 KB) "
                "per message.",
            )
            continue
        if not valid:
            try:
                contract.validate(schema, message)
            except contract.ContractError as exc:
                field_name = "(message)" if exc.field == "(body)" else exc.field
                out._invalid(index, message, field_name, str(exc))
                continue
        message_id = forwarding.message_id(message)
        reason = forwarding.not_forwarded(message)
        if reason is not None:
            out.skipped.append({"index": index, "type": message["type"], "reason": reason})
            if message_id is not None:
                out.entries.append(message_id)
                out.indexes.append(index)
            continue
        marker = engage.personas(message)
        mapped = _call(message, marker, now, sent_at)
        assert isinstance(mapped, Call)  # the forwarding rules leave the destination no skip
        problem = _id_problem(mapped)
        if problem is not None:
            out._invalid(index, message, *problem)
            continue
        if tracking is not None and out.check(index, message, tracking, mapped):
            continue
        out.entries.append(mapped)
        out.indexes.append(index)
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


def batch_messages(body: Mapping[str, Any]) -> list[Any]:
    """Return a batch's messages with the batch-level context and integrations merged in."""
    shared = {k: body.get(k) for k in ("context", "integrations") if body.get(k)}
    if not shared:
        return list(body["batch"])
    out = []
    for m in body["batch"]:
        if isinstance(m, dict):
            m = dict(m)
            for key, value in shared.items():
                own = m.get(key)
                # Only an object, or none at all, merges; anything else (a [] or 0 included)
                # is left for the message schema to report.
                if (own is None or isinstance(own, dict)) and isinstance(value, dict):
                    m[key] = {**value, **(own or {})}
        out.append(m)
    return out
